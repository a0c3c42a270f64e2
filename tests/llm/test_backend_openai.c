/* Tests for the openai backend (backend_openai.c) and the generic backend front (backend.c)
 * against a tiny HTTP/SSE server written here, on 127.0.0.1 with a kernel-chosen port. The server
 * answers each connection with the current scenario and records the request it saw, so the tests
 * check both directions: what mimic sends (URL, key, body fields) and how it reads each answer
 * (pieces split across writes, [DONE], usage, stop strings, HTTP and protocol errors, cancel). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"
#include "test.h"

/* ---- the server ---- */

typedef enum {
  SC_STREAM,     /* four pieces split into 3-byte writes, usage, [DONE] */
  SC_STOP,       /* pieces that contain "\nUser:" across two chunks; the server ignores stop */
  SC_401,        /* JSON error body */
  SC_500_TEXT,   /* plain-text error body */
  SC_MALFORMED,  /* a data line that is not JSON */
  SC_NO_DONE,    /* ends without [DONE] or finish_reason */
  SC_ERR_EVENT,  /* an error object mid-stream */
  SC_HOLD,       /* one piece, then waits until the client hangs up */
  SC_PLAIN_JSON, /* ignores stream:true and answers with one JSON object */
  SC_COMPLETION  /* /completions style: choices[0].text */
} scenario;

static struct {
  int fd;
  int port;
  pthread_t thread;
  pthread_mutex_t mu;
  scenario sc;
  char path[256];
  char auth[256];
  char body[8192];
  int conns;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}
static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }
/* Sends in 3-byte writes with TCP_NODELAY so lines and events straddle reads. */
static void send_split(int fd, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i += 3) send_all(fd, s + i, n - i < 3 ? n - i : 3);
}

static const char *sse_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";

static void chunk(int fd, const char *piece, bool split) {
  char b[512];
  snprintf(b, sizeof b,
           "data: "
           "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
           "\"%s\"}}]}\r\n\r\n",
           piece);
  if (split)
    send_split(fd, b);
  else
    send_str(fd, b);
}

static void respond(int fd, scenario sc) {
  switch (sc) {
  case SC_STREAM:
    send_str(fd, sse_head);
    send_split(fd, ": keep-alive comment\n\n");
    chunk(fd, "Hel", true);
    chunk(fd, "lo", true);
    chunk(fd, " w\\u00f6r", true);
    chunk(fd, "ld", true);
    send_split(fd,
               "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    send_split(
        fd, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4}}\n\n");
    send_split(fd, "data: [DONE]\n\n");
    break;
  case SC_STOP:
    send_str(fd, sse_head);
    chunk(fd, "Hi there\\nUs", false);
    chunk(fd, "er: not this", false);
    chunk(fd, " nor this", false);
    send_str(fd, "data: [DONE]\n\n");
    break;
  case SC_401:
    send_str(
        fd,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        "{\"error\":{\"message\":\"Invalid API key\",\"type\":\"auth\"}}");
    break;
  case SC_500_TEXT:
    send_str(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nConnection: "
                 "close\r\n\r\n"
                 "model exploded\n");
    break;
  case SC_MALFORMED:
    send_str(fd, sse_head);
    chunk(fd, "ok", false);
    send_str(fd, "data: {\"choices\": [ this is not json\n\n");
    send_str(fd, "data: [DONE]\n\n");
    break;
  case SC_NO_DONE:
    send_str(fd, sse_head);
    chunk(fd, "partial", false);
    break;
  case SC_ERR_EVENT:
    send_str(fd, sse_head);
    chunk(fd, "a", false);
    send_str(fd, "data: {\"error\":{\"message\":\"out of memory on the GPU\"}}\n\n");
    break;
  case SC_HOLD: {
    send_str(fd, sse_head);
    chunk(fd, "first", false);
    char tmp[256];
    while (recv(fd, tmp, sizeof tmp, 0) > 0) {} /* returns 0 when the client hangs up */
    break;
  }
  case SC_PLAIN_JSON:
    send_str(
        fd,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"whole answer\"},"
        "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}");
    break;
  case SC_COMPLETION:
    send_str(fd, sse_head);
    send_str(fd, "data: {\"choices\":[{\"text\":\"raw \"}]}\n\n");
    send_str(fd, "data: {\"choices\":[{\"text\":\"prompt\",\"finish_reason\":\"length\"}]}\n\n");
    send_str(fd, "data: [DONE]\n\n");
    break;
  }
}

