/* Fuzz target for the first run's answers from Discord: the input is a JSON document parsed as
 * GET /applications/@me and as GET /users/@me would be (api_application_parse, api_self_parse),
 * then used the way `mimic setup` uses it (the intent check, the invite URL). Hostile shapes
 * (wrong types, huge numbers, missing ids, long names) must give an error or a bounded result,
 * never a crash. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "discord/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  json_t *j = jv_parse((const char *)data, size, "fuzz");
  if (!j) {
    err_clear();
    return 0;
  }
  api_application app;
  if (api_application_parse(j, &app) == 0) {
    if (!app.id || memchr(app.name, 0, sizeof app.name) == NULL) __builtin_trap();
    (void)api_application_message_content(&app);
    char url[256];
    if (api_invite_url(app.id, API_PERM_VIEW_CHANNEL | API_PERM_SEND_MESSAGES, true, url,
                       sizeof url) != 0)
      __builtin_trap(); /* an id always fits */
  }
  api_self me;
  if (api_self_parse(j, &me) == 0 && (!me.id || memchr(me.username, 0, sizeof me.username) == NULL))
    __builtin_trap();
  err_clear();
  json_decref(j);
  return 0;
}
