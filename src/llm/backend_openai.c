/* The "openai" llm_backend: streams generations from an OpenAI-compatible server (llama-server,
 * vLLM, Ollama, ...) with libcurl. POST {url}/chat/completions (or {url}/completions for a
 * pre-rendered prompt) with "stream": true, then Server-Sent Events are parsed as they arrive:
 * lines may be split across reads, "data:" lines of one event are joined, "[DONE]" ends the
 * stream, and an error body (JSON or not) becomes one sentence naming the server. Stop strings are
 * also applied here, so the contract (never emit a stop string) holds even when a server ignores
 * "stop". Each worker thread runs one blocking transfer at a time. Not here: retries (the bot
 * decides whether to retry a failed generation). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "llm/backend_impl.h"

#define OA_LINE_MAX    (1u << 20)  /* one SSE line (one chunk of JSON) */
#define OA_ERRBODY_MAX (64u << 10) /* error body kept for the message */
#define OA_BODY_MAX    (8u << 20)  /* a non-streamed JSON answer */
#define OA_KEY_MAX     4096

typedef struct oa_backend {
  llm_backend base;
  char *url, *model, *key;
  long connect_timeout_ms, idle_timeout_ms;
  queue *q;
  pthread_t *threads;
  int n_threads;
  atomic_int running;
} oa_backend;

/* State of one transfer. */
typedef struct oa_xfer {
  oa_backend *oa;
  llm_job *job;
  llm_result *res;
  llm_stop stop;
  CURL *curl;
  long status;
  bool is_json;              /* Content-Type application/json: a non-streamed answer or an error */
  buf line;                  /* the unfinished line */
  buf data;                  /* data: lines of the current event */
  buf body;                  /* error body or non-streamed JSON */
  bool done;                 /* [DONE] seen */
  bool stopped;              /* a stop string matched locally */
  const char *finish_reason; /* last finish_reason seen (static string) */
  int err;                   /* first protocol error (message in errmsg) */
  char errmsg[256];
  int pieces;
  uint64_t t_start, t_first;
  bool chat;
} oa_xfer;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int xfer_fail(oa_xfer *x, int code, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static int xfer_fail(oa_xfer *x, int code, const char *fmt, ...) {
  if (x->err) return x->err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->errmsg, sizeof x->errmsg, fmt, ap);
  va_end(ap);
  x->err = code;
  return code;
}

/* Maps a finish_reason string to a static one we keep. */
static const char *keep_reason(const char *r) {
  if (!r) return NULL;
  if (strcmp(r, "length") == 0) return "length";
  if (strcmp(r, "stop") == 0) return "stop";
  return "other";
}

/* One complete SSE event's data. Returns 0, or nonzero to abort the transfer. */
static int on_event(oa_xfer *x, const char *d, size_t n) {
  while (n && (d[0] == ' ' || d[0] == '\t')) d++, n--;
  if (n == 0) return 0;
  if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
    x->done = true;
    return 0;
  }
  json_t *j = jv_parse(d, n, "stream chunk");
  if (!j)
    return xfer_fail(x, MIMIC_EPROTO, "%s: malformed stream chunk from the server: %s", x->oa->url,
                     err_msg());
  int rc = 0;
  json_t *e = json_object_get(j, "error");
  if (e) {
    const char *m =
        json_is_string(e) ? json_string_value(e) : jv_str(e, "message", "unknown error");
    rc = xfer_fail(x, MIMIC_ENET, "%s: the server reported an error mid-stream: %s", x->oa->url, m);
    goto out;
  }
  json_t *usage = json_object_get(j, "usage");
  if (json_is_object(usage)) {
    x->res->prompt_tokens = (int)jv_int(usage, "prompt_tokens", x->res->prompt_tokens);
    x->res->gen_tokens = (int)jv_int(usage, "completion_tokens", x->res->gen_tokens);
  }
  json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
  if (!ch) goto out; /* e.g. the final usage-only chunk */
  const char *piece = NULL;
  if (x->chat) piece = jv_str(json_object_get(ch, "delta"), "content", NULL);
  if (!piece) piece = jv_str(ch, "text", NULL);
  if (!piece) piece = jv_str(json_object_get(ch, "message"), "content", NULL); /* non-streamed */
  const char *fr = jv_str(ch, "finish_reason", NULL);
  if (fr) x->finish_reason = keep_reason(fr);
  if (piece && *piece) {
    if (!x->t_first) x->t_first = clock_mono_ns();
    x->pieces++;
    int s = llm_stop_feed(&x->stop, piece, strlen(piece), llm__job_emit, x->job);
    if (s == 1) {
      x->stopped = true;
      rc = 1;
    } else if (s == MIMIC_ECANCELLED) {
      rc = 1;
    } else if (s < 0) {
      rc = xfer_fail(x, s, "%s", err_msg());
    }
  }