/* Reads one request: headers, then Content-Length bytes of body. */
static void read_request(int fd) {
  static char req[65536];
  size_t n = 0;
  char *hend = NULL;
  while (n < sizeof req - 1) {
    ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
    if (r <= 0) return;
    n += (size_t)r;
    req[n] = 0;
    if ((hend = strstr(req, "\r\n\r\n"))) {
      const char *cl = strcasestr(req, "content-length:");
      size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
      size_t have = n - (size_t)(hend + 4 - req);
      if (have >= want) break;
    }
  }
  if (!hend) return;
  pthread_mutex_lock(&srv.mu);
  srv.conns++;
  sscanf(req, "POST %255s", srv.path);
  srv.auth[0] = 0;
  const char *a = strcasestr(req, "authorization:");
  if (a && a < hend) {
    a += 14;
    while (*a == ' ') a++;
    size_t l = strcspn(a, "\r\n");
    if (l >= sizeof srv.auth) l = sizeof srv.auth - 1;
    memcpy(srv.auth, a, l);
    srv.auth[l] = 0;
  }
  str_lcpy(srv.body, hend + 4, sizeof srv.body);
  pthread_mutex_unlock(&srv.mu);
}

static void *serve(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(srv.fd, NULL, NULL);
    if (c < 0) return NULL; /* listening socket shut down */
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    read_request(c);
    pthread_mutex_lock(&srv.mu);
    scenario sc = srv.sc;
    pthread_mutex_unlock(&srv.mu);
    respond(c, sc);
    close(c);
  }
}

static int server_start(void) {
  srv.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  if (bind(srv.fd, (struct sockaddr *)&sa, sizeof sa) || listen(srv.fd, 16) ||
      getsockname(srv.fd, (struct sockaddr *)&sa, &sl))
    return -1;
  srv.port = ntohs(sa.sin_port);
  return pthread_create(&srv.thread, NULL, serve, NULL);
}

static void server_stop(void) {
  shutdown(srv.fd, SHUT_RDWR);
  pthread_join(srv.thread, NULL);
  close(srv.fd);
}

static void set_scenario(scenario sc) {
  pthread_mutex_lock(&srv.mu);
  srv.sc = sc;
  srv.body[0] = 0;
  srv.path[0] = 0;
  pthread_mutex_unlock(&srv.mu);
}

/* ---- client helpers ---- */

typedef struct collect {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char text[1024];
  int pieces;
  int cancel_at; /* return nonzero on this piece (0 = never) */
  bool ok_utf8;
} collect;

static int on_piece(void *user, const char *t, size_t n) {
  collect *c = user;
  pthread_mutex_lock(&c->mu);
  if (!utf8_valid(t, n)) c->ok_utf8 = false;
  size_t l = strlen(c->text);
  if (l + n < sizeof c->text) {
    memcpy(c->text + l, t, n);
    c->text[l + n] = 0;
  }
  c->pieces++;
  int stop = c->cancel_at && c->pieces >= c->cancel_at;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return stop;
}

static void collect_init(collect *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  c->ok_utf8 = true;
}

static llm_backend *make_backend(const char *key, int workers, int queue_max) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", srv.port);
  llm_openai_opts o = {.url = url,
                       .model = "base-model",
                       .api_key = key,
                       .workers = workers,
                       .queue_max = queue_max};
  llm_backend *b = NULL;
  if (llm_backend_openai_new(&o, &b)) return NULL;
  return b;
}

