/* Fuzz target for the web layer's own parsers of outside text: the sample reader the dashboard
 * runs over the bot's /metrics page (web__prom_value), the listen-address parser, and the config
 * file editor's line reader (through web__conf_set on a private file, with the fuzzed text as the
 * old file). The first byte picks which. Invariants: nothing crashes, reads past the input or
 * leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "web/web_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *text = xalloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = 0;
  switch (data[0] % 3) {
  case 0: {
    char label[64];
    (void)web__prom_value(text, "mimic_replies_total", NULL, label, sizeof label);
    (void)web__prom_value(text, "mimic_replies_total", "sent", NULL, 0);
    (void)web__prom_value(text, "mimic_model_info", NULL, label, sizeof label);
    break;
  }
  case 1: {
    char host[64];
    int port;
    bool loop;
    if (web__addr_parse(text, host, sizeof host, &port, &loop)) err_clear();
    break;
  }
  default: {
    char path[64];
    snprintf(path, sizeof path, "/tmp/mimic-fuzz-conf-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    if (f) {
      fwrite(text, 1, strlen(text), f);
      fclose(f);
      if (web__conf_set(path, "log.level", "debug")) err_clear();
      unlink(path);
    }
  }
  }
  mem_free(text);
  return 0;
}