out:
  json_decref(j);
  return rc;
}

/* One line of the stream (without its end of line). */
static int on_line(oa_xfer *x, const char *l, size_t n) {
  if (n == 0) { /* blank line: dispatch the event */
    if (!x->data.len) return 0;
    int rc = on_event(x, x->data.data, x->data.len);
    buf_reset(&x->data);
    return rc;
  }
  if (l[0] == ':') return 0; /* comment / keep-alive */
  if (n >= 5 && memcmp(l, "data:", 5) == 0) {
    if (x->data.len && buf_putc(&x->data, '\n'))
      return xfer_fail(x, MIMIC_ERANGE, "%s: stream event over %u bytes", x->oa->url, OA_LINE_MAX);
    if (buf_append(&x->data, l + 5, n - 5))
      return xfer_fail(x, MIMIC_ERANGE, "%s: stream event over %u bytes", x->oa->url, OA_LINE_MAX);
    return 0;
  }
  return 0; /* event:, id:, retry: and unknown fields are ignored (SSE spec) */
}

static size_t on_header(char *p, size_t size, size_t n, void *user) {
  oa_xfer *x = user;
  size_t len = size * n;
  const char *ct = "content-type:";
  if (len > strlen(ct) && strncasecmp(p, ct, strlen(ct)) == 0) {
    char v[128];
    size_t vl = len - strlen(ct) < sizeof v - 1 ? len - strlen(ct) : sizeof v - 1;
    memcpy(v, p + strlen(ct), vl);
    v[vl] = 0;
    x->is_json = strstr(v, "application/json") != NULL;
  }
  return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *user) {
  oa_xfer *x = user;
  size_t len = size * n;
  if (!x->status) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->status >= 400 || x->is_json) {
    size_t cap = x->status >= 400 ? OA_ERRBODY_MAX : OA_BODY_MAX;
    size_t take = x->body.len + len > cap ? cap - x->body.len : len;
    if (take && buf_append(&x->body, p, take)) return 0;
    if (x->status < 400 && take < len) {
      xfer_fail(x, MIMIC_ERANGE, "%s: answer over %u bytes", x->oa->url, OA_BODY_MAX);
      return 0;
    }
    return len;
  }
  size_t i = 0;
  while (i < len) {
    const char *nl = memchr(p + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - p) : len;
    if (buf_append(&x->line, p + i, end - i)) {
      xfer_fail(x, MIMIC_ERANGE, "%s: stream line over %u bytes", x->oa->url, OA_LINE_MAX);
      return 0;
    }
    if (!nl) break;
    size_t ll = x->line.len;
    if (ll && x->line.data[ll - 1] == '\r') ll--;
    int rc = on_line(x, x->line.data ? x->line.data : "", ll);
    buf_reset(&x->line);
    if (rc) return 0; /* abort: stop string, cancel or error */
    i = end + 1;
  }
  return len;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  oa_xfer *x = user;
  return llm__job_cancelled(x->job) ? 1 : 0;
}