static const llm_message chat[] = {
    {"system", NULL, "You are terse."},
    {"user", "alice", "hi bot"},
};

static void chat_request(llm_request *r) {
  llm_request_init(r);
  r->messages = chat;
  r->n_messages = 2;
  r->max_tokens = 33;
  r->sampling.temperature = 0.5f;
  r->sampling.top_p = 0.9f;
  r->sampling.seed = 77;
}

/* ---- tests ---- */

TEST(streams_pieces_in_order_and_sends_the_contract) {
  llm_backend *b = make_backend("sk-test-123456789", 1, 4);
  REQUIRE(b);
  CHECK_STR(llm_backend_name(b), "openai");
  set_scenario(SC_STREAM);
  llm_request r;
  chat_request(&r);
  const char *stops[] = {"\nUser:"};
  r.stop = stops;
  r.n_stop = 1;
  collect c;
  collect_init(&c);
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, on_piece, &c, &res));
  CHECK_STR(res.text, "Hello w\xC3\xB6rld");
  CHECK_STR(c.text, "Hello w\xC3\xB6rld");
  CHECK(c.ok_utf8);
  CHECK_INT(res.finish, LLM_FINISH_EOG);
  CHECK_INT(res.prompt_tokens, 12);
  CHECK_INT(res.gen_tokens, 4);
  CHECK(res.prompt_ms >= 0 && res.gen_ms >= 0);
  llm_result_free(&res);

  pthread_mutex_lock(&srv.mu);
  CHECK_STR(srv.path, "/v1/chat/completions");
  CHECK_STR(srv.auth, "Bearer sk-test-123456789");
  json_t *j = jv_parse(srv.body, strlen(srv.body), "request");
  pthread_mutex_unlock(&srv.mu);
  REQUIRE(j);
  CHECK(jv_bool(j, "stream", false));
  CHECK_STR(jv_str(j, "model", ""), "base-model");
  CHECK_INT(jv_int(j, "max_tokens", 0), 33);
  CHECK_NEAR(jv_num(j, "temperature", -1), 0.5, 1e-6);
  CHECK_NEAR(jv_num(j, "top_p", -1), 0.9, 1e-6);
  CHECK_INT(jv_int(j, "seed", 0), 77);
  CHECK_STR(json_string_value(json_array_get(json_object_get(j, "stop"), 0)), "\nUser:");
  json_t *m = json_object_get(j, "messages");
  CHECK_INT(json_array_size(m), 2);
  CHECK_STR(jv_str(json_array_get(m, 0), "role", ""), "system");
  CHECK_STR(jv_str(json_array_get(m, 1), "content", ""), "alice: hi bot");
  json_decref(j);
  llm_backend_destroy(b);
}

/* Images on the request go with the last message as content parts; a bad one is refused. */
TEST(images_go_as_image_url_parts) {
  llm_backend *b = make_backend(NULL, 1, 4);
  REQUIRE(b);
  set_scenario(SC_STREAM);
  llm_request r;
  chat_request(&r);
  const char *imgs[] = {"data:image/png;base64,iVBORw0KGgo=", "https://cdn.discordapp.com/a.png"};
  r.image_urls = imgs;
  r.n_image_urls = 2;
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
  llm_result_free(&res);
  pthread_mutex_lock(&srv.mu);
  json_t *j = jv_parse(srv.body, strlen(srv.body), "request");
  pthread_mutex_unlock(&srv.mu);
  REQUIRE(j);
  json_t *m = json_object_get(j, "messages");
  CHECK_STR(jv_str(json_array_get(m, 0), "content", ""), "You are terse.");
  json_t *parts = json_object_get(json_array_get(m, 1), "content");
  CHECK_INT(json_array_size(parts), 3);
  CHECK_STR(jv_str(json_array_get(parts, 0), "type", ""), "text");
  CHECK_STR(jv_str(json_array_get(parts, 0), "text", ""), "alice: hi bot");
  CHECK_STR(jv_str(json_array_get(parts, 1), "type", ""), "image_url");
  CHECK_STR(jv_str(json_object_get(json_array_get(parts, 1), "image_url"), "url", ""), imgs[0]);
  CHECK_STR(jv_str(json_object_get(json_array_get(parts, 2), "image_url"), "url", ""), imgs[1]);
  json_decref(j);
  const char *bad[] = {"file:///etc/passwd"};
  r.image_urls = bad;
  r.n_image_urls = 1;
  CHECK_INT(llm_request_check(&r), MIMIC_EINVAL);
  llm_backend_destroy(b);
}

