/* The metrics registry: exact exposition text for each type, label escaping, the series cap, type
 * clashes, and counts that add up when many threads update at once. */
#include <pthread.h>

#include "base/base.h"
#include "base/metrics.h"
#include "test.h"

static char *render(void) {
  buf b;
  buf_init(&b, 0);
  CHECK_OK(metrics_render(&b));
  CHECK_OK(buf_putc(&b, 0));
  return buf_steal(&b);
}

TEST(test_counter_and_gauge) {
  metrics_reset();
  metrics_count("mimic_replies_total", "Replies sent.", "outcome", "sent", 1);
  metrics_count("mimic_replies_total", "Replies sent.", "outcome", "sent", 2);
  metrics_count("mimic_replies_total", "Replies sent.", "outcome", "failed", 1);
  metrics_count("mimic_replies_total", "Replies sent.", "outcome", "sent", -5); /* ignored */
  metrics_gauge_set("mimic_queue_depth", "Replies waiting.", NULL, NULL, 4);
  metrics_gauge_add("mimic_queue_depth", "Replies waiting.", NULL, NULL, -1.5);
  char *t = render();
  CHECK_STR(t, "# HELP mimic_replies_total Replies sent.\n"
               "# TYPE mimic_replies_total counter\n"
               "mimic_replies_total{outcome=\"sent\"} 3\n"
               "mimic_replies_total{outcome=\"failed\"} 1\n"
               "# HELP mimic_queue_depth Replies waiting.\n"
               "# TYPE mimic_queue_depth gauge\n"
               "mimic_queue_depth 2.5\n");
  mem_free(t);
  CHECK(metrics_value("mimic_replies_total", "outcome", "sent", -1) == 3);
  CHECK(metrics_value("mimic_replies_total", "outcome", "nope", -1) == -1);
  CHECK(metrics_value("mimic_nothing", NULL, NULL, 7) == 7);
}

TEST(test_histogram) {
  metrics_reset();
  static const double b[] = {0.1, 1, 10};
  metrics_observe("mimic_reply_seconds", "Reply latency.", b, 3, NULL, NULL, 0.05);
  metrics_observe("mimic_reply_seconds", "Reply latency.", b, 3, NULL, NULL, 0.5);
  metrics_observe("mimic_reply_seconds", "Reply latency.", b, 3, NULL, NULL, 100);
  char *t = render();
  CHECK_STR(t, "# HELP mimic_reply_seconds Reply latency.\n"
               "# TYPE mimic_reply_seconds histogram\n"
               "mimic_reply_seconds_bucket{le=\"0.1\"} 1\n"
               "mimic_reply_seconds_bucket{le=\"1\"} 2\n"
               "mimic_reply_seconds_bucket{le=\"10\"} 2\n"
               "mimic_reply_seconds_bucket{le=\"+Inf\"} 3\n"
               "mimic_reply_seconds_sum 100.55\n"
               "mimic_reply_seconds_count 3\n");
  mem_free(t);
  CHECK(metrics_value("mimic_reply_seconds", NULL, NULL, 0) == 3);
}

TEST(test_escaping_cap_and_clash) {
  metrics_reset();
  metrics_count("mimic_x_total", "a \\ help\nline", "bucket", "a\"b\\c\nd", 1);
  for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
    char v[16];
    snprintf(v, sizeof v, "v%d", i);
    metrics_count("mimic_y_total", "many", "bucket", v, 1);
  }
  metrics_gauge_set("mimic_x_total", "clash", NULL, NULL, 1); /* another type: ignored */
  char *t = render();
  CHECK(strstr(t, "# HELP mimic_x_total a \\\\ help\\nline\n") != NULL);
  CHECK(strstr(t, "mimic_x_total{bucket=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL);
  CHECK(strstr(t, "mimic_y_total{bucket=\"other\"} 11\n") != NULL);
  CHECK(strstr(t, "# TYPE mimic_x_total gauge") == NULL);
  mem_free(t);
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 0; i < 10000; i++) {
    metrics_count("mimic_t_total", "threads", "w", (i & 1) ? "odd" : "even", 1);
    metrics_observe("mimic_t_seconds", "threads", METRICS_SECONDS_BOUNDS, 12, NULL, NULL, 0.2);
  }
  return NULL;
}

TEST(test_threads) {
  metrics_reset();
  pthread_t th[4];
  for (int i = 0; i < 4; i++) REQUIRE(pthread_create(&th[i], NULL, worker, NULL) == 0);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  CHECK(metrics_value("mimic_t_total", "w", "odd", 0) == 20000);
  CHECK(metrics_value("mimic_t_total", "w", "even", 0) == 20000);
  CHECK(metrics_value("mimic_t_seconds", NULL, NULL, 0) == 40000);
  metrics_reset();
}

int main(void) {
  RUN(test_counter_and_gauge);
  RUN(test_histogram);
  RUN(test_escaping_cap_and_clash);
  RUN(test_threads);
  TEST_MAIN_END();
}