/* The JSON request body. */
static char *build_body(oa_backend *oa, const llm_request *r) {
  json_t *o = json_object();
  const char *model = r->adapter ? r->adapter : oa->model;
  if (model && *model) json_object_set_new(o, "model", json_string(model));
  if (r->n_messages) {
    json_t *msgs = json_array();
    for (size_t i = 0; i < r->n_messages; i++) {
      const llm_message *m = &r->messages[i];
      json_t *jm = json_object();
      json_object_set_new(jm, "role", json_string(m->role));
      /* The speaker goes inside content: the name field is not honoured everywhere. */
      if (m->name) {
        buf b;
        buf_init(&b, 0);
        if (buf_printf(&b, "%s: %s", m->name, m->content)) abort(); /* uncapped buf: only OOM */
        json_object_set_new(jm, "content", json_string(b.data));
        buf_free(&b);
      } else {
        json_object_set_new(jm, "content", json_string(m->content));
      }
      /* Images go with the last message, as content parts: the text, then each image_url. */
      if (i + 1 == r->n_messages && r->n_image_urls) {
        json_t *parts = json_array();
        json_t *tp = json_object();
        json_object_set_new(tp, "type", json_string("text"));
        json_object_set(tp, "text", json_object_get(jm, "content"));
        json_array_append_new(parts, tp);
        for (size_t k = 0; k < r->n_image_urls; k++) {
          json_t *ip = json_object(), *iu = json_object();
          json_object_set_new(iu, "url", json_string(r->image_urls[k]));
          json_object_set_new(ip, "type", json_string("image_url"));
          json_object_set_new(ip, "image_url", iu);
          json_array_append_new(parts, ip);
        }
        json_object_set_new(jm, "content", parts);
      }
      json_array_append_new(msgs, jm);
    }
    json_object_set_new(o, "messages", msgs);
  } else {
    json_object_set_new(o, "prompt", json_string(r->prompt));
  }
  json_object_set_new(o, "stream", json_true());
  json_t *so = json_object();
  json_object_set_new(so, "include_usage", json_true());
  json_object_set_new(o, "stream_options", so);
  json_object_set_new(o, "max_tokens", json_integer(r->max_tokens));
  double t = r->sampling.temperature > 0 ? r->sampling.temperature : 0;
  json_object_set_new(o, "temperature", json_real(t));
  if (r->sampling.top_p < 1) json_object_set_new(o, "top_p", json_real(r->sampling.top_p));
  if (r->sampling.seed != LLM_SEED_RANDOM)
    json_object_set_new(o, "seed",
                        json_integer((json_int_t)(r->sampling.seed & 0x7FFFFFFFFFFFFFFFull)));
  if (r->n_stop) {
    json_t *st = json_array();
    for (size_t i = 0; i < r->n_stop; i++)
      if (*r->stop[i]) json_array_append_new(st, json_string(r->stop[i]));
    json_object_set_new(o, "stop", st);
  }
  char *s = jv_dump_compact(o);
  json_decref(o);
  return s;
}

/* Turns an HTTP error status and body into one sentence and a code. */
static int http_error(oa_xfer *x) {
  const char *detail = NULL;
  json_t *j = x->body.len ? jv_parse(x->body.data, x->body.len, "error body") : NULL;
  if (j) {
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e))
      detail = json_string_value(e);
    else if (json_is_object(e))
      detail = jv_str(e, "message", NULL);
    if (!detail) detail = jv_str(j, "message", jv_str(j, "detail", NULL));
  }
  char raw[200] = "";
  if (!detail && x->body.len) {
    size_t n = utf8_floor(x->body.data, x->body.len, sizeof raw - 1);
    memcpy(raw, x->body.data, n);
    raw[n] = 0;
    for (char *c = raw; *c; c++)
      if (*c == '\n' || *c == '\r') *c = ' ';
    detail = raw;
  }
  if (!detail || !*detail) detail = "no details";
  int code = MIMIC_ENET;
  const char *hint = "";
  if (x->status == 401 || x->status == 403) {
    code = MIMIC_EAUTH;
    hint = " (check engine.openai_key_file)";
  } else if (x->status == 404) {
    code = MIMIC_ENOTFOUND;
    hint = " (check engine.openai_url and engine.openai_model)";
  } else if (x->status == 429 || x->status == 503) {
    code = MIMIC_EBUSY;
    hint = " (the server is busy or loading; try again later)";
  }
  xfer_fail(x, code, "%s: HTTP %ld: %s%s", x->oa->url, x->status, detail, hint);
  json_decref(j);
  return code;
}

/* ---- The stream parser without the network (tests, fuzz/fuzz_sse.c) ---- */

static int collect_piece(void *user, const char *t, size_t n) {
  return buf_append(user, t, n) ? 1 : 0;
}

