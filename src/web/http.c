/* The HTTP server under the dashboard and the operational endpoints (web_int.h), on libmicrohttpd:
 * listening (IPv4 or IPv6, optionally TLS through MHD's GnuTLS), request bodies gathered up to
 * WEB_BODY_MAX (WEB_UPLOAD_MAX for the upload URLs), and every response sent with the same security
 * headers. What a URL means is the handler's business (ops.c, dashboard.c). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "web/web_int.h"

/* No script, style or connection but our own origin; no frames, no plugins, no inline code. */
#define CSP                                                                                        \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                \
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                      \
  "frame-ancestors 'none'; form-action 'self'"

struct web_server {
  struct MHD_Daemon *d;
  web_handler_fn handler;
  bool (*upload_ok)(web_req *r, void *user);
  void *user;
  void (*free_user)(void *user);
  bool tls;
  int port;
};

typedef struct conn_ctx {
  buf body;
  bool too_large;
  bool discard; /* an upload the client may not make: its bytes are dropped, not kept */
} conn_ctx;

int web__addr_parse(const char *listen, char *host, size_t cap, int *port, bool *loopback) {
  if (!listen || !*listen) return err_set(MIMIC_EINVAL, "no address to listen on");
  const char *colon = strrchr(listen, ':');
  if (!colon) return err_set(MIMIC_EINVAL, "%s: give host:port (e.g. 127.0.0.1:8377)", listen);
  size_t hn = (size_t)(colon - listen);
  const char *h = listen;
  if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
    h++;
    hn -= 2;
  }
  if (hn == 0 || hn >= cap) return err_set(MIMIC_EINVAL, "%s: no host before the port", listen);
  memcpy(host, h, hn);
  host[hn] = 0;
  int64_t p;
  if (str_to_i64(colon + 1, &p) || p < 0 || p > 65535)
    return err_set(MIMIC_EINVAL, "%s: the port must be a number from 0 to 65535", listen);
  *port = (int)p;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1)
    *loopback = (ntohl(a4.s_addr) >> 24) == 127;
  else if (inet_pton(AF_INET6, host, &a6) == 1)
    *loopback = IN6_IS_ADDR_LOOPBACK(&a6);
  else if (strcmp(host, "localhost") == 0)
    *loopback = true;
  else
    return err_set(MIMIC_EINVAL, "%s: the host must be an IP address or localhost", listen);
  return 0;
}

bool web__upload_url(const char *url) {
  static const char *const up[] = {"/api/personas/import", "/api/lore/upload"};
  for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
    size_t n = strlen(up[i]);
    if (url && strncmp(url, up[i], n) == 0 && (url[n] == 0 || url[n] == '?')) return true;
  }
  return false;
}

static bool addr_loopback(const struct sockaddr *sa) {
  if (!sa) return false;
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a)) return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
  }
  return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  web_server *srv = cls;
  conn_ctx *cc = *con_cls;
  if (!cc) {
    cc = xcalloc(1, sizeof *cc);
    /* Uploads (a character card, a lore file) may be larger than the JSON bodies of the API. */
    bool up = web__upload_url(url);
    if (up && srv->upload_ok) {
      /* Only a logged-in page with its CSRF token may send a large body; anyone else's is
       * dropped as it comes, and the handler then refuses the request as usual. */
      web_req g = {.srv = srv, .conn = conn, .method = method, .url = url, .body = ""};
      cc->discard = !srv->upload_ok(&g, srv->user);
    }
    buf_init(&cc->body, (up && !cc->discard ? WEB_UPLOAD_MAX : WEB_BODY_MAX) + 1);
    *con_cls = cc;
    return MHD_YES;
  }
  if (*upload_size) {
    if (!cc->discard && !cc->too_large && buf_append(&cc->body, upload, *upload_size)) {
      cc->too_large = true;
      err_clear();
    }
    *upload_size = 0;
    return MHD_YES;
  }
  web_req r = {.srv = srv, .conn = conn, .method = method, .url = url};
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  r.loopback = ci && addr_loopback(ci->client_addr);
  if (cc->too_large) {
    web__send_error(&r, 413, "the request body is too large");
    return MHD_YES;
  }
  if (buf_putc(&cc->body, 0)) {
    web__send_error(&r, 413, "the request body is too large");
    return MHD_YES;
  }
  r.body = cc->body.data;
  r.body_len = cc->body.len - 1;
  srv->handler(&r, srv->user);
  if (!r.answered) web__send_error(&r, 500, "no answer");
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  conn_ctx *cc = *con_cls;
  if (!cc) return;
  buf_free(&cc->body);
  mem_free(cc);
  *con_cls = NULL;
}

