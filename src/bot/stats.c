/* The bot's statistics: counters and per-generation rows go to the store as they happen (one small
 * write each), and windows (24 h, 7 d) are computed from the store on demand, so they survive
 * restarts and the dashboard can read them with its own connection. A failed write is logged and
 * never stops the bot. The bottom of the bot's stack (bot_int.h): it calls no other bot file. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "base/metrics.h"

#define BOT_LEVEL BOT_L_STATS
#include "bot/bot_int.h"

void stats__count(bot *b, const char *name, int64_t n) {
  metrics_count("mimic_bot_events_total", "Messages seen, replies, errors, skips, by event.",
                "event", name, (double)n);
  if (store_bot_count(b->db, bot__now(b), name, n)) {
    LOG_W("bot", "statistics not recorded: %s", err_msg());
    err_clear();
  }
}

void stats__record(bot *b, const bot_job *j, const char *outcome, const char *error) {
  store_bot_reply r = {
      .ts_ms = bot__now(b),
      .channel_id = j->channel_id,
      .message_id = j->message_id,
      .reason = j->instruction ? "scheduled" : router_verdict_name(j->verdict),
      .outcome = outcome,
      .latency_ms = j->latency_ms,
      .queue_ms = j->queue_ms,
      .gen_ms = j->gen_ms,
      .prompt_tokens = j->prompt_tokens,
      .cached_tokens = j->cached_tokens,
      .gen_tokens = j->gen_tokens,
      .attempts = j->attempts,
      .error = error ? error : "",
  };
  metrics_count("mimic_replies_total", "Generations, by outcome.", "outcome", outcome, 1);
  if (error && *error)
    metrics_count("mimic_reply_errors_total", "Failed generations, by reason.", "reason", r.reason,
                  1);
  metrics_observe("mimic_reply_latency_seconds", "From a message's arrival to the reply's send.",
                  METRICS_SECONDS_BOUNDS, 12, NULL, NULL, j->latency_ms / 1000);
  metrics_observe("mimic_generation_seconds", "Time spent generating one reply.",
                  METRICS_SECONDS_BOUNDS, 12, NULL, NULL, j->gen_ms / 1000);
  if (j->gen_ms > 0 && j->gen_tokens > 0)
    metrics_gauge_set("mimic_generation_tokens_per_second", "Tokens per second of the last reply.",
                      NULL, NULL, j->gen_tokens * 1000.0 / j->gen_ms);
  if (strcmp(outcome, "sent") == 0)
    metrics_gauge_set("mimic_last_reply_timestamp_seconds", "When the last reply was sent.", NULL,
                      NULL, (double)clock_wall_ms() / 1000);
  if (store_bot_reply_add(b->db, &r)) {
    LOG_W("bot", "statistics not recorded: %s", err_msg());
    err_clear();
  }
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

int bot_stats_compute(store *s, int64_t now_ms, int64_t window_ms, bot_stats *out) {
  memset(out, 0, sizeof *out);
  int64_t since = now_ms - window_ms;
  int rc;
  if ((rc = store_bot_count_sum(s, "seen", since, now_ms + 1, &out->seen)) ||
      (rc = store_bot_count_sum(s, "replies", since, now_ms + 1, &out->replies)) ||
      (rc = store_bot_count_sum(s, "errors", since, now_ms + 1, &out->errors)) ||
      (rc = store_bot_count_sum(s, "skipped", since, now_ms + 1, &out->skipped)) ||
      (rc = store_bot_count_sum(s, "empty", since, now_ms + 1, &out->empty)))
    return rc;
  double *lat = NULL;
  size_t n = 0;
  rc = store_bot_latencies(s, since, now_ms + 1, &lat, &n, &out->prompt_tokens, &out->gen_tokens);
  if (rc) return rc;
  out->p50_ms = percentile(lat, n, 50);
  out->p95_ms = percentile(lat, n, 95);
  out->p99_ms = percentile(lat, n, 99);
  out->rate = out->seen ? (double)out->replies / (double)out->seen : 0;
  mem_free(lat);
  return 0;
}

static int window_line(buf *o, const char *label, const bot_stats *st) {
  return buf_printf(o,
                    "%s: %" PRId64 " seen, %" PRId64 " replies (%.1f%%), latency p50 %.0f ms / "
                    "p95 %.0f ms / p99 %.0f ms, %" PRId64 " errors, %" PRId64 " skipped, %" PRId64
                    " empty, %" PRId64 " tokens generated\n",
                    label, st->seen, st->replies, st->rate * 100, st->p50_ms, st->p95_ms,
                    st->p99_ms, st->errors, st->skipped, st->empty, st->gen_tokens);
}

int stats__status_line(bot *b, buf *out) {
  bot_stats d, w;
  int64_t now = bot__now(b);
  if (bot_stats_compute(b->db, now, 24LL * 3600 * 1000, &d) ||
      bot_stats_compute(b->db, now, 7LL * 24 * 3600 * 1000, &w)) {
    int rc = buf_printf(out, "statistics unavailable: %s\n", err_msg());
    err_clear();
    return rc;
  }
  int rc = window_line(out, "last 24 h", &d);
  if (!rc) rc = window_line(out, "last 7 d", &w);
  return rc;
}
