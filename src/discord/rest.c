/* The Discord REST client (see rest.h): libcurl multi-socket driven by libuv (uv_poll per socket,
 * one uv_timer for curl's timeouts), a FIFO of queued requests that the limiter releases, retries,
 * and error bodies turned into errors. Not a general HTTP client. */
#include "base/metrics.h"
#include "discord/rest.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

typedef struct rest_req rest_req;
struct rest_req {
  rest_req *prev, *next; /* in r->pending or r->active */
  rest *r;
  char method[8];
  char *path; /* relative, with query */
  char *body; /* serialised JSON, or NULL */
  size_t body_len;
  rl_route route;
  rl_ticket ticket;
  rest_cb cb;
  void *user;
  int attempts, n429;
  uint64_t not_before; /* backoff: not before this monotonic ms */
  CURL *easy;
  buf resp;
  bool too_big;
  rl_headers rlh;
  char errbuf[CURL_ERROR_SIZE];
  rest_file *files; /* multipart uploads (owned copies), sent with the body as payload_json */
  size_t n_files;
  curl_mime *mime; /* this attempt's form, rebuilt for a retry */
};

typedef struct rest_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  rest *r;
  struct rest_sock *prev, *next;
} rest_sock;

typedef struct req_list {
  rest_req *head, *tail;
  size_t n;
} req_list;

struct rest {
  uv_loop_t *loop;
  bool own_loop;
  CURLM *multi;
  uv_timer_t curl_timer;
  uv_timer_t pump_timer;
  rest_opts o;
  char *base;
  char *ua;
  struct curl_slist *hdr_json, *hdr_plain;
  rl *rl;
  req_list pending, active;
  rest_sock *socks;
  bool closing;
  int open_handles;
  bool in_pump, pump_again;
  prng rng; /* retry jitter */
};

/* ---- options and URL checks ---- */

void rest_opts_default(rest_opts *o) {
  memset(o, 0, sizeof *o);
  o->base_url = "https://discord.com/api/v10";
  o->ua_url = "https://github.com/mimic-bot/mimic";
  o->timeout_ms = 15000;
  o->connect_timeout_ms = 5000;
  o->body_max = REST_BODY_MAX_DEFAULT;
  o->max_retries = 3;
  o->max_429 = 10;
  o->backoff_ms = 500;
  o->queue_max = 10000;
  rl_opts_default(&o->rl);
}

int rest_opts_from_cfg(const cfg *c, const char *token, rest_opts *o) {
  rest_opts_default(o);
  o->base_url = cfg_str(c, CFG_DISCORD_API);
  const char *ua = cfg_str(c, CFG_DISCORD_USER_AGENT_URL);
  if (ua && *ua) o->ua_url = ua;
  o->token = token;
  int rc = rest_base_url_check(o->base_url);
  if (rc) return err_prefix(rc, "discord.api (or MIMIC_DISCORD_API)");
  return 0;
}

