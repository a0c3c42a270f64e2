/* The bot's statistics: message and reply counters per hour (bot_counters) and one row per
 * generation (bot_replies) with its latency and token counts, so `!status` and the dashboard show
 * 24 h / 7 d figures that survive restarts. What the numbers mean is the bot's business (bot/). */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

#define HOUR_MS       3600000LL
#define LATENCIES_MAX 1000000 /* rows read for percentiles (a week of a very busy bot) */

int store_bot_count(store *s, int64_t ts_ms, const char *name, int64_t n) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO bot_counters(hour_ms, name, n) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT(hour_ms, name) DO UPDATE SET n = n + excluded.n",
                 &st))
    return MIMIC_EDB;
  int64_t hour = ts_ms - ((ts_ms % HOUR_MS) + HOUR_MS) % HOUR_MS;
  sqlite3_bind_int64(st, 1, hour);
  store__bind_text(st, 2, name);
  sqlite3_bind_int64(st, 3, n);
  return store__step_done(s, st, "counting a bot event");
}

int store_bot_count_sum(store *s, const char *name, int64_t since_ms, int64_t until_ms,
                        int64_t *out) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT COALESCE(SUM(n), 0) FROM bot_counters "
                 "WHERE name = ?1 AND hour_ms >= ?2 AND hour_ms < ?3",
                 &st))
    return MIMIC_EDB;
  /* Counters are per hour: the window starts at the hour holding since_ms. */
  int64_t since = since_ms - ((since_ms % HOUR_MS) + HOUR_MS) % HOUR_MS;
  store__bind_text(st, 1, name);
  sqlite3_bind_int64(st, 2, since);
  sqlite3_bind_int64(st, 3, until_ms);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return store_err(s, "summing bot counters");
  }
  *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return 0;
}

int store_bot_reply_add(store *s, const store_bot_reply *r) {
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "INSERT INTO bot_replies(ts_ms, channel_id, message_id, reason, outcome, latency_ms,"
          " queue_ms, gen_ms, prompt_tokens, cached_tokens, gen_tokens, attempts, error) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
          &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, r->ts_ms);
  store__bind_id(st, 2, r->channel_id, 0);
  store__bind_id(st, 3, r->message_id, 0);
  store__bind_text(st, 4, r->reason ? r->reason : "");
  store__bind_text(st, 5, r->outcome ? r->outcome : "");
  sqlite3_bind_double(st, 6, r->latency_ms);
  sqlite3_bind_double(st, 7, r->queue_ms);
  sqlite3_bind_double(st, 8, r->gen_ms);
  sqlite3_bind_int(st, 9, r->prompt_tokens);
  sqlite3_bind_int(st, 10, r->cached_tokens);
  sqlite3_bind_int(st, 11, r->gen_tokens);
  sqlite3_bind_int(st, 12, r->attempts);
  /* Error texts come from backends and may quote a server; keep them valid UTF-8 and short. */
  const char *e = r->error ? r->error : "";
  char *fixed = utf8_repair(e, strnlen(e, 1024));
  store__bind_text(st, 13, fixed ? fixed : "");
  int rc = store__step_done(s, st, "recording a bot reply");
  mem_free(fixed);
  return rc;
}

int store_bot_latencies(store *s, int64_t since_ms, int64_t until_ms, double **out, size_t *n,
                        int64_t *prompt_tokens, int64_t *gen_tokens) {
  *out = NULL;
  *n = 0;
  if (prompt_tokens) *prompt_tokens = 0;
  if (gen_tokens) *gen_tokens = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT latency_ms, prompt_tokens, gen_tokens FROM bot_replies "
                 "WHERE outcome = 'sent' AND ts_ms >= ?1 AND ts_ms < ?2 ORDER BY latency_ms",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, since_ms);
  sqlite3_bind_int64(st, 2, until_ms);
  double *v = NULL;
  size_t len = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (prompt_tokens) *prompt_tokens += sqlite3_column_int64(st, 1);
    if (gen_tokens) *gen_tokens += sqlite3_column_int64(st, 2);
    if (len == LATENCIES_MAX) continue; /* keep summing tokens; percentiles of the fastest rows */
    if (len == cap) {
      cap = cap ? cap * 2 : 256;
      v = xrealloc(v, cap * sizeof *v);
    }
    v[len++] = sqlite3_column_double(st, 0);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    mem_free(v);
    return store_err(s, "reading bot latencies");
  }
  *out = v;
  *n = len;
  return 0;
}

int store_bot_prune(store *s, int64_t before_ms) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s, "DELETE FROM bot_counters WHERE hour_ms < ?1", &st))) goto out;
  sqlite3_bind_int64(st, 1, before_ms - HOUR_MS);
  if ((rc = store__step_done(s, st, "pruning bot counters"))) goto out;
  if ((rc = store_stmt(s, "DELETE FROM bot_replies WHERE ts_ms < ?1", &st))) goto out;
  sqlite3_bind_int64(st, 1, before_ms);
  if ((rc = store__step_done(s, st, "pruning bot replies"))) goto out;
  return store_tx_commit(s);
out:
  store_tx_rollback(s);
  return rc;
}