TEST(stop_string_split_across_chunks_is_cut) {
  llm_backend *b = make_backend(NULL, 1, 4);
  REQUIRE(b);
  set_scenario(SC_STOP);
  llm_request r;
  chat_request(&r);
  const char *stops[] = {"\nUser:"};
  r.stop = stops;
  r.n_stop = 1;
  collect c;
  collect_init(&c);
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, on_piece, &c, &res));
  CHECK_INT(res.finish, LLM_FINISH_STOP);
  CHECK_STR(res.text, "Hi there");
  CHECK_STR(c.text, "Hi there");
  pthread_mutex_lock(&srv.mu);
  CHECK_STR(srv.auth, ""); /* no key configured: no header */
  pthread_mutex_unlock(&srv.mu);
  llm_result_free(&res);
  llm_backend_destroy(b);
}

static int expect_error(llm_backend *b, scenario sc, int code, const char *needle,
                        const char *text) {
  set_scenario(sc);
  llm_request r;
  chat_request(&r);
  llm_result res;
  int rc = llm_backend_generate(b, &r, NULL, NULL, &res);
  int ok = rc == code && res.finish == LLM_FINISH_ERROR && res.error == code &&
           strstr(res.error_msg, needle) && strstr(err_msg(), needle) &&
           strcmp(res.text, text) == 0;
  if (!ok)
    printf("  scenario %d: rc %d (want %d), msg \"%s\", text \"%s\"\n", sc, rc, code, res.error_msg,
           res.text);
  llm_result_free(&res);
  return ok;
}

/* The text received before an error is kept in the result (nothing is lost). */
TEST(http_and_protocol_errors_are_clear) {
  llm_backend *b = make_backend(NULL, 1, 4);
  REQUIRE(b);
  CHECK(expect_error(b, SC_401, MIMIC_EAUTH, "Invalid API key", ""));
  CHECK(expect_error(b, SC_401, MIMIC_EAUTH, "HTTP 401", ""));
  CHECK(expect_error(b, SC_500_TEXT, MIMIC_ENET, "model exploded", ""));
  CHECK(expect_error(b, SC_MALFORMED, MIMIC_EPROTO, "malformed stream chunk", "ok"));
  CHECK(expect_error(b, SC_NO_DONE, MIMIC_EPROTO, "before [DONE]", "partial"));
  CHECK(expect_error(b, SC_ERR_EVENT, MIMIC_ENET, "out of memory on the GPU", "a"));
  llm_backend_destroy(b);
}