static bool is_loopback_v4(const char *h, size_t n) {
  int parts = 0, val = -1, first = -1;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || h[i] == '.') {
      if (val < 0 || val > 255) return false;
      if (parts == 0) first = val;
      parts++;
      val = -1;
    } else if (isdigit((unsigned char)h[i])) {
      val = (val < 0 ? 0 : val * 10) + (h[i] - '0');
      if (val > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 4 && first == 127;
}

int rest_base_url_check(const char *url) {
  if (!url || !*url) return err_set(MIMIC_EINVAL, "the REST base URL is empty");
  if (strlen(url) > 512) return err_set(MIMIC_EINVAL, "the REST base URL is longer than 512 bytes");
  if (strncasecmp(url, "https://", 8) == 0) {
    if (!url[8] || url[8] == '/') return err_set(MIMIC_EINVAL, "'%s' has no host", url);
    return 0;
  }
  if (strncasecmp(url, "http://", 7) != 0)
    return err_set(MIMIC_EINVAL,
                   "'%.200s' must start with https:// (or http:// for a loopback address)", url);
  const char *a = url + 7;
  size_t n = strcspn(a, "/?#");
  if (memchr(a, '@', n))
    return err_set(MIMIC_EINVAL, "'%.200s': credentials in the URL are not accepted", url);
  const char *host = a;
  size_t hn;
  if (n > 0 && a[0] == '[') {
    const char *close = memchr(a, ']', n);
    if (!close) return err_set(MIMIC_EINVAL, "'%.200s': unterminated IPv6 address", url);
    host = a + 1;
    hn = (size_t)(close - host);
  } else {
    hn = strcspn(a, ":/?#");
    if (hn > n) hn = n;
  }
  bool loop = (hn == 3 && strncmp(host, "::1", 3) == 0) ||
              (hn == 9 && strncasecmp(host, "localhost", 9) == 0) || is_loopback_v4(host, hn);
  if (!loop)
    return err_set(MIMIC_EINVAL,
                   "'%.200s' is plain http to a host that is not loopback: the bot token would "
                   "cross the network unencrypted. Use https://, or http:// only with 127.0.0.1, "
                   "[::1] or localhost (a local Discord double)",
                   url);
  return 0;
}

/* ---- lists ---- */

static void list_push(req_list *l, rest_req *q) {
  q->next = NULL;
  q->prev = l->tail;
  if (l->tail)
    l->tail->next = q;
  else
    l->head = q;
  l->tail = q;
  l->n++;
}

static void list_push_front(req_list *l, rest_req *q) {
  q->prev = NULL;
  q->next = l->head;
  if (l->head)
    l->head->prev = q;
  else
    l->tail = q;
  l->head = q;
  l->n++;
}

static void list_remove(req_list *l, rest_req *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    l->head = q->next;
  if (q->next)
    q->next->prev = q->prev;
  else
    l->tail = q->prev;
  q->prev = q->next = NULL;
  l->n--;
}

static void req_free(rest_req *q) {
  if (!q) return;
  mem_free(q->path);
  mem_free(q->body);
  buf_free(&q->resp);
  for (size_t i = 0; i < q->n_files; i++) {
    mem_free((void *)q->files[i].name);
    mem_free((void *)q->files[i].content_type);
    mem_free((void *)q->files[i].data);
  }
  mem_free(q->files);
  curl_mime_free(q->mime);
  mem_free(q);
}

/* ---- curl plumbing ---- */

static void check_done(rest *r);
static void schedule_pump(rest *r, uint64_t ms);

static void handle_closed(uv_handle_t *h) {
  rest *r = h->data;
  if (h->type == UV_POLL) mem_free(h); /* the rest_sock (poll is its first member) */
  if (--r->open_handles == 0 && r->closing && !r->own_loop) mem_free(r);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  rest_sock *s = (rest_sock *)h;
  rest *r = s->r;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(r->multi, s->fd, flags, &running);
  check_done(r);
}

static void sock_close(rest *r, rest_sock *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    r->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, handle_closed);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)e;
  rest *r = userp;
  rest_sock *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(r->multi, fd, NULL);
      sock_close(r, s);
    }
    return 0;
  }
  if (!s) {
    s = xcalloc(1, sizeof *s);
    s->fd = fd;
    s->r = r;
    if (uv_poll_init_socket(r->loop, &s->poll, fd) != 0) {
      mem_free(s);
      return -1;
    }
    s->poll.data = r;
    r->open_handles++;
    s->next = r->socks;
    if (r->socks) r->socks->prev = s;
    r->socks = s;
    curl_multi_assign(r->multi, fd, s);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
  uv_poll_start(&s->poll, ev, poll_cb);
  return 0;
}

