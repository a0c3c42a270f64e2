/* Fuzz target for the fetcher's page storing (collect_fetch_store_page): a page of Discord message
 * objects as the REST API (or a hostile server) sends it, reactors included. Any bytes must give
 * either a committed page with its cursor or an error with nothing committed — never a crash, a
 * leak, or rows without a cursor. Each input gets a fresh in-memory store; the first byte picks the
 * direction and page size. */
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
  if (size < 1) return 0;
  bool backward = data[0] & 1;
  int limit = 1 + (data[0] >> 1) % 100;
  store *s = NULL;
  if (store_open(":memory:", &s)) return 0;
  collect_page_result r;
  int rc = collect_fetch_store_page(s, 77, (const char *)data + 1, size - 1, limit, backward, &r);
  int64_t n = -1;
  store_fetch_state fs;
  int have = store_fetch_state_get(s, 77, &fs);
  if (store_msg_count(s, 0, &n) == 0) {
    if (rc != 0 && (n != 0 || have == 0)) abort(); /* an error committed something */
    if (rc == 0 && have != 0) abort();             /* a stored page without its cursor */
    if (rc == 0 && r.messages > 0 && fs.oldest_id != r.oldest_id) abort();
  }
  store_close(s);
  return 0;
}