int llm__openai_parse(const char *body, size_t n, size_t chunk, bool chat, bool is_json,
                      const char *const *stops, size_t n_stops, buf *text, llm_finish *finish) {
  char url[] = "http://fuzz";
  oa_backend oa = {.url = url};
  llm_job job = {.on_token = collect_piece, .user = text};
  atomic_init(&job.cancel, 0);
  llm_result *res = llm__result_new();
  oa_xfer x = {.oa = &oa, .job = &job, .res = res, .chat = chat, .status = 200, .is_json = is_json};
  buf_init(&x.line, OA_LINE_MAX);
  buf_init(&x.data, OA_LINE_MAX);
  buf_init(&x.body, 0);
  int rc = llm_stop_init(&x.stop, stops, n_stops);
  if (rc) goto out;
  if (chunk < 1) chunk = 1;
  for (size_t off = 0; off < n;) {
    size_t len = n - off < chunk ? n - off : chunk;
    if (on_write((char *)body + off, 1, len, &x) != len) break; /* aborted, as curl would */
    off += len;
  }
  if (!x.err && !x.stopped && !x.is_json) { /* end of stream, as run_job */
    size_t ll = x.line.len;
    if (ll && x.line.data[ll - 1] == '\r') ll--;
    if (!(ll && on_line(&x, x.line.data, ll))) (void)on_line(&x, "", 0);
  }
  if (!x.err && !x.stopped && x.is_json)
    (void)on_event(&x, x.body.data ? x.body.data : "", x.body.len);
  if (x.stopped)
    *finish = LLM_FINISH_STOP;
  else if (x.err)
    *finish = LLM_FINISH_ERROR;
  else if (!x.done && !x.finish_reason && !x.is_json)
    *finish = LLM_FINISH_ERROR;
  else
    *finish = x.finish_reason && strcmp(x.finish_reason, "length") == 0 ? LLM_FINISH_LENGTH
                                                                        : LLM_FINISH_EOG;
  if (*finish != LLM_FINISH_STOP && *finish != LLM_FINISH_ERROR &&
      llm_stop_finish(&x.stop, llm__job_emit, &job) < 0)
    *finish = LLM_FINISH_ERROR;
  rc = x.err;
  if (rc) err_set(rc, "%s", x.errmsg);
  llm_stop_free(&x.stop);
out:
  buf_free(&x.line);
  buf_free(&x.data);
  buf_free(&x.body);
  llm_result_destroy(res);
  return rc;
}

