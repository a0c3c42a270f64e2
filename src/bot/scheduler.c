/* The scheduler's tick (bot/scheduler.h): due jobs from the store, their next instants from cron,
 * claims, jitter and the missed-run policies. */
#include "bot/scheduler.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/cron.h"
#include "base/hash.h"
#include "base/tz.h"

struct scheduler {
  store *s;
  char tag[64];
  tz_zone *zones[SCHED_ZONES_MAX];
  int n_zones;
};

int sched_new(store *s, const char *tag, scheduler **out) {
  scheduler *sc = mem_calloc(1, sizeof *sc);
  if (!sc) return err_set(MIMIC_ENOMEM, "scheduler: out of memory");
  sc->s = s;
  str_lcpy(sc->tag, tag && *tag ? tag : "mimic", sizeof sc->tag);
  *out = sc;
  return 0;
}

void sched_destroy(scheduler *sc) {
  if (!sc) return;
  for (int i = 0; i < sc->n_zones; i++) tz_free(sc->zones[i]);
  mem_free(sc);
}

static int zone(scheduler *sc, const char *name, const tz_zone **out) {
  for (int i = 0; i < sc->n_zones; i++)
    if (!strcmp(tz_name(sc->zones[i]), name)) {
      *out = sc->zones[i];
      return 0;
    }
  tz_zone *z;
  int rc = tz_load(name, &z);
  if (rc) return rc;
  if (sc->n_zones == SCHED_ZONES_MAX) { /* forget the oldest: zones are cheap to reload */
    tz_free(sc->zones[0]);
    memmove(sc->zones, sc->zones + 1, (SCHED_ZONES_MAX - 1) * sizeof sc->zones[0]);
    sc->n_zones--;
  }
  sc->zones[sc->n_zones++] = z;
  *out = z;
  return 0;
}

static int64_t floor_s(int64_t ms) { return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); }

int sched_next_instant(scheduler *sc, const store_sched_job *j, int64_t after_ms,
                       int64_t *next_ms) {
  cron_expr e;
  int rc = cron_parse(j->expr, &e);
  if (rc) return err_prefix(rc, "job %s", j->name);
  const tz_zone *z = NULL;
  if ((rc = zone(sc, j->tz, &z))) return err_prefix(rc, "job %s", j->name);
  int64_t next;
  if ((rc = cron_next(&e, z, floor_s(after_ms), &next))) return err_prefix(rc, "job %s", j->name);
  *next_ms = next * 1000;
  return 0;
}

int64_t sched_fire_time(const store_sched_job *j, int64_t scheduled_ms) {
  if (j->jitter_s <= 0) return scheduled_ms;
  uint64_t h = hash_mix64((uint64_t)j->id * 0x9e3779b97f4a7c15ull ^ (uint64_t)scheduled_ms);
  return scheduled_ms + (int64_t)(h % ((uint64_t)j->jitter_s * 1000 + 1));
}

static int fire(scheduler *sc, const store_sched_job *j, int64_t scheduled_ms, int64_t next_ms,
                sched_run_fn run, void *user, bool missed) {
  bool won = false;
  int rc = store_sched_claim(sc->s, j->id, scheduled_ms, next_ms, sc->tag, &won);
  if (rc || !won) return rc ? rc : 0;
  char detail[256] = "";
  const char *status = "ok";
  if (missed) {
    status = "skipped";
    str_lcpy(detail, "missed while mimic was not running", sizeof detail);
  } else {
    int r = run(user, j, scheduled_ms, detail, sizeof detail);
    if (r == SCHED_RUN_SKIPPED)
      status = "skipped";
    else if (r < 0) {
      status = "failed";
      if (!detail[0]) str_lcpy(detail, err_msg(), sizeof detail);
      LOG_W("sched", "job %s failed: %s", j->name, detail);
    }
  }
  rc = store_sched_finish(sc->s, j->id, scheduled_ms, status, detail);
  return rc ? rc : 1;
}

typedef struct tick_ctx {
  scheduler *sc;
  int64_t now_ms;
  sched_run_fn run;
  void *user;
  int fired, err;
} tick_ctx;

static int disable(scheduler *sc, const store_sched_job *j) {
  LOG_W("sched", "%s; the job is disabled until it is fixed", err_msg());
  store_sched_job off = *j;
  off.enabled = false;
  return store_sched_update(sc->s, &off);
}

/* One due job. Reads and writes the store, so it runs after the listing is done. */
static int tick_job(tick_ctx *t, const store_sched_job *j) {
  scheduler *sc = t->sc;
  int64_t next;
  if (j->next_ms == 0) { /* new job: its first instant after now */
    if (sched_next_instant(sc, j, t->now_ms, &next)) return disable(sc, j);
    return store_sched_set_next(sc->s, j->id, next);
  }
  int64_t fire_at = sched_fire_time(j, j->next_ms);
  if (fire_at > t->now_ms) return 0; /* due, but its jitter has not elapsed */
  if (sched_next_instant(sc, j, j->next_ms, &next)) return disable(sc, j);
  if (t->now_ms - fire_at <= SCHED_GRACE_MS && next > t->now_ms) {
    int rc = fire(sc, j, j->next_ms, next, t->run, t->user, false);
    if (rc > 0) t->fired++;
    return rc < 0 ? rc : 0;
  }
  /* Missed (or several instants behind). Find the latest instant not after now. */
  int64_t latest = j->next_ms, after_now = next;
  for (int guard = 0; after_now <= t->now_ms && guard < 1000000; guard++) {
    latest = after_now;
    if (sched_next_instant(sc, j, latest, &after_now)) return disable(sc, j);
  }
  bool run_latest =
      j->missed == SCHED_MISSED_ONCE || t->now_ms - sched_fire_time(j, latest) <= SCHED_GRACE_MS;
  int rc = fire(sc, j, latest, after_now, t->run, t->user, !run_latest);
  if (rc > 0 && run_latest) t->fired++;
  return rc < 0 ? rc : 0;
}

typedef struct due_list {
  store_sched_job *jobs;
  size_t n, cap;
} due_list;

static int collect(const store_sched_job *j, void *user) {
  due_list *d = user;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    store_sched_job *grown = mem_realloc(d->jobs, cap * sizeof *grown);
    if (!grown) return err_set(MIMIC_ENOMEM, "scheduler: out of memory");
    d->jobs = grown, d->cap = cap;
  }
  d->jobs[d->n++] = *j;
  return 0;
}

int sched_tick(scheduler *sc, int64_t now_ms, sched_run_fn run, void *user) {
  due_list due = {0};
  int rc = store_sched_each(sc->s, now_ms, collect, &due);
  tick_ctx t = {sc, now_ms, run, user, 0, 0};
  for (size_t i = 0; !rc && i < due.n; i++) rc = tick_job(&t, &due.jobs[i]);
  mem_free(due.jobs);
  return rc ? rc : t.fired;
}

int sched_run_now(scheduler *sc, const char *name, int64_t now_ms, sched_run_fn run, void *user) {
  store_sched_job j;
  int rc = store_sched_get(sc->s, name, &j);
  if (rc) return rc;
  /* Claimed at now (an instant no schedule uses unless it collides to the millisecond), keeping
   * the job's next instant. */
  rc = fire(sc, &j, now_ms, j.next_ms, run, user, false);
  return rc < 0 ? rc : 0;
}