static void curl_timeout_cb(uv_timer_t *t) {
  rest *r = t->data;
  int running;
  curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(r);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  rest *r = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&r->curl_timer);
  else
    uv_timer_start(&r->curl_timer, curl_timeout_cb, (uint64_t)timeout_ms, 0);
  return 0;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *user) {
  rest_req *q = user;
  size_t n = size * nmemb;
  if (buf_append(&q->resp, p, n) != 0) {
    q->too_big = true;
    return 0; /* aborts the transfer */
  }
  return n;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *user) {
  rest_req *q = user;
  size_t n = size * nmemb;
  if (n >= 5 && strncasecmp(p, "HTTP/", 5) == 0) rl_headers_init(&q->rlh); /* a new response */
  rl_headers_parse_line(&q->rlh, p, n);
  return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int rest_new(uv_loop_t *loop, const rest_opts *opts, rest **out) {
  rest_opts d;
  if (!opts) {
    rest_opts_default(&d);
    opts = &d;
  }
  *out = NULL;
  int rc = rest_base_url_check(opts->base_url);
  if (rc) return rc;
  pthread_once(&curl_once, curl_init_once);
  rest *r = xcalloc(1, sizeof *r);
  r->o = *opts;
  r->o.base_url = r->o.token = r->o.ua_url = NULL; /* copies below; never keep caller pointers */
  if (!r->o.body_max) r->o.body_max = REST_BODY_MAX_DEFAULT;
  if (!r->o.queue_max) r->o.queue_max = 10000;
  if (loop) {
    r->loop = loop;
  } else {
    r->loop = xalloc(sizeof *r->loop);
    r->own_loop = true;
    if (uv_loop_init(r->loop) != 0) {
      mem_free(r->loop);
      mem_free(r);
      return err_set(MIMIC_ENET, "could not start an event loop for REST");
    }
  }
  size_t bl = strlen(opts->base_url);
  while (bl && opts->base_url[bl - 1] == '/') bl--;
  r->base = mem_strndup(opts->base_url, bl);
  buf ua;
  buf_init(&ua, 1024);
  if (buf_printf(&ua, "DiscordBot (%s, %s) mimic",
                 opts->ua_url && *opts->ua_url ? opts->ua_url
                                               : "https://github.com/mimic-bot/mimic",
                 MIMIC_VERSION) != 0) {
    buf_free(&ua);
    buf_init(&ua, 0);
    if (buf_puts(&ua, "DiscordBot (https://github.com/mimic-bot/mimic, " MIMIC_VERSION ")") != 0)
      abort();
  }
  r->ua = buf_steal(&ua);
  if (opts->token && *opts->token) {
    buf auth;
    buf_init(&auth, 0);
    if (buf_printf(&auth, "Authorization: Bot %s", opts->token) != 0) abort();
    r->hdr_json = curl_slist_append(r->hdr_json, auth.data);
    r->hdr_plain = curl_slist_append(r->hdr_plain, auth.data);
    memset(auth.data, 0, auth.len); /* curl copied it */
    buf_free(&auth);
  }
  r->hdr_json = curl_slist_append(r->hdr_json, "Content-Type: application/json");
  r->hdr_json = curl_slist_append(r->hdr_json, "Expect:");
  r->hdr_plain = curl_slist_append(r->hdr_plain, "Expect:");
  r->rl = rl_new(&opts->rl);
  prng_seed(&r->rng, clock_mono_ns());
  r->multi = curl_multi_init();
  if (!r->base || !r->hdr_json || !r->hdr_plain || !r->multi) {
    rc = err_set(MIMIC_ENET, "could not set up the HTTP client (libcurl)");
    goto fail;
  }
  curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
  curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
  uv_timer_init(r->loop, &r->curl_timer);
  uv_timer_init(r->loop, &r->pump_timer);
  r->curl_timer.data = r->pump_timer.data = r;
  r->open_handles = 2;
  *out = r;
  return 0;
fail:
  if (r->multi) curl_multi_cleanup(r->multi);
  curl_slist_free_all(r->hdr_json);
  curl_slist_free_all(r->hdr_plain);
  rl_destroy(r->rl);
  mem_free(r->base);
  mem_free(r->ua);
  if (r->own_loop) {
    uv_loop_close(r->loop);
    mem_free(r->loop);
  }
  mem_free(r);
  return rc;
}

uv_loop_t *rest_loop(rest *r) { return r->loop; }
size_t rest_pending(const rest *r) { return r->pending.n + r->active.n; }
void rest_stats(rest *r, rl_stats *out) { rl_stats_get(r->rl, clock_mono_ms(), out); }

/* ---- finishing a request ---- */

/* Finds the first message in a 50035 "errors" tree: {"content": {"_errors": [{"message": ...}]}}.
 */
static bool first_form_error(const json_t *e, char *path, size_t cap, size_t plen,
                             const char **msg) {
  if (!json_is_object(e)) return false;
  const json_t *list = json_object_get(e, "_errors");
  if (json_is_array(list) && json_array_size(list) > 0) {
    const char *m = jv_str(json_array_get(list, 0), "message", NULL);
    if (m) {
      *msg = m;
      return true;
    }
  }
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)e, k, v) {
    if (strcmp(k, "_errors") == 0) continue;
    if (plen + strlen(k) + 2 < cap) {
      int w = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", k);
      if (first_form_error(v, path, cap, plen + (size_t)w, msg)) return true;
      path[plen] = 0;
    }
  }
  return false;
}