static void run_job(oa_backend *oa, llm_job *job) {
  llm_result *res = llm__result_new();
  res->seed = job->req.sampling.seed;
  res->queue_ms = (double)(clock_mono_ns() - job->t_submit_ns) / 1e6;
  oa_xfer x = {.oa = oa, .job = job, .res = res, .chat = job->req.n_messages > 0};
  buf_init(&x.line, OA_LINE_MAX);
  buf_init(&x.data, OA_LINE_MAX);
  buf_init(&x.body, 0);
  char *body = NULL, *url = NULL;
  struct curl_slist *hdr = NULL;
  bool stop_ok = false;
  if (llm__job_cancelled(job)) {
    res->finish = LLM_FINISH_CANCELLED;
    goto out;
  }
  if (llm_stop_init(&x.stop, job->req.stop, job->req.n_stop)) {
    llm__result_error(res, MIMIC_EINVAL);
    goto out;
  }
  stop_ok = true;
  body = build_body(oa, &job->req);
  buf u;
  buf_init(&u, 0);
  if (buf_printf(&u, "%s/%s", oa->url, x.chat ? "chat/completions" : "completions")) abort();
  url = buf_steal(&u);
  x.curl = curl_easy_init();
  if (!body || !x.curl) {
    err_set(MIMIC_ENOMEM, "out of memory preparing an HTTP request");
    llm__result_error(res, MIMIC_ENOMEM);
    goto out;
  }
  hdr = curl_slist_append(hdr, "Content-Type: application/json");
  hdr = curl_slist_append(hdr, "Accept: text/event-stream");
  if (oa->key) {
    buf a;
    buf_init(&a, 0);
    if (buf_printf(&a, "Authorization: Bearer %s", oa->key)) abort();
    hdr = curl_slist_append(hdr, a.data);
    buf_free(&a);
  }
  char cerr[CURL_ERROR_SIZE] = "";
  CURL *c = x.curl;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, oa->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (oa->idle_timeout_ms + 999) / 1000);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mimic/" MIMIC_VERSION);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  x.t_start = clock_mono_ns();
  CURLcode cc = curl_easy_perform(c);
  uint64_t t_end = clock_mono_ns();
  if (!x.status) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.status);

  /* Whatever was left unterminated at the end of the stream still counts. */
  if (cc == CURLE_OK && !x.err && x.status < 400 && !x.is_json) {
    size_t ll = x.line.len;
    if (ll && x.line.data[ll - 1] == '\r') ll--;
    if (!(ll && on_line(&x, x.line.data, ll))) (void)on_line(&x, "", 0);
  }
  if (cc == CURLE_OK && !x.err && x.status < 400 && x.is_json)
    (void)on_event(&x, x.body.data ? x.body.data : "", x.body.len);

  if (x.stopped)
    res->finish = LLM_FINISH_STOP;
  else if (llm__job_cancelled(job))
    res->finish = LLM_FINISH_CANCELLED;
  else if (x.err) {
    err_set(x.err, "%s", x.errmsg);
    llm__result_error(res, x.err);
  } else if (x.status >= 400) {
    http_error(&x);
    err_set(x.err, "%s", x.errmsg);
    llm__result_error(res, x.err);
  } else if (cc != CURLE_OK) {
    int code = cc == CURLE_OPERATION_TIMEDOUT ? MIMIC_ETIMEOUT : MIMIC_ENET;
    const char *hint =
        cc == CURLE_COULDNT_CONNECT ? "; is the server running? (engine.openai_url)" : "";
    err_set(code, "%s: %s%s", url, *cerr ? cerr : curl_easy_strerror(cc), hint);
    llm__result_error(res, code);
  } else if (!x.done && !x.finish_reason && !x.is_json) {
    err_set(MIMIC_EPROTO, "%s: the stream ended before [DONE]", oa->url);
    llm__result_error(res, MIMIC_EPROTO);
  } else {
    res->finish = x.finish_reason && strcmp(x.finish_reason, "length") == 0 ? LLM_FINISH_LENGTH
                                                                            : LLM_FINISH_EOG;
  }
  if (res->finish != LLM_FINISH_STOP && res->finish != LLM_FINISH_ERROR) {
    int fr =
        llm_stop_finish(&x.stop, res->finish == LLM_FINISH_CANCELLED ? NULL : llm__job_emit, job);
    if (fr == MIMIC_ECANCELLED)
      res->finish = LLM_FINISH_CANCELLED;
    else if (fr < 0)
      llm__result_error(res, fr);
  }
  if (!res->gen_tokens) res->gen_tokens = x.pieces;
  uint64_t first = x.t_first ? x.t_first : t_end;
  res->prompt_ms = (double)(first - x.t_start) / 1e6;
  res->gen_ms = (double)(t_end - first) / 1e6;
  if (res->prompt_tokens && res->prompt_ms > 0)
    res->prompt_tps = res->prompt_tokens / (res->prompt_ms / 1e3);
  if (res->gen_tokens > 1 && res->gen_ms > 0)
    res->gen_tps = (res->gen_tokens - 1) / (res->gen_ms / 1e3);
out:
  if (stop_ok) {
    llm__result_take_text(res, &x.stop);
    llm_stop_free(&x.stop);
  }
  curl_slist_free_all(hdr);
  if (x.curl) curl_easy_cleanup(x.curl);
  free(body); /* from Jansson (libc) */
  mem_free(url);
  buf_free(&x.line);
  buf_free(&x.data);
  buf_free(&x.body);
  llm__job_finish(job, res);
}

static void *worker(void *arg) {
  oa_backend *oa = arg;
  llm_job *job;
  while ((job = queue_pop(oa->q))) {
    atomic_fetch_add(&oa->running, 1);
    run_job(oa, job);
    atomic_fetch_sub(&oa->running, 1);
  }
  return NULL;
}

static int oa_submit(llm_backend *b, llm_job *job) {
  oa_backend *oa = (oa_backend *)b;
  int rc = queue_try_push(oa->q, job);
  if (rc == MIMIC_EBUSY)
    return err_set(rc, "the generation queue is full (%zu waiting); try again later",
                   queue_len(oa->q));
  if (rc) return err_set(rc, "the openai backend is shutting down");
  return 0;
}

