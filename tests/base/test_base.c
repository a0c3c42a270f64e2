/* Tests for the base layer: buffers, UTF-8, strings, timestamps, errors, queues, logging. */
#include <pthread.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

TEST(buf_caps_and_grows) {
  buf b;
  buf_init(&b, 10);
  CHECK_OK(buf_puts(&b, "hello"));
  CHECK_OK(buf_printf(&b, "%d", 1234));
  CHECK_STR(b.data, "hello1234");
  CHECK_INT(buf_puts(&b, "xx"), MIMIC_ERANGE);
  CHECK_STR(b.data, "hello1234"); /* unchanged on failure */
  buf_consume(&b, 5);
  CHECK_STR(b.data, "1234");
  char *s = buf_steal(&b);
  CHECK_STR(s, "1234");
  CHECK(b.data == NULL);
  mem_free(s);
  buf_free(&b);
}

/* A fixed buf writes into caller storage, never allocates, and refuses what does not fit. */
TEST(buf_fixed_storage) {
  char store[8];
  buf b;
  buf_init_fixed(&b, store, sizeof store);
  CHECK_STR(store, "");
  mem_fail_after(mem_count()); /* any allocation would fail the appends below */
  CHECK_OK(buf_puts(&b, "abc"));
  CHECK_OK(buf_printf(&b, "%d", 1234));
  CHECK_STR(store, "abc1234");
  CHECK_INT(buf_putc(&b, 'x'), MIMIC_ERANGE); /* 7 bytes + NUL fill it */
  CHECK_STR(store, "abc1234");
  mem_fail_after(-1);
  char *copy = buf_steal(&b);
  CHECK_STR(copy, "abc1234");
  mem_free(copy);
  CHECK_INT(b.len, 0);
  CHECK_OK(buf_puts(&b, "z"));
  buf_free(&b); /* only empties it */
  CHECK_STR(store, "");
}

TEST(buf_survives_allocation_failure) {
  buf b;
  buf_init(&b, 0);
  mem_fail_after(mem_count());
  CHECK_INT(buf_puts(&b, "abc"), MIMIC_ENOMEM);
  mem_fail_after(-1);
  CHECK(b.len == 0);
  CHECK_OK(buf_puts(&b, "abc"));
  buf_free(&b);
}

TEST(utf8_strict) {
  uint32_t cp;
  CHECK_INT(utf8_decode("\xF0\x9F\x92\x80", 4, &cp), 4);
  CHECK_INT(cp, 0x1F480);
  CHECK_INT(utf8_decode("\xC0\xAF", 2, &cp), -1);         /* overlong */
  CHECK_INT(utf8_decode("\xED\xA0\x80", 3, &cp), -1);     /* surrogate */
  CHECK_INT(utf8_decode("\xF4\x90\x80\x80", 4, &cp), -1); /* > U+10FFFF */
  CHECK_INT(utf8_decode("\xE2\x82", 2, &cp), -1);         /* truncated */
  CHECK(utf8_valid("héllo 💀", strlen("héllo 💀")));
  CHECK(!utf8_valid("a\xFF"
                    "b",
                    3));
  char *r = utf8_repair("a\xFF"
                        "b",
                        3);
  CHECK_STR(r, "a\xEF\xBF\xBD"
               "b");
  mem_free(r);
  const char *s = "a💀";
  CHECK_INT(utf8_floor(s, 5, 3), 1);
  CHECK_INT(utf8_count(s, 5), 2);
  char out[4];
  CHECK_INT(utf8_encode(0x1F480, out), 4);
  CHECK(memcmp(out, "\xF0\x9F\x92\x80", 4) == 0);
}

TEST(str_parsers_reject_junk) {
  int64_t v;
  uint64_t u;
  double d;
  bool b;
  CHECK_OK(str_to_i64(" 42 ", &v));
  CHECK_INT(v, 42);
  CHECK_INT(str_to_i64("42x", &v), MIMIC_EINVAL);
  CHECK_INT(str_to_i64("", &v), MIMIC_EINVAL);
  CHECK_INT(str_to_i64("99999999999999999999", &v), MIMIC_ERANGE);
  CHECK_OK(str_to_u64("1234567890123456789", &u));
  CHECK(u == 1234567890123456789ull);
  CHECK_INT(str_to_u64("-1", &u), MIMIC_EINVAL);
  CHECK_OK(str_to_double("0.25", &d));
  CHECK_NEAR(d, 0.25, 0);
  CHECK_INT(str_to_double("nan", &d), MIMIC_EINVAL);
  CHECK_OK(str_to_bool("Yes", &b));
  CHECK(b);
  CHECK_INT(str_to_bool("maybe", &b), MIMIC_EINVAL);
}

TEST(iso8601_round_trip) {
  int64_t ms;
  CHECK_OK(clock_parse_iso8601("2024-02-29T23:59:58.1234567+00:00", &ms));
  char out[32];
  clock_iso8601(ms, out);
  CHECK_STR(out, "2024-02-29T23:59:58.123Z");
  CHECK_OK(clock_parse_iso8601("2020-01-01T01:00:00+01:00", &ms));
  CHECK(ms == 1577836800000LL);
  CHECK_OK(clock_parse_iso8601("1970-01-01T00:00:00Z", &ms));
  CHECK(ms == 0);
  CHECK_INT(clock_parse_iso8601("2020-13-01T00:00:00Z", &ms), MIMIC_EFORMAT);
  CHECK_INT(clock_parse_iso8601("yesterday", &ms), MIMIC_EFORMAT);
}

