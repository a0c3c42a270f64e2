/* Fuzz target for the CDN allow-list: any URL text (as a message's attachment or embed carries
 * it) must be accepted or refused with a message, and an accepted one must name an allowed host
 * over an allowed scheme. The first line of the input is the URL, the rest the allow-list. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "discord/cdn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = mem_strndup((const char *)data, size);
  if (!s) return 0;
  char *nl = strchr(s, '\n');
  const char *allowed = "";
  if (nl) {
    *nl = 0;
    allowed = nl + 1;
  }
  int rc = discord_cdn_url_check(s, allowed);
  if (rc == 0) {
    /* accepted: https, or http to the listed localhost only */
    bool https = strncasecmp(s, "https:", 6) == 0;
    bool http = strncasecmp(s, "http:", 5) == 0 && strcasestr(allowed, "localhost") != NULL;
    if (!https && !http) __builtin_trap();
  } else if (!err_msg()[0]) {
    __builtin_trap();
  }
  mem_free(s);
  return 0;
}