static int status_err(int status) {
  switch (status) {
  case 400:
  case 405:
  case 413:
  case 422: return MIMIC_EINVAL;
  case 401:
  case 403: return MIMIC_EAUTH;
  case 404: return MIMIC_ENOTFOUND;
  case 429: return MIMIC_EBUSY;
  default: return MIMIC_ENET;
  }
}

static void deliver(rest_req *q, int err, int status, int code, const char *message, json_t *json) {
  rest_result res = {err, status, code, err ? message : NULL, json, q->attempts};
  if (err) LOG_D("rest", "%s failed: %s", q->route.display, message);
  q->cb(&res, q->user);
}

static uint64_t backoff(rest *r, int attempt) {
  uint64_t d = r->o.backoff_ms;
  for (int i = 1; i < attempt && d < 60000; i++) d *= 2;
  return d + (d ? prng_below(&r->rng, d / 4 + 1) : 0); /* up to 25% jitter */
}

static void requeue(rest *r, rest_req *q, uint64_t delay_ms) {
  q->not_before = clock_mono_ms() + delay_ms;
  buf_reset(&q->resp);
  q->too_big = false;
  list_push_front(&r->pending, q);
}

static bool idempotent(const char *m) {
  return strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

/* A transfer ended without an HTTP status: network failure, timeout or the body cap. */
static void finish(rest *r, rest_req *q, CURLcode cres) {
  char msg[600];
  rl_release(r->rl, &q->ticket, clock_mono_ms());
  if (q->too_big) {
    snprintf(msg, sizeof msg, "REST %s: response body over the %zu-byte cap", q->route.display,
             r->o.body_max);
    deliver(q, MIMIC_ERANGE, 0, 0, msg, NULL);
    req_free(q);
    return;
  }
  bool nothing_sent = cres == CURLE_COULDNT_CONNECT || cres == CURLE_COULDNT_RESOLVE_HOST;
  if ((nothing_sent || idempotent(q->method)) && q->attempts <= r->o.max_retries) {
    uint64_t d = backoff(r, q->attempts);
    LOG_D("rest", "%s: %s; retrying in %llu ms", q->route.display, curl_easy_strerror(cres),
          (unsigned long long)d);
    requeue(r, q, d);
    return;
  }
  /* One cause, once: curl's detailed text already ends with the generic one. Then how hard we
   * tried, so the reader knows the failure is not a blip. */
  int w = snprintf(msg, sizeof msg, "REST %s: %s", q->route.display,
                   q->errbuf[0] ? q->errbuf : curl_easy_strerror(cres));
  if (q->attempts > 1 && w > 0 && (size_t)w < sizeof msg) {
    size_t at = (size_t)w;
    at += (size_t)snprintf(msg + at, sizeof msg - at, " (%d attempts, retried after", q->attempts);
    uint64_t d = r->o.backoff_ms;
    for (int k = 1; k < q->attempts && at < sizeof msg; k++, d = d < 60000 ? d * 2 : d) {
      const char *sep = k == 1 ? " " : k + 1 == q->attempts ? " and " : ", ";
      at +=
          d < 1000
              ? (size_t)snprintf(msg + at, sizeof msg - at, "%s%llu ms", sep, (unsigned long long)d)
              : (size_t)snprintf(msg + at, sizeof msg - at, "%s%.1f s", sep, (double)d / 1000.0);
    }
    if (at < sizeof msg) snprintf(msg + at, sizeof msg - at, ")");
  }
  deliver(q, cres == CURLE_OPERATION_TIMEDOUT ? MIMIC_ETIMEOUT : MIMIC_ENET, 0, 0, msg, NULL);
  req_free(q);
}

static void finish_status(rest *r, rest_req *q, long status) {
  uint64_t now = clock_mono_ms();
  char msg[600];
  json_t *json = NULL;
  bool parse_failed = false;
  char perr[300] = "";
  if (q->resp.len > 0) {
    json = jv_parse(q->resp.data, q->resp.len, "response");
    if (!json) {
      parse_failed = true;
      str_lcpy(perr, err_msg(), sizeof perr);
    }
  }
  if (status == 429) {
    double ra = jv_num(json, "retry_after", -1);
    if (ra >= 0 && ra < 1e7) {
      uint64_t ms = (uint64_t)ceil(ra * 1000.0);
      if (!q->rlh.has_retry_after || ms > q->rlh.retry_after_ms) q->rlh.retry_after_ms = ms;
      q->rlh.has_retry_after = true;
    }
    if (jv_bool(json, "global", false)) q->rlh.global = true;
  }
  rl_complete(r->rl, &q->ticket, &q->route, (int)status, &q->rlh, now);
  metrics_count("mimic_rest_requests_total", "REST responses, by route.", "route", q->route.tmpl,
                1);
  if (status == 429)
    metrics_count("mimic_rest_429_total", "REST 429 answers, by route.", "route", q->route.tmpl, 1);

  if (status >= 200 && status < 300) {
    if (parse_failed) {
      snprintf(msg, sizeof msg, "REST %s: HTTP %ld with malformed JSON: %s", q->route.display,
               status, perr);
      deliver(q, MIMIC_EPROTO, (int)status, 0, msg, NULL);
    } else {
      deliver(q, 0, (int)status, 0, NULL, json);
    }
    goto out;
  }
  if (status == 429) {
    const char *scope = q->rlh.scope == RL_SCOPE_SHARED                    ? "shared"
                        : q->rlh.scope == RL_SCOPE_GLOBAL || q->rlh.global ? "global"
                                                                           : "user";
    if (q->rlh.scope != RL_SCOPE_SHARED)
      LOG_W("rest", "%s: rate limited (429, %s scope), retry after %llu ms", q->route.display,
            scope, (unsigned long long)q->rlh.retry_after_ms);
    else
      LOG_D("rest", "%s: shared-scope 429, retry after %llu ms", q->route.display,
            (unsigned long long)q->rlh.retry_after_ms);
    if (++q->n429 <= r->o.max_429) {
      json_decref(json);
      requeue(r, q, 0); /* the limiter holds it until retry_after has passed */
      return;
    }
    snprintf(msg, sizeof msg, "REST %s: still rate limited after %d retries", q->route.display,
             r->o.max_429);
    deliver(q, MIMIC_EBUSY, 429, (int)jv_int(json, "code", 0), msg, json);
    goto out;
  }
  if (status >= 500 && q->attempts <= r->o.max_retries) {
    uint64_t d = backoff(r, q->attempts);
    LOG_D("rest", "%s: HTTP %ld; retrying in %llu ms", q->route.display, status,
          (unsigned long long)d);
    json_decref(json);
    requeue(r, q, d);
    return;
  }
  {
    int code = (int)jv_int(json, "code", 0);
    const char *dm = jv_str(json, "message", NULL);
    char form[200] = "";
    const char *fmsg = NULL;
    char fpath[120] = "";
    if (first_form_error(json_object_get(json, "errors"), fpath, sizeof fpath, 0, &fmsg))
      snprintf(form, sizeof form, ": %s%s%.120s", fpath, fpath[0] ? ": " : "", fmsg);
    if (dm)
      snprintf(msg, sizeof msg, "REST %s: HTTP %ld: %.200s (Discord code %d)%s", q->route.display,
               status, dm, code, form);
    else
      snprintf(msg, sizeof msg, "REST %s: HTTP %ld%s", q->route.display, status,
               status >= 500 ? " (Discord server error; retried)" : "");
    if (status == 401)
      str_lcpy(msg + strlen(msg), " - the bot token was rejected; check DISCORD_TOKEN",
               sizeof msg - strlen(msg));
    deliver(q, status_err((int)status), (int)status, code, msg, json);
  }
out:
  json_decref(json);
  req_free(q);
}

static void check_done(rest *r) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *e = m->easy_handle;
    CURLcode cres = m->data.result;
    rest_req *q = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(r->multi, e);
    curl_easy_cleanup(e);
    if (!q) continue;
    q->easy = NULL;
    list_remove(&r->active, q);
    if (cres == CURLE_OK && status > 0)
      finish_status(r, q, status);
    else
      finish(r, q, cres == CURLE_OK ? CURLE_RECV_ERROR : cres);
    if (r->closing) return;
  }
  schedule_pump(r, 0);
}

