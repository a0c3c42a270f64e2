/* Fuzz target for the DiscordChatExporter importer (streamed scanner + per-message parsing): any
 * bytes must give either a clean import or an error, never a crash, a leak or a half-committed
 * file. Each input gets a fresh in-memory store. */
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int quiet;
  if (!quiet) {
    log_set_level(LOG_ERROR);
    quiet = 1;
  }
  store *s = NULL;
  if (store_open(":memory:", &s)) return 0;
  collect_import_stats st;
  int rc = collect_import_dce_mem(s, (const char *)data, size, "fuzz.json", NULL, &st);
  int64_t n = -1;
  if (store_msg_count(s, 0, &n) == 0 && rc != 0 && n != 0) abort(); /* an error committed rows */
  store_close(s);
  return 0;
}