int web__http_start(const web_http_opts *o, web_server **out) {
  *out = NULL;
  char host[256];
  int port;
  bool loop;
  int rc = web__addr_parse(o->listen, host, sizeof host, &port, &loop);
  if (rc) return rc;
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
    return err_set(MIMIC_EINVAL, "%s: cannot resolve the host", o->listen);
  bool tls = o->tls_cert_pem && o->tls_key_pem;
  if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    freeaddrinfo(ai);
    return err_set(MIMIC_EUNSUPPORTED, "this libmicrohttpd was built without TLS support");
  }
  web_server *s = xcalloc(1, sizeof *s);
  s->handler = o->handler;
  s->upload_ok = o->upload_ok;
  s->user = o->user;
  s->free_user = o->free_user;
  s->tls = tls;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
  flags |= o->threads ? MHD_USE_THREAD_PER_CONNECTION : MHD_USE_POLL;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (tls) flags |= MHD_USE_TLS;
  if (tls)
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key_pem,
        MHD_OPTION_HTTPS_MEM_CERT, o->tls_cert_pem, MHD_OPTION_END);
  else
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!s->d) {
    mem_free(s);
    return err_set(MIMIC_EIO,
                   "cannot listen on %s (in use, not an address of this machine, or a bad TLS "
                   "certificate or key)",
                   o->listen);
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : port;
  *out = s;
  return 0;
}

void web_server_stop(web_server *s) {
  if (!s) return;
  MHD_stop_daemon(s->d);
  if (s->free_user) s->free_user(s->user);
  mem_free(s);
}

int web_server_port(const web_server *s) { return s->port; }
bool web__http_tls(const web_server *s) { return s->tls; }

void web__client(web_req *r, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ci ? ci->client_addr : NULL;
  socklen_t len =
      sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (!sa || getnameinfo(sa, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
    str_lcpy(out, "?", cap);
}

const char *web__header(web_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}
const char *web__cookie(web_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}
const char *web__query(web_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void web__send_response(web_req *r, int status, struct MHD_Response *resp, bool cacheable) {
  MHD_add_response_header(resp, "Content-Security-Policy", CSP);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
  MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
  MHD_add_response_header(resp, "Cache-Control", cacheable ? "private, max-age=300" : "no-store");
  if (r->srv->tls) MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
  MHD_queue_response(r->conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  r->answered = true;
}

void web__send(web_req *r, int status, const char *ctype, const void *data, size_t n,
               bool cacheable, const char *const *extra) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(n, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
  if (!resp) return;
  if (ctype) MHD_add_response_header(resp, "Content-Type", ctype);
  for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
    MHD_add_response_header(resp, extra[i], extra[i + 1]);
  web__send_response(r, status, resp, cacheable);
}

void web__send_json(web_req *r, int status, json_t *v) {
  char *t = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (!t) {
    web__send(r, 500, "application/json", "{\"error\":\"out of memory\"}", 25, false, NULL);
    return;
  }
  web__send(r, status, "application/json; charset=utf-8", t, strlen(t), false, NULL);
  free(t); /* jansson's allocator */
}

void web__send_error(web_req *r, int status, const char *message) {
  web__send_json(r, status, json_pack("{s:s}", "error", message ? message : ""));
}

void web__redirect(web_req *r, const char *location) {
  const char *h[] = {"Location", location, NULL};
  web__send(r, 303, "text/plain; charset=utf-8", "", 0, false, h);
}
