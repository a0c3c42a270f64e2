/* CSRF protection (web_int.h). Every state-changing request (anything but GET and HEAD) must carry
 * the session's token in the X-CSRF-Token header. The pages read the token from /api/session,
 * which only a same-origin script can read; a form or image on another site can neither set the
 * header nor send the SameSite=Strict cookie. An Origin header, when the browser sends one, must
 * name this host too. */
#include <string.h>

#include "web/web_int.h"

/* Whether origin ("https://host:port") names the Host header's host:port. */
static bool same_origin(const char *origin, const char *host) {
  if (!host) return false;
  const char *p = strstr(origin, "://");
  return p && strcmp(p + 3, host) == 0;
}

bool web__csrf_ok(web_req *r, const char *csrf) {
  const char *tok = web__header(r, "X-CSRF-Token");
  const char *origin = web__header(r, "Origin");
  if (origin && strcmp(origin, "null") != 0 && !same_origin(origin, web__header(r, "Host"))) {
    web__send_error(r, 403, "cross-origin request refused");
    return false;
  }
  if (!tok || !csrf || !*csrf || !web__secure_eq(tok, csrf)) {
    web__send_error(r, 403, "missing or wrong CSRF token: reload the page");
    return false;
  }
  return true;
}