TEST(plain_json_answer_and_completions_route) {
  llm_backend *b = make_backend(NULL, 1, 4);
  REQUIRE(b);
  set_scenario(SC_PLAIN_JSON);
  llm_request r;
  chat_request(&r);
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
  CHECK_STR(res.text, "whole answer");
  CHECK_INT(res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(res.prompt_tokens, 3);
  llm_result_free(&res);

  set_scenario(SC_COMPLETION);
  llm_request_init(&r);
  r.prompt = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
  r.adapter = "persona-bob";
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
  CHECK_STR(res.text, "raw prompt");
  CHECK_INT(res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(res.gen_tokens, 2);
  llm_result_free(&res);
  pthread_mutex_lock(&srv.mu);
  CHECK_STR(srv.path, "/v1/completions");
  json_t *j = jv_parse(srv.body, strlen(srv.body), "request");
  pthread_mutex_unlock(&srv.mu);
  REQUIRE(j);
  CHECK_STR(jv_str(j, "model", ""), "persona-bob"); /* the adapter travels as the model (vLLM) */
  CHECK(strstr(jv_str(j, "prompt", ""), "<|im_start|>assistant") != NULL);
  CHECK(json_object_get(j, "seed") == NULL); /* random seed: not sent */
  json_decref(j);
  llm_backend_destroy(b);
}

TEST(connection_refused_is_a_clear_error) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
  close(fd); /* bound then closed without listen: nothing accepts on this port */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
  llm_openai_opts o = {.url = url};
  llm_backend *b = NULL;
  REQUIRE(llm_backend_openai_new(&o, &b) == 0);
  llm_request r;
  chat_request(&r);
  llm_result res;
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &res), MIMIC_ENET);
  CHECK(strstr(res.error_msg, "is the server running") != NULL);
  CHECK(strstr(res.error_msg, url) != NULL);
  llm_result_free(&res);
  llm_backend_destroy(b);
}

TEST(bad_options_and_requests_are_refused) {
  llm_openai_opts o = {.url = "ftp://x"};
  llm_backend *b = NULL;
  CHECK_INT(llm_backend_openai_new(&o, &b), MIMIC_EINVAL);
  o.url = "http://127.0.0.1:1/v1";
  o.key_file = "/nonexistent/key";
  CHECK_INT(llm_backend_openai_new(&o, &b), MIMIC_EIO);
  CHECK(strstr(err_msg(), "/nonexistent/key") != NULL);
  CHECK(b == NULL);

  b = make_backend(NULL, 1, 4);
  REQUIRE(b);
  llm_request r;
  llm_request_init(&r);
  llm_result res;
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &res),
            MIMIC_EINVAL); /* no messages, no prompt */
  CHECK_INT(res.finish, LLM_FINISH_ERROR);
  llm_result_free(&res);
  chat_request(&r);
  r.max_tokens = 0;
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &res), MIMIC_EINVAL);
  llm_result_free(&res);
  chat_request(&r);
  const char *bad[] = {"\xFF\xFE"};
  r.stop = bad;
  r.n_stop = 1;
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &res), MIMIC_EINVAL);
  llm_result_free(&res);
  CHECK_INT(llm_backend_adapter_load(b, "x", "x.gguf", 1), MIMIC_EUNSUPPORTED);
  CHECK_INT(llm_backend_cancel(b, 12345), MIMIC_ENOTFOUND);
  llm_backend_destroy(b);
}