/* ---- sending ---- */

static int start(rest *r, rest_req *q) {
  char url[REST_URL_MAX + 600];
  snprintf(url, sizeof url, "%s%s", r->base, q->path);
  CURL *e = curl_easy_init();
  if (!e) return err_set(MIMIC_ENOMEM, "REST %s: could not create a transfer", q->route.display);
  q->errbuf[0] = 0;
  buf_reset(&q->resp); /* initialised (with its cap) by rest_request; emptied for a retry */
  q->too_big = false;
  rl_headers_init(&q->rlh);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)q);
  curl_easy_setopt(e, CURLOPT_USERAGENT, r->ua);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->body ? r->hdr_json : r->hdr_plain);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->o.timeout_ms > 0 ? r->o.timeout_ms : 15000L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   r->o.connect_timeout_ms > 0 ? r->o.connect_timeout_ms : 5000L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  if (q->n_files) {
    /* Discord's upload form: the JSON body as payload_json, each file as files[i]. */
    curl_mime_free(q->mime);
    q->mime = curl_mime_init(e);
    curl_mimepart *part = curl_mime_addpart(q->mime);
    curl_mime_name(part, "payload_json");
    curl_mime_data(part, q->body ? q->body : "{}", CURL_ZERO_TERMINATED);
    curl_mime_type(part, "application/json");
    for (size_t i = 0; i < q->n_files; i++) {
      char field[24];
      snprintf(field, sizeof field, "files[%zu]", i);
      part = curl_mime_addpart(q->mime);
      curl_mime_name(part, field);
      curl_mime_filename(part, q->files[i].name);
      curl_mime_type(part, q->files[i].content_type);
      curl_mime_data(part, q->files[i].data, q->files[i].size);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdr_plain);
    if (strcmp(q->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(e, CURLOPT_MIMEPOST, q->mime);
  } else if (strcmp(q->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (strcmp(q->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    if (q->body || strcmp(q->method, "DELETE") != 0) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)q->body_len);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
    }
  }
  q->easy = e;
  q->attempts++;
  list_push(&r->active, q);
  if (curl_multi_add_handle(r->multi, e) != CURLM_OK) {
    list_remove(&r->active, q);
    q->easy = NULL;
    curl_easy_cleanup(e);
    return err_set(MIMIC_ENET, "REST %s: could not start the transfer", q->route.display);
  }
  LOG_T("rest", "-> %s (attempt %d)", q->route.display, q->attempts);
  return 0;
}

static void pump(rest *r) {
  if (r->closing) return;
  if (r->in_pump) {
    r->pump_again = true;
    return;
  }
  r->in_pump = true;
  uint64_t min_wait;
  do {
    r->pump_again = false;
    min_wait = UINT64_MAX;
    uint64_t now = clock_mono_ms();
    for (rest_req *q = r->pending.head, *nx; q && !r->closing; q = nx) {
      nx = q->next;
      if (q->not_before > now) {
        if (q->not_before - now < min_wait) min_wait = q->not_before - now;
        continue;
      }
      int64_t w = rl_acquire(r->rl, &q->route, now, &q->ticket);
      if (w == 0) {
        list_remove(&r->pending, q);
        if (start(r, q) != 0) {
          rl_release(r->rl, &q->ticket, clock_mono_ms());
          char msg[600];
          str_lcpy(msg, err_msg(), sizeof msg);
          deliver(q, MIMIC_ENET, 0, 0, msg, NULL);
          req_free(q);
          r->pump_again = true;
          break; /* the callback may have changed the list */
        }
      } else if (w != RL_WAIT_RESPONSE && (uint64_t)w < min_wait) {
        min_wait = (uint64_t)w;
      }
    }
  } while (r->pump_again && !r->closing);
  r->in_pump = false;
  if (r->closing) return;
  if (min_wait != UINT64_MAX)
    schedule_pump(r, min_wait);
  else
    uv_timer_stop(&r->pump_timer);
}

static void pump_cb(uv_timer_t *t) { pump(t->data); }

static void schedule_pump(rest *r, uint64_t ms) {
  if (r->closing) return;
  uv_timer_start(&r->pump_timer, pump_cb, ms, 0);
}

int rest_request(rest *r, const char *method, const char *path, const json_t *body, rest_cb cb,
                 void *user) {
  return rest_request_files(r, method, path, body, NULL, 0, cb, user);
}

int rest_request_files(rest *r, const char *method, const char *path, const json_t *body,
                       const rest_file *files, size_t n_files, rest_cb cb, void *user) {
  if (n_files > REST_FILES_MAX)
    return err_set(MIMIC_EINVAL, "at most %d files per message, not %zu", REST_FILES_MAX, n_files);
  size_t total = 0;
  for (size_t i = 0; i < n_files; i++) {
    const char *nm = files[i].name;
    if (!nm || !*nm || strlen(nm) > 255 || strpbrk(nm, "/\\\"\r\n"))
      return err_set(MIMIC_EINVAL,
                     "file %zu: a file name is 1-255 characters without / \\ \" or "
                     "line breaks",
                     i + 1);
    if (!files[i].data && files[i].size)
      return err_set(MIMIC_EINVAL, "file %zu (%s): no data", i + 1, nm);
    total += files[i].size;
  }
  if (total > REST_UPLOAD_MAX)
    return err_set(MIMIC_ERANGE, "files of %zu bytes are over the %u-byte upload cap", total,
                   REST_UPLOAD_MAX);
  if (!r || r->closing) return err_set(MIMIC_ECANCELLED, "the REST client is shutting down");
  if (!cb) return err_set(MIMIC_EINVAL, "rest_request needs a callback");
  if (!method || strlen(method) >= sizeof((rest_req *)0)->method)
    return err_set(MIMIC_EINVAL, "bad HTTP method");
  if (!path || strlen(path) > REST_URL_MAX) return err_set(MIMIC_EINVAL, "REST path too long");
  if (r->pending.n + r->active.n >= r->o.queue_max)
    return err_set(MIMIC_EBUSY, "REST queue full (%zu requests waiting); try again later",
                   r->o.queue_max);
  rest_req *q = xcalloc(1, sizeof *q);
  int rc = rl_route_parse(method, path, &q->route);
  if (rc) {
    mem_free(q);
    return rc;
  }
  str_lcpy(q->method, method, sizeof q->method);
  q->path = xstrdup(path);
  if (body) {
    char *s = jv_dump_compact(body);
    if (!s) {
      req_free(q);
      return err_set(MIMIC_EINVAL, "REST %s: body is not serialisable JSON", q->route.display);
    }
    q->body = xstrdup(s);
    q->body_len = strlen(s);
    free(s);
  }
  if (n_files) {
    q->files = xcalloc(n_files, sizeof *q->files);
    for (size_t i = 0; i < n_files; i++) {
      const rest_file *f = &files[i];
      void *data = xalloc(f->size ? f->size : 1);
      if (f->size) memcpy(data, f->data, f->size);
      q->files[i] = (rest_file){.name = xstrdup(f->name),
                                .content_type = xstrdup(f->content_type && *f->content_type
                                                            ? f->content_type
                                                            : "application/octet-stream"),
                                .data = data,
                                .size = f->size};
    }
    q->n_files = n_files;
  }
  q->r = r;
  q->cb = cb;
  q->user = user;
  buf_init(&q->resp, r->o.body_max);
  list_push(&r->pending, q);
  schedule_pump(r, 0);
  return 0;
}

void rest_destroy(rest *r) {
  if (!r || r->closing) return;
  r->closing = true;
  rest_req *q;
  while ((q = r->active.head) != NULL) {
    list_remove(&r->active, q);
    if (q->easy) {
      curl_multi_remove_handle(r->multi, q->easy);
      curl_easy_cleanup(q->easy);
      q->easy = NULL;
    }
    rl_release(r->rl, &q->ticket, clock_mono_ms());
    deliver(q, MIMIC_ECANCELLED, 0, 0, "REST request cancelled: the client is shutting down", NULL);
    req_free(q);
  }
  while ((q = r->pending.head) != NULL) {
    list_remove(&r->pending, q);
    deliver(q, MIMIC_ECANCELLED, 0, 0, "REST request cancelled: the client is shutting down", NULL);
    req_free(q);
  }
  curl_multi_cleanup(r->multi);
  r->multi = NULL;
  while (r->socks) sock_close(r, r->socks);
  curl_slist_free_all(r->hdr_json);
  curl_slist_free_all(r->hdr_plain);
  rl_destroy(r->rl);
  mem_free(r->base);
  mem_free(r->ua);
  uv_timer_stop(&r->curl_timer);
  uv_timer_stop(&r->pump_timer);
  uv_close((uv_handle_t *)&r->curl_timer, handle_closed);
  uv_close((uv_handle_t *)&r->pump_timer, handle_closed);
  if (r->own_loop) {
    uv_run(r->loop, UV_RUN_DEFAULT);
    uv_loop_close(r->loop);
    mem_free(r->loop);
    mem_free(r);
  }
}

/* ---- blocking wrapper ---- */

typedef struct sync_state {
  bool done;
  int err, status, code;
  json_t *json;
  char msg[600];
} sync_state;

static void sync_cb(const rest_result *res, void *user) {
  sync_state *s = user;
  s->done = true;
  s->err = res->err;
  s->status = res->status;
  s->code = res->code;
  if (res->err)
    str_lcpy(s->msg, res->message, sizeof s->msg);
  else if (res->json)
    s->json = json_incref(res->json);
}

int rest_call_sync(rest *r, const char *method, const char *path, const json_t *body, json_t **out,
                   int *status, int *code) {
  if (out) *out = NULL;
  if (!r->own_loop) return err_set(MIMIC_EINVAL, "rest_call_sync needs a client with its own loop");
  sync_state s = {0};
  int rc = rest_request(r, method, path, body, sync_cb, &s);
  if (rc) return rc;
  while (!s.done) uv_run(r->loop, UV_RUN_ONCE);
  if (status) *status = s.status;
  if (code) *code = s.code;
  if (s.err) {
    json_decref(s.json);
    return err_set(s.err, "%s", s.msg);
  }
  if (out)
    *out = s.json;
  else
    json_decref(s.json);
  return 0;
}