TEST(errors_carry_context) {
  err_clear();
  CHECK_INT(err_set(MIMIC_EFORMAT, "tensor %s: bad offset", "blk.0"), MIMIC_EFORMAT);
  err_prefix(MIMIC_EFORMAT, "model.gguf");
  CHECK_STR(err_msg(), "model.gguf: tensor blk.0: bad offset");
}

TEST(json_helpers) {
  const char *doc = "{\"id\":\"1234567890123456789\",\"n\":3,\"ok\":true,\"s\":\"x\"}";
  json_t *v = jv_parse(doc, strlen(doc), "test");
  REQUIRE(v);
  CHECK(jv_snowflake(v, "id") == 1234567890123456789ull);
  CHECK(jv_snowflake_value(json_object_get(v, "id")) == 1234567890123456789ull);
  CHECK(jv_snowflake_value(json_object_get(v, "n")) == 3); /* integers, leniently */
  CHECK(jv_snowflake_value(json_object_get(v, "s")) == 0); /* not a number */
  CHECK(jv_snowflake_value(NULL) == 0);
  CHECK_INT(jv_int(v, "n", -1), 3);
  CHECK_INT(jv_int(v, "missing", -1), -1);
  CHECK_STR(jv_str(v, "n", "dflt"), "dflt"); /* wrong type -> default */
  CHECK(jv_bool(v, "ok", false));
  json_decref(v);
  CHECK(jv_parse("{\"a\":", 5, "payload") == NULL);
  CHECK(strstr(err_msg(), "payload: line 1") != NULL);
}

static void *producer(void *arg) {
  queue *q = arg;
  for (long i = 1; i <= 1000; i++)
    if (queue_push(q, (void *)i)) break;
  return NULL;
}

TEST(queue_mpmc) {
  queue *q = queue_new(8);
  pthread_t t[2];
  pthread_create(&t[0], NULL, producer, q);
  pthread_create(&t[1], NULL, producer, q);
  long sum = 0;
  for (int i = 0; i < 2000; i++) sum += (long)queue_pop(q);
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  CHECK_INT(sum, 2 * 500500);
  CHECK(queue_try_pop(q) == NULL);
  for (long i = 1; i <= 8; i++) CHECK_OK(queue_try_push(q, (void *)i));
  CHECK_INT(queue_try_push(q, (void *)9), MIMIC_EBUSY);
  queue_close(q);
  CHECK_INT(queue_try_push(q, (void *)9), MIMIC_ECANCELLED);
  long left = 0;
  void *it;
  while ((it = queue_pop(q)) != NULL) left += (long)it;
  CHECK_INT(left, 36);
  queue_destroy(q);
}

static void count_job(void *job, void *user) {
  (void)job;
  __atomic_add_fetch((long *)user, 1, __ATOMIC_SEQ_CST);
}

TEST(pool_runs_every_job) {
  long done = 0;
  pool *p = pool_new(3, 256, count_job, &done);
  REQUIRE(p);
  for (int i = 0; i < 200; i++) CHECK_OK(pool_submit(p, &done));
  pool_destroy(p); /* drains the queue before joining */
  CHECK_INT(done, 200);
}

static char last_line[8192];
static void sink(log_level lv, const char *line, void *user) {
  (void)lv;
  (void)user;
  str_lcpy(last_line, line, sizeof last_line);
}

TEST(log_redacts_secrets_and_control_chars) {
  log_reset();
  log_set_sink(sink, NULL);
  log_add_secret("MTIzNDU2Nzg5.secret-token-value");
  FILE *devnull = fopen("/dev/null", "w");
  int saved = dup(2);
  dup2(fileno(devnull), 2);
  LOG_I("rest", "Authorization: Bot %s and again %s\nforged line",
        "MTIzNDU2Nzg5.secret-token-value", "MTIzNDU2Nzg5.secret-token-value");
  LOG_D("gateway", "hidden at info level");
  dup2(saved, 2);
  close(saved);
  fclose(devnull);
  CHECK(strstr(last_line, "secret-token") == NULL);
  CHECK(strstr(last_line, "[redacted]") != NULL);
  CHECK(strchr(last_line, '\n') == NULL);
  CHECK(!log_enabled(LOG_TRACE, "gateway"));
  log_set_trace("rest,gateway");
  CHECK(log_enabled(LOG_TRACE, "gateway"));
  CHECK(!log_enabled(LOG_TRACE, "engine"));
  log_reset();
}

int main(void) {
  RUN(buf_caps_and_grows);
  RUN(buf_fixed_storage);
  RUN(buf_survives_allocation_failure);
  RUN(utf8_strict);
  RUN(str_parsers_reject_junk);
  RUN(iso8601_round_trip);
  RUN(errors_carry_context);
  RUN(json_helpers);
  RUN(queue_mpmc);
  RUN(pool_runs_every_job);
  RUN(log_redacts_secrets_and_control_chars);
  TEST_MAIN_END();
}