TEST(key_file_is_read_and_sent) {
  char path[] = "/tmp/mimic-test-key-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const char *k = "  sk-from-file-abcdef  \nsecond line ignored\n";
  REQUIRE(write(fd, k, strlen(k)) == (ssize_t)strlen(k));
  close(fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", srv.port);
  llm_openai_opts o = {.url = url, .key_file = path};
  llm_backend *b = NULL;
  CHECK_OK(llm_backend_openai_new(&o, &b));
  unlink(path);
  REQUIRE(b);
  set_scenario(SC_STREAM);
  llm_request r;
  chat_request(&r);
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
  llm_result_free(&res);
  pthread_mutex_lock(&srv.mu);
  CHECK_STR(srv.auth, "Bearer sk-from-file-abcdef");
  pthread_mutex_unlock(&srv.mu);
  llm_backend_destroy(b);
}

/* Async submit: done fires once with the cancelled text; waits on a condition, never sleeps. */
typedef struct done_box {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
  llm_finish finish;
  char text[128];
} done_box;

static void on_done(void *user, llm_result *res) {
  done_box *d = user;
  pthread_mutex_lock(&d->mu);
  d->fired++;
  d->finish = res->finish;
  str_lcpy(d->text, res->text, sizeof d->text);
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  llm_result_destroy(res);
}

typedef struct both {
  collect c;
  done_box d;
} both;

static int both_piece(void *user, const char *t, size_t n) {
  return on_piece(&((both *)user)->c, t, n);
}
static void both_done(void *user, llm_result *res) { on_done(&((both *)user)->d, res); }

static void both_init(both *x) {
  collect_init(&x->c);
  memset(&x->d, 0, sizeof x->d);
  pthread_mutex_init(&x->d.mu, NULL);
  pthread_cond_init(&x->d.cv, NULL);
}

static void wait_pieces(collect *c, int n) {
  pthread_mutex_lock(&c->mu);
  while (c->pieces < n) pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
}

static void wait_done(done_box *d) {
  pthread_mutex_lock(&d->mu);
  while (!d->fired) pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

TEST(cancel_queue_full_and_shutdown) {
  llm_backend *b = make_backend(NULL, 1, 1);
  REQUIRE(b);
  set_scenario(SC_HOLD);
  llm_request r;
  chat_request(&r);
  both j1, j2, j3;
  both_init(&j1);
  both_init(&j2);
  both_init(&j3);
  uint64_t id1 = 0, id2 = 0, id3 = 0;
  j2.c.cancel_at = 1; /* job 2 will run against the same held stream; on_token ends it */
  CHECK_OK(llm_backend_submit(b, &r, both_piece, both_done, &j1, &id1));
  wait_pieces(&j1.c, 1); /* job 1 is running and holds the only worker */
  CHECK_OK(llm_backend_submit(b, &r, both_piece, both_done, &j2, &id2)); /* fills the queue */
  CHECK_INT(llm_backend_submit(b, &r, both_piece, both_done, &j3, &id3), MIMIC_EBUSY);
  CHECK(strstr(err_msg(), "queue is full") != NULL);
  llm_backend_stats st;
  llm_backend_stats_get(b, &st);
  CHECK_INT(st.running, 1);
  CHECK_INT(st.queued, 1);
  CHECK(id1 != id2 && id1 && id2);

  CHECK_OK(llm_backend_cancel(b, id1));
  wait_done(&j1.d);
  CHECK_INT(j1.d.finish, LLM_FINISH_CANCELLED);
  CHECK_STR(j1.d.text, "first");
  wait_done(&j2.d);
  CHECK_INT(j2.d.finish, LLM_FINISH_CANCELLED);
  CHECK_INT(j2.d.fired, 1);
  CHECK_INT(llm_backend_cancel(b, id1), MIMIC_ENOTFOUND);

  /* Shutdown with one running job: its done fires (cancelled) before destroy returns. */
  both j4;
  both_init(&j4);
  CHECK_OK(llm_backend_submit(b, &r, both_piece, both_done, &j4, NULL));
  wait_pieces(&j4.c, 1);
  llm_backend_destroy(b);
  CHECK_INT(j4.d.fired, 1);
  CHECK_INT(j4.d.finish, LLM_FINISH_CANCELLED);
  CHECK_INT(j3.d.fired, 0); /* refused submits never call back */
}

int main(void) {
  log_set_level(LOG_WARN);
  if (server_start()) {
    printf("cannot listen on 127.0.0.1\n");
    return 1;
  }
  RUN(streams_pieces_in_order_and_sends_the_contract);
  RUN(images_go_as_image_url_parts);
  RUN(stop_string_split_across_chunks_is_cut);
  RUN(http_and_protocol_errors_are_clear);
  RUN(plain_json_answer_and_completions_route);
  RUN(connection_refused_is_a_clear_error);
  RUN(bad_options_and_requests_are_refused);
  RUN(key_file_is_read_and_sent);
  RUN(cancel_queue_full_and_shutdown);
  server_stop();
  TEST_MAIN_END();
}