static void oa_stats(llm_backend *b, llm_backend_stats *out) {
  oa_backend *oa = (oa_backend *)b;
  out->queued = (int)queue_len(oa->q);
  out->running = atomic_load(&oa->running);
  out->slots = oa->n_threads;
}

static void oa_shutdown(llm_backend *b) {
  oa_backend *oa = (oa_backend *)b;
  queue_close(oa->q); /* workers drain what is queued (all cancelled by now) and exit */
  for (int i = 0; i < oa->n_threads; i++) pthread_join(oa->threads[i], NULL);
  oa->n_threads = 0;
}

static void oa_free(llm_backend *b) {
  oa_backend *oa = (oa_backend *)b;
  queue_destroy(oa->q);
  mem_free(oa->threads);
  mem_free(oa->url);
  mem_free(oa->model);
  if (oa->key) memset(oa->key, 0, strlen(oa->key));
  mem_free(oa->key);
  mem_free(oa);
}

static const llm_backend_ops oa_ops = {
    .name = "openai",
    .submit = oa_submit,
    .adapter_load = NULL,
    .stats = oa_stats,
    .shutdown = oa_shutdown,
    .free = oa_free,
};

/* Reads the first line of a key file (never logged; registered as a secret). */
static int read_key(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot open the API key file: %s", path, strerror(errno));
  char line[OA_KEY_MAX + 2];
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  char *nl = strpbrk(line, "\r\n");
  if (nl) *nl = 0;
  str_trim(line);
  if (strlen(line) > OA_KEY_MAX)
    return err_set(MIMIC_ERANGE, "%s: API key longer than %d bytes", path, OA_KEY_MAX);
  if (!*line) return err_set(MIMIC_EAUTH, "%s: the API key file is empty", path);
  for (const char *c = line; *c; c++)
    if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7E)
      return err_set(MIMIC_EFORMAT, "%s: the API key holds a space or control character", path);
  *out = xstrdup(line);
  memset(line, 0, sizeof line);
  return 0;
}

int llm_backend_openai_new(const llm_openai_opts *o, llm_backend **out) {
  *out = NULL;
  if (!o->url || (!str_starts_with(o->url, "http://") && !str_starts_with(o->url, "https://")))
    return err_set(MIMIC_EINVAL, "engine.openai_url must start with http:// or https:// (got '%s')",
                   o->url ? o->url : "");
  pthread_once(&curl_once, curl_init_once);
  int rc = 0;
  oa_backend *oa = xcalloc(1, sizeof *oa);
  llm__backend_init(&oa->base, &oa_ops);
  oa->url = xstrdup(o->url);
  size_t ul = strlen(oa->url);
  while (ul && oa->url[ul - 1] == '/') oa->url[--ul] = 0;
  oa->model = o->model ? xstrdup(o->model) : NULL;
  if (o->api_key && *o->api_key)
    oa->key = xstrdup(o->api_key);
  else if (o->key_file && *o->key_file && (rc = read_key(o->key_file, &oa->key)))
    goto fail;
  if (oa->key) log_add_secret(oa->key);
  oa->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
  oa->idle_timeout_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 120000;
  int workers = o->workers > 0 ? o->workers : 2;
  oa->q = queue_new(o->queue_max > 0 ? (size_t)o->queue_max : 64);
  oa->threads = xcalloc((size_t)workers, sizeof *oa->threads);
  if (!oa->q) {
    rc = err_set(MIMIC_ENOMEM, "out of memory creating the generation queue");
    goto fail;
  }
  atomic_init(&oa->running, 0);
  for (int i = 0; i < workers; i++) {
    if (pthread_create(&oa->threads[i], NULL, worker, oa)) {
      rc = err_set(MIMIC_ENOMEM, "cannot start an HTTP worker thread");
      oa_shutdown(&oa->base);
      goto fail;
    }
    oa->n_threads++;
  }
  *out = &oa->base;
  return 0;
fail:
  pthread_mutex_destroy(&oa->base.mu);
  oa_free(&oa->base);
  return rc;
}
