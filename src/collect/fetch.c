/* The history fetcher: walks the guilds the bot is in (or the configured ones), discovers their
 * text and announcement channels, threads (active, archived public and private) and forum posts,
 * and pages each one's messages into the store through collect_fetch_store_page's transaction.
 * It runs on the REST client's libuv loop; the store is written on libuv's thread pool, one job at
 * a time, so the loop never waits on SQLite. It is not the REST client (rate limits are rest.c's
 * business) nor the page parser (fetch_page.c).
 *
 * Per channel: backward (before= the oldest stored id, LATEST the first time) until a short page
 * marks the beginning reached, then forward (after= the newest stored id) until a short page,
 * skipped when the listing's last_message_id shows nothing new. The next request of a channel is
 * sent only when its previous page is committed, so the stored cursor always describes a gap-free
 * range: a kill at any instant loses nothing and duplicates nothing. */
#include <string.h>
#include <uv.h>

#include "collect/collect_int.h"
#include "discord/api.h"
#include "discord/rest.h"

#define LIST_INFLIGHT 4      /* listing requests (guilds, channels, thread lists) at once */
#define THREAD_PAGE   100    /* archived threads per request */
#define GUILD_PAGE    200    /* guilds per request (Discord's maximum) */
#define CHANNELS_MAX  200000 /* channels and threads one run keeps track of */
#define REACTORS_PAGE 100
#define RATE_SAMPLES  16 /* progress ticks the messages/s window spans */
#define STOP_POLL_MS  50

typedef struct fetch_chan {
  collect_fetch_chan pub;
  struct collect_fetch *f;
  uint64_t last_message_id; /* from the listing; 0 when none or unknown */
  bool lmid_known;          /* the listing had the field (null: the channel has no messages) */
  int64_t msg_count;        /* threads: message_count from the listing; -1 unknown */
  bool fresh;               /* never fetched before this run (msg_count then measures progress) */
  store_fetch_state st;     /* the cursor as of the pages received (the stored one catches up as
                               they are committed, in order) */
  uint64_t top_id;          /* newest id when the backfill began (progress estimate) */
  uint64_t fwd_start;       /* newest id when forward paging began (progress estimate) */
  bool backward;            /* direction of the request in flight */
  bool started, ended;      /* chan_start / chan_end ran */
  bool in_flight;           /* a page request is out */
  bool walking;             /* its page is waiting for reactors */
  bool finished;            /* nothing more to ask: done once the pending pages are committed */
  bool store_failed;        /* a page could not be stored: later pages must not be (no gaps) */
  int pending;              /* pages received and not committed yet */
  int64_t received;         /* pages received this run */
  discord_messages *page;   /* a page waiting for its reactors */
  collect_reactors *rx;     /* the reactors found for it so far */
  size_t n_rx, cap_rx;
  size_t r_msg, r_react; /* reactor walk: message and reaction index */
  uint64_t r_after;      /* reactor walk: last user id of the previous page */
  size_t r_users;        /* reactor walk: users found for the current message */
} fetch_chan;

enum { L_GUILDS, L_CHANNELS, L_ACTIVE, L_ARCHIVED, L_PRIVATE };

typedef struct list_task {
  int kind;
  uint64_t id; /* guild (L_CHANNELS, L_ACTIVE), channel (L_ARCHIVED, L_PRIVATE), after (L_GUILDS) */
  uint64_t guild_id;
  int64_t before_ms;   /* archived lists: page before this archive time; 0 = newest */
  char name[64];       /* the parent's name, for reports */
  bool parent_fetched; /* the parent channel is fetched itself (its errors are reported there) */
  struct collect_fetch *f;
  struct list_task *next;
} list_task;

enum { J_GUILD, J_CHANNEL, J_PAGE };

typedef struct job {
  int kind;
  fetch_chan *c;          /* J_CHANNEL (NULL: only store the row), J_PAGE */
  store_guild g;          /* J_GUILD */
  store_channel row;      /* J_CHANNEL */
  discord_messages *page; /* J_PAGE, owned, with its reactors */
  collect_reactors *rx;
  size_t n_rx;
  int limit;
  bool backward;
  uint64_t ns; /* time the job took on the pool thread */
  int rc;      /* results */
  char msg[512];
  collect_page_result res;
  store_fetch_state st;
  struct job *next;
} job;

struct collect_fetch {
  store *s;
  rest *r;
  uv_loop_t *loop;
  collect_fetch_opts o;
  uint64_t *want; /* configured guilds (copy) */
  bool *want_seen;
  size_t n_want;
  fetch_chan **ch;
  size_t n_ch, cap_ch, next_start;
  map_u64 ids; /* channel id -> index + 1 */
  bool cap_warned;
  list_task *lhead, *ltail;
  int l_inflight;
  job *jhead, *jtail, *jcur;
  uv_work_t work;
  int outstanding;           /* REST callbacks still to come */
  int active;                /* channels started and not finished */
  collect_fetch_chan *extra; /* guild-level problems */
  size_t n_extra;
  uv_timer_t timer; /* polls opts.stop every STOP_POLL_MS, reports progress every progress_ms */
  uint64_t t0_ms, last_progress_ms;
  int64_t rate_msgs[RATE_SAMPLES];
  uint64_t rate_t[RATE_SAMPLES];
  unsigned rate_n;
  collect_fetch_stats st;
  int rc;
  char msg[512];
  bool stopping, finishing;
  collect_fetch_done_fn done;
  void *user;
};

static void pump(collect_fetch *f);
static void chan_plan(collect_fetch *f, fetch_chan *c);

static void rx_free(collect_reactors *rx, size_t n) {
  for (size_t i = 0; i < n; i++) discord_users_free(rx[i].users);
  mem_free(rx);
}

/* Drops a page waiting for its reactors (the channel ended or the run stops). */
static void chan_page_drop(fetch_chan *c) {
  discord_messages_free(c->page);
  c->page = NULL;
  rx_free(c->rx, c->n_rx);
  c->rx = NULL;
  c->n_rx = c->cap_rx = 0;
}

void collect_fetch_opts_default(collect_fetch_opts *o) {
  memset(o, 0, sizeof *o);
  o->concurrency = 8;
  o->page = 100;
  o->threads = true;
  o->progress_ms = 500;
}

/* ---- errors ---- */

static void fatal(collect_fetch *f, int rc, const char *msg) {
  if (!f->rc) {
    f->rc = rc;
    str_lcpy(f->msg, msg, sizeof f->msg);
    /* Not logged here: the error goes back to the caller, which reports it once. */
    LOG_D("fetch", "stopping: %s", msg);
  }
  f->stopping = true;
}

static void chan_end(collect_fetch *f, fetch_chan *c, int state) {
  if (c->ended) { /* a page committed later failed: the channel's outcome is that failure */
    if (state >= COLLECT_FETCH_UNREADABLE) c->pub.state = state;
    return;
  }
  c->ended = true;
  c->pub.state = state;
  if (state == COLLECT_FETCH_DONE) c->pub.fraction = 1;
  chan_page_drop(c);
  f->active--;
}

/* A channel's request or page failed: 403/404 make it unreadable, 401 stops everything (the token
 * is wrong), anything else fails this channel only. */
static void chan_error(collect_fetch *f, fetch_chan *c, int err, int status, int code,
                       const char *msg) {
  c->pub.status = status;
  c->pub.code = code;
  str_lcpy(c->pub.error, msg ? msg : err_name(err), sizeof c->pub.error);
  if (status == 401) {
    fatal(f, MIMIC_EAUTH, "Discord refused the bot token (401); check DISCORD_TOKEN");
    chan_end(f, c, COLLECT_FETCH_FAILED);
    return;
  }
  if (err == MIMIC_EDB || err == MIMIC_EBUSY || err == MIMIC_ECANCELLED)
    fatal(f, err, c->pub.error);
  bool unreadable = status == 403 || status == 404;
  LOG_D("fetch", "#%s (%llu): %s", c->pub.name, (unsigned long long)c->pub.id, c->pub.error);
  chan_end(f, c, unreadable ? COLLECT_FETCH_UNREADABLE : COLLECT_FETCH_FAILED);
}

static void add_problem(collect_fetch *f, uint64_t id, const char *name, int status, int code,
                        const char *msg) {
  f->extra = xrealloc(f->extra, (f->n_extra + 1) * sizeof *f->extra);
  collect_fetch_chan *p = &f->extra[f->n_extra++];
  memset(p, 0, sizeof *p);
  p->id = id;
  p->type = -1;
  str_lcpy(p->name, name, sizeof p->name);
  p->state = COLLECT_FETCH_UNREADABLE;
  p->status = status;
  p->code = code;
  str_lcpy(p->error, msg, sizeof p->error);
  LOG_D("fetch", "%s: %s", name, msg);
}

/* ---- store jobs on the thread pool ---- */

static void job_work(uv_work_t *w) {
  collect_fetch *f = w->data;
  job *j = f->jcur;
  int rc = 0;
  uint64_t t0 = clock_mono_ns();
  switch (j->kind) {
  case J_GUILD: rc = store_guild_upsert(f->s, &j->g); break;
  case J_CHANNEL:
    rc = store_channel_upsert(f->s, &j->row);
    if (!rc && j->c) {
      rc = store_fetch_state_get(f->s, j->row.id, &j->st);
      if (rc == MIMIC_ENOTFOUND) {
        memset(&j->st, 0, sizeof j->st);
        rc = 0;
      }
    }
    break;
  case J_PAGE:
    rc = collect__fetch_store_page_typed(f->s, j->c->pub.id, j->page, j->rx, j->n_rx, j->limit,
                                         j->backward, &j->res);
    break;
  default: break;
  }
  j->rc = rc;
  if (rc) str_lcpy(j->msg, err_msg(), sizeof j->msg);
  j->ns = clock_mono_ns() - t0;
}

static void job_start_next(collect_fetch *f);

static void job_done(uv_work_t *w, int status) {
  collect_fetch *f = w->data;
  job *j = f->jcur;
  f->jcur = NULL;
  (void)status; /* jobs are never cancelled (uv_cancel is not used) */
  f->st.store_seconds += (double)j->ns / 1e9;
  fetch_chan *c = j->c;
  if (j->kind == J_GUILD) {
    if (j->rc) fatal(f, j->rc, j->msg);
  } else if (j->kind == J_CHANNEL) {
    if (j->rc) {
      fatal(f, j->rc, j->msg);
      if (c) chan_end(f, c, COLLECT_FETCH_FAILED);
    } else if (c) {
      c->st = j->st;
      c->st.channel_id = c->pub.id;
      c->fresh = !c->st.oldest_id && !c->st.complete;
      chan_plan(f, c);
    }
  } else if (j->kind == J_PAGE) {
    c->pending--;
    if (j->rc) {
      c->store_failed = true;
      chan_error(f, c, j->rc, 0, 0, j->msg);
    } else {
      const collect_page_result *r = &j->res;
      c->pub.pages++;
      c->pub.messages += r->messages;
      c->pub.inserted += r->inserted;
      f->st.messages += r->messages;
      f->st.inserted += r->inserted;
      f->st.skipped_privacy += r->skipped_privacy;
      chan_plan(f, c);
    }
  }
  discord_messages_free(j->page);
  rx_free(j->rx, j->n_rx);
  mem_free(j);
  job_start_next(f);
  pump(f);
}

static void job_start_next(collect_fetch *f) {
  if (f->jcur || !f->jhead) return;
  job *j = f->jhead;
  f->jhead = j->next;
  if (!f->jhead) f->jtail = NULL;
  if (j->kind == J_PAGE && j->c->store_failed) { /* after a page that failed: would leave a gap */
    j->c->pending--;
    discord_messages_free(j->page);
    rx_free(j->rx, j->n_rx);
    mem_free(j);
    job_start_next(f);
    return;
  }
  f->jcur = j;
  f->work.data = f;
  int rc = uv_queue_work(f->loop, &f->work, job_work, job_done);
  if (rc) { /* cannot happen with a valid loop; do it inline rather than lose the page */
    job_work(&f->work);
    job_done(&f->work, 0);
  }
}

static void job_submit(collect_fetch *f, job *j) {
  if (f->jtail)
    f->jtail->next = j;
  else
    f->jhead = j;
  f->jtail = j;
  job_start_next(f);
}

/* ---- channels ---- */

static void add_chan(collect_fetch *f, uint64_t id, uint64_t guild_id, uint64_t parent_id, int type,
                     const char *name, const discord_channel *listing) {
  bool lmid_known = listing->has_last_message_id;
  uint64_t last_message_id = listing->last_message_id;
  if (!id || id > (uint64_t)INT64_MAX) return;
  uintptr_t at = map_get_uint(&f->ids, id);
  if (at) {
    fetch_chan *c = f->ch[at - 1];
    if (!c->started && lmid_known && last_message_id > c->last_message_id) {
      c->last_message_id = last_message_id;
      c->lmid_known = true;
    }
    return;
  }
  if (f->n_ch >= CHANNELS_MAX) {
    if (!f->cap_warned)
      LOG_W("fetch", "more than %d channels and threads: the rest are skipped", CHANNELS_MAX);
    f->cap_warned = true;
    return;
  }
  if (f->n_ch == f->cap_ch) {
    f->cap_ch = f->cap_ch ? f->cap_ch * 2 : 64;
    f->ch = xrealloc(f->ch, f->cap_ch * sizeof *f->ch);
  }
  fetch_chan *c = xcalloc(1, sizeof *c);
  c->f = f;
  c->pub.id = id;
  c->pub.guild_id = guild_id;
  c->pub.parent_id = parent_id;
  c->pub.type = type;
  str_lcpy(c->pub.name, name ? name : "", sizeof c->pub.name);
  c->pub.name[utf8_floor(c->pub.name, strlen(c->pub.name), strlen(c->pub.name))] = 0;
  c->last_message_id = last_message_id > (uint64_t)INT64_MAX ? 0 : last_message_id;
  c->lmid_known = lmid_known && c->last_message_id == last_message_id;
  c->msg_count = listing->message_count;
  f->ch[f->n_ch++] = c;
  map_put_uint(&f->ids, id, f->n_ch);
  f->st.channels++;
}

static void chan_start(collect_fetch *f, fetch_chan *c) {
  c->started = true;
  f->active++;
  c->pub.state = COLLECT_FETCH_BACKFILL;
  job *j = xcalloc(1, sizeof *j);
  j->kind = J_CHANNEL;
  j->c = c;
  j->row.id = c->pub.id;
  j->row.guild_id = c->pub.guild_id;
  j->row.parent_id = c->pub.parent_id;
  j->row.type = c->pub.type;
  str_lcpy(j->row.name, c->pub.name, sizeof j->row.name);
  job_submit(f, j);
}

static void reactors_next(collect_fetch *f, fetch_chan *c);

/* Hands the page (owned) and the channel's reactors for it to the store. */
static void page_submit(collect_fetch *f, fetch_chan *c, discord_messages *page) {
  job *j = xcalloc(1, sizeof *j);
  j->kind = J_PAGE;
  j->c = c;
  j->page = page;
  j->rx = c->rx;
  j->n_rx = c->n_rx;
  c->rx = NULL;
  c->n_rx = c->cap_rx = 0;
  j->limit = f->o.page;
  j->backward = c->backward;
  c->pending++;
  job_submit(f, j);
}

/* Is there anything in this page whose reactors we should ask for? */
static bool page_has_reactions(const discord_messages *page) {
  for (size_t i = 0; i < page->n; i++)
    if (page->items[i].n_reactions) return true;
  return false;
}

/* A page arrived: move the cursor as its ids say (the same way collect_fetch_store_page will move
 * the stored one), queue it for the store, and ask for the next one at once, so a channel's pages
 * are fetched while the previous one is being committed. */
static void messages_cb(const rest_result *res, discord_messages *page, void *user) {
  fetch_chan *c = user;
  collect_fetch *f = c->f;
  f->outstanding--;
  f->st.requests++;
  c->in_flight = false;
  if (c->ended) {
    /* the channel already failed */
  } else if (res->err) {
    chan_error(f, c, res->err, res->status, res->code, res->message);
  } else {
    size_t n = page->n;
    for (size_t i = 0; i < n; i++) {
      uint64_t id = page->items[i].id;
      if (!id || id > (uint64_t)INT64_MAX) continue; /* the store will refuse the page */
      if (id > c->st.newest_id) c->st.newest_id = id;
      if (!c->st.oldest_id || id < c->st.oldest_id) c->st.oldest_id = id;
    }
    if (!c->top_id) c->top_id = c->st.newest_id;
    c->received++;
    bool short_page = (int64_t)n < f->o.page;
    if (short_page && c->backward) c->st.complete = true;
    if (short_page && !c->backward) c->finished = true;
    if (f->o.reactors && !f->stopping && page_has_reactions(page)) {
      c->page = page;
      page = NULL;
      c->walking = true;
      c->r_msg = c->r_react = 0;
      c->r_after = 0;
      c->r_users = 0;
      reactors_next(f, c);
    } else {
      page_submit(f, c, page);
      page = NULL;
    }
  }
  discord_messages_free(page);
  chan_plan(f, c);
  pump(f);
}

static void messages_get(collect_fetch *f, fetch_chan *c, api_page dir, uint64_t anchor) {
  c->backward = dir != API_PAGE_AFTER;
  c->in_flight = true;
  f->outstanding++;
  int rc = api_messages_page(f->r, c->pub.id, dir, anchor, f->o.page, messages_cb, c);
  if (rc) {
    f->outstanding--;
    c->in_flight = false;
    chan_error(f, c, rc, 0, 0, err_msg());
  }
}

/* A channel's next step: backward until the beginning, then forward when the listing says (or
 * cannot say) there is something new; ends the channel when nothing is left in flight or queued.
 * At most one page waits for the store while the next request is out. */
static void chan_plan(collect_fetch *f, fetch_chan *c) {
  if (c->ended || c->in_flight || c->walking) return;
  if (f->stopping || c->finished) {
    /* the cursor is stored as far as the pages go; the next run continues there */
    if (!c->pending) chan_end(f, c, c->finished ? COLLECT_FETCH_DONE : c->pub.state);
    return;
  }
  if (c->pending > 1) return;
  if (!c->st.complete) {
    c->pub.state = COLLECT_FETCH_BACKFILL;
    messages_get(f, c, c->st.oldest_id ? API_PAGE_BEFORE : API_PAGE_LATEST, c->st.oldest_id);
    return;
  }
  if (c->pub.state != COLLECT_FETCH_FORWARD) {
    if (c->lmid_known && c->last_message_id <= c->st.newest_id) { /* nothing new since */
      c->pub.up_to_date = c->received == 0;
      c->finished = true;
      if (!c->pending) chan_end(f, c, COLLECT_FETCH_DONE);
      return;
    }
    c->pub.state = COLLECT_FETCH_FORWARD;
    c->fwd_start = c->st.newest_id;
  }
  messages_get(f, c, API_PAGE_AFTER, c->st.newest_id);
}

/* ---- reactors (--reactors) ---- */

static void reactors_cb(const rest_result *res, discord_users *users, void *user);

/* Asks for the next page of users of the current reaction, or moves on; when the page is walked,
 * hands it to the store. */
static void reactors_next(collect_fetch *f, fetch_chan *c) {
  for (;;) {
    if (!c->page || c->r_msg >= c->page->n || f->stopping) break;
    const discord_message *m = &c->page->items[c->r_msg];
    if (c->r_react >= m->n_reactions) {
      c->r_msg++;
      c->r_react = 0;
      c->r_users = 0;
      continue;
    }
    const discord_reaction_count *re = &m->reactions[c->r_react];
    const char *name = re->emoji.name;
    uint64_t eid = re->emoji.id;
    char key[300];
    int n = eid ? snprintf(key, sizeof key, "%s:%llu", name, (unsigned long long)eid)
                : snprintf(key, sizeof key, "%s", name);
    if (re->count <= 0 || !*name || !m->id || n <= 0 || (size_t)n >= sizeof key ||
        c->r_users >= FETCH_REACTORS_MAX) {
      c->r_react++;
      c->r_after = 0;
      continue;
    }
    f->outstanding++;
    int rc =
        api_reactors_page(f->r, c->pub.id, m->id, key, c->r_after, REACTORS_PAGE, reactors_cb, c);
    if (rc == 0) return;
    f->outstanding--;
    LOG_D("fetch", "reactors of %llu %s: %s", (unsigned long long)m->id, key, err_msg());
    c->r_react++;
    c->r_after = 0;
  }
  discord_messages *page = c->page;
  c->page = NULL;
  c->walking = false;
  if (!page) return; /* the channel ended meanwhile */
  page_submit(f, c, page);
  chan_plan(f, c);
}

static void reactors_cb(const rest_result *res, discord_users *users, void *user) {
  fetch_chan *c = user;
  collect_fetch *f = c->f;
  f->outstanding--;
  f->st.requests++;
  bool more = false;
  if (res->err) {
    if (res->status == 401)
      fatal(f, MIMIC_EAUTH, "Discord refused the bot token (401); check DISCORD_TOKEN");
    LOG_D("fetch", "reactors: %s", res->message);
  } else if (c->page && users) {
    size_t n = users->n;
    uint64_t last = n ? users->items[n - 1].id : 0;
    c->r_users += n;
    more = n == REACTORS_PAGE && last > c->r_after && c->r_users < FETCH_REACTORS_MAX;
    if (more) c->r_after = last;
    if (n) {
      if (c->n_rx == c->cap_rx) {
        c->cap_rx = c->cap_rx ? c->cap_rx * 2 : 8;
        c->rx = xrealloc(c->rx, c->cap_rx * sizeof *c->rx);
      }
      c->rx[c->n_rx++] = (collect_reactors){.msg = c->r_msg, .react = c->r_react, .users = users};
      users = NULL;
    }
  }
  discord_users_free(users);
  if (!more) {
    c->r_react++;
    c->r_after = 0;
  }
  reactors_next(f, c);
  pump(f);
}

/* ---- listings: guilds, channels, threads ---- */

static void list_push(collect_fetch *f, int kind, uint64_t id, uint64_t guild_id, int64_t before_ms,
                      const char *name, bool parent_fetched) {
  list_task *t = xcalloc(1, sizeof *t);
  t->kind = kind;
  t->id = id;
  t->guild_id = guild_id;
  t->before_ms = before_ms;
  t->parent_fetched = parent_fetched;
  t->f = f;
  str_lcpy(t->name, name ? name : "", sizeof t->name);
  t->name[utf8_floor(t->name, strlen(t->name), strlen(t->name))] = 0;
  if (f->ltail)
    f->ltail->next = t;
  else
    f->lhead = t;
  f->ltail = t;
}

static bool wanted(collect_fetch *f, uint64_t guild_id) {
  if (!f->n_want) return true;
  for (size_t i = 0; i < f->n_want; i++) {
    if (f->want[i] == guild_id) {
      f->want_seen[i] = true;
      return true;
    }
  }
  return false;
}

static void on_guilds(collect_fetch *f, list_task *t, const discord_guilds *gs) {
  uint64_t last = 0;
  for (size_t i = 0; i < gs->n; i++) {
    const discord_guild *g = &gs->items[i];
    uint64_t id = g->id;
    if (!id || id > (uint64_t)INT64_MAX) continue;
    if (id > last) last = id;
    if (!wanted(f, id)) continue;
    f->st.guilds++;
    job *j = xcalloc(1, sizeof *j);
    j->kind = J_GUILD;
    j->g.id = id;
    str_lcpy(j->g.name, g->name, sizeof j->g.name);
    j->g.name[utf8_floor(j->g.name, strlen(j->g.name), strlen(j->g.name))] = 0;
    job_submit(f, j);
    list_push(f, L_CHANNELS, id, id, 0, j->g.name, false);
    if (f->o.threads) list_push(f, L_ACTIVE, id, id, 0, j->g.name, false);
  }
  if (gs->n == GUILD_PAGE && last > t->id) {
    list_push(f, L_GUILDS, last, 0, 0, "", false);
    return;
  }
  for (size_t k = 0; k < f->n_want; k++) {
    if (f->want_seen[k]) continue;
    char name[64];
    snprintf(name, sizeof name, "guild %llu", (unsigned long long)f->want[k]);
    add_problem(f, f->want[k], name, 0, 0,
                "the bot is not a member of this guild (check discord.guilds and the invite)");
  }
}

static void on_channels(collect_fetch *f, list_task *t, const discord_channels *list) {
  for (size_t i = 0; i < list->n; i++) {
    const discord_channel *ch = &list->items[i];
    uint64_t id = ch->id;
    int type = ch->type;
    const char *name = ch->name;
    uint64_t parent = ch->parent_id;
    if (parent > (uint64_t)INT64_MAX) parent = 0;
    bool text = type == STORE_CH_GUILD_TEXT || type == STORE_CH_GUILD_NEWS;
    bool forum = type == STORE_CH_FORUM || type == 16 /* GUILD_MEDIA */;
    if (!id || id > (uint64_t)INT64_MAX || (!text && !forum)) continue;
    if (text) {
      add_chan(f, id, t->guild_id, parent, type, name, ch);
    } else { /* a forum has no messages of its own: keep its row for names, list its posts */
      job *j = xcalloc(1, sizeof *j);
      j->kind = J_CHANNEL;
      j->row =
          (store_channel){.id = id, .guild_id = t->guild_id, .parent_id = parent, .type = type};
      str_lcpy(j->row.name, name, sizeof j->row.name);
      j->row.name[utf8_floor(j->row.name, strlen(j->row.name), strlen(j->row.name))] = 0;
      job_submit(f, j);
    }
    if (f->o.threads) {
      list_push(f, L_ARCHIVED, id, t->guild_id, 0, name, text);
      if (type == STORE_CH_GUILD_TEXT) list_push(f, L_PRIVATE, id, t->guild_id, 0, name, text);
    }
  }
}

static void add_threads(collect_fetch *f, list_task *t, const discord_channels *threads) {
  for (size_t i = 0; i < threads->n; i++) {
    const discord_channel *th = &threads->items[i];
    int type = th->type;
    if (type != STORE_CH_NEWS_THREAD && type != STORE_CH_PUBLIC_THREAD &&
        type != STORE_CH_PRIVATE_THREAD)
      continue;
    uint64_t parent = th->parent_id;
    uint64_t guild = th->guild_id;
    add_chan(f, th->id, guild ? guild : t->guild_id, parent > (uint64_t)INT64_MAX ? 0 : parent,
             type, th->name, th);
  }
}

/* Archived threads come newest archived first; the next page is before the oldest archive time
 * seen. Times are compared in milliseconds: the next page starts 1 ms after the oldest one seen, so
 * a thread archived in that same millisecond is listed again (and ignored as known), never lost. */
static void on_archived(collect_fetch *f, list_task *t, const discord_channels *threads) {
  add_threads(f, t, threads);
  if (!threads->has_more || !threads->n) return;
  int64_t oldest = INT64_MAX;
  for (size_t i = 0; i < threads->n; i++) {
    int64_t ms = threads->items[i].archive_ms;
    if (ms && ms < oldest) oldest = ms;
  }
  int64_t next = oldest == INT64_MAX ? 0 : oldest + 1;
  if (t->before_ms && next >= t->before_ms) next = oldest; /* a full page within one millisecond */
  if (next <= 0 || (t->before_ms && next >= t->before_ms)) {
    LOG_W("fetch", "#%s: archived threads: cannot page further (timestamps do not advance)",
          t->name);
    return;
  }
  list_push(f, t->kind, t->id, t->guild_id, next, t->name, t->parent_fetched);
}

/* Both listing callbacks: count the answer and report a refusal; false when there is nothing to
 * read (an error, or the run is stopping). */
static bool list_answer(collect_fetch *f, list_task *t, const rest_result *res) {
  f->outstanding--;
  f->l_inflight--;
  f->st.requests++;
  if (res->err) {
    char what[160];
    if (res->status == 401) {
      fatal(f, MIMIC_EAUTH, "Discord refused the bot token (401); check DISCORD_TOKEN");
    } else if (t->kind == L_GUILDS) {
      fatal(f, res->err, res->message);
    } else if (t->kind == L_PRIVATE && (res->status == 403 || res->status == 404)) {
      f->st.private_lists_denied++; /* needs Manage Threads: usual for a bot, not a problem */
      LOG_D("fetch", "#%s: private archived threads: %s", t->name, res->message);
    } else if (t->kind == L_ARCHIVED && t->parent_fetched) {
      LOG_D("fetch", "#%s: archived threads: %s", t->name, res->message); /* reported there */
    } else if (res->err == MIMIC_ECANCELLED) {
      fatal(f, res->err, res->message);
    } else {
      snprintf(what, sizeof what, "%s%s%s",
               t->kind == L_CHANNELS || t->kind == L_ACTIVE ? "guild " : "#", t->name,
               t->kind == L_CHANNELS ? " (channel list)"
               : t->kind == L_ACTIVE ? " (active threads)"
                                     : " (archived threads)");
      add_problem(f, t->id, what, res->status, res->code, res->message);
    }
    return false;
  }
  return !f->stopping;
}

static void guilds_cb(const rest_result *res, discord_guilds *gs, void *user) {
  list_task *t = user;
  collect_fetch *f = t->f;
  if (list_answer(f, t, res)) on_guilds(f, t, gs);
  discord_guilds_free(gs);
  mem_free(t);
  pump(f);
}

static void channels_cb(const rest_result *res, discord_channels *list, void *user) {
  list_task *t = user;
  collect_fetch *f = t->f;
  if (list_answer(f, t, res)) {
    switch (t->kind) {
    case L_CHANNELS: on_channels(f, t, list); break;
    case L_ACTIVE: add_threads(f, t, list); break;
    default: on_archived(f, t, list); break;
    }
  }
  discord_channels_free(list);
  mem_free(t);
  pump(f);
}

static void list_start(collect_fetch *f, list_task *t) {
  int rc;
  char before[32];
  if (t->before_ms) clock_iso8601(t->before_ms, before);
  f->outstanding++;
  f->l_inflight++;
  const char *b = t->before_ms ? before : NULL;
  switch (t->kind) {
  case L_GUILDS: rc = api_guilds_page(f->r, t->id, GUILD_PAGE, guilds_cb, t); break;
  case L_CHANNELS:
    rc = api_channels_list(f->r, API_LIST_CHANNELS, t->id, NULL, 0, channels_cb, t);
    break;
  case L_ACTIVE:
    rc = api_channels_list(f->r, API_LIST_ACTIVE_THREADS, t->id, NULL, 0, channels_cb, t);
    break;
  case L_ARCHIVED:
    rc = api_channels_list(f->r, API_LIST_ARCHIVED_THREADS, t->id, b, THREAD_PAGE, channels_cb, t);
    break;
  default:
    rc = api_channels_list(f->r, API_LIST_PRIVATE_THREADS, t->id, b, THREAD_PAGE, channels_cb, t);
    break;
  }
  if (rc) {
    f->outstanding--;
    f->l_inflight--;
    fatal(f, rc, err_msg());
    mem_free(t);
  }
}

/* ---- progress ---- */

static double chan_fraction(const fetch_chan *c) {
  switch (c->pub.state) {
  case COLLECT_FETCH_QUEUED: return 0;
  case COLLECT_FETCH_BACKFILL: {
    if (!c->started || !c->top_id || !c->st.oldest_id) return 0;
    if (c->fresh && c->msg_count > 0) {
      double x = (double)c->pub.messages / (double)c->msg_count;
      return x > 0.99 ? 0.99 : x;
    }
    double top = (double)collect_snowflake_ms(c->top_id);
    double born = (double)collect_snowflake_ms(c->pub.id);
    double cur = (double)collect_snowflake_ms(c->st.oldest_id);
    if (top <= born) return 0.5;
    double x = (top - cur) / (top - born);
    return x < 0 ? 0 : x > 0.99 ? 0.99 : x;
  }
  case COLLECT_FETCH_FORWARD: {
    if (c->last_message_id <= c->fwd_start) return 0.5;
    double a = (double)collect_snowflake_ms(c->fwd_start);
    double b = (double)collect_snowflake_ms(c->last_message_id);
    double cur = (double)collect_snowflake_ms(c->st.newest_id);
    double x = b > a ? (cur - a) / (b - a) : 0.5;
    return x < 0 ? 0 : x > 0.99 ? 0.99 : x;
  }
  default: return 1;
  }
}

/* Fills f->st (counts, rate, fraction, ETA); list left to the caller. The whole job is estimated
 * in messages: a channel in flight that has covered a share x of its history with m messages has
 * about m (1 - x) / x left; a channel not started yet (or too early to tell) is assumed as big as
 * the average channel seen so far. The ETA divides what is left by the recent rate. */
static void snapshot(collect_fetch *f) {
  collect_fetch_stats *st = &f->st;
  uint64_t now = clock_mono_ms();
  st->seconds = (double)(now - f->t0_ms) / 1000.0;
  st->done = st->up_to_date = st->unreadable = st->failed = st->active = 0;
  double left = 0, seen_total = 0;
  int seen = 0, unknown = 0;
  for (size_t i = 0; i < f->n_ch; i++) {
    fetch_chan *c = f->ch[i];
    c->pub.fraction = chan_fraction(c);
    double m = (double)c->pub.messages;
    switch (c->pub.state) {
    case COLLECT_FETCH_DONE:
      st->done++;
      st->up_to_date += c->pub.up_to_date;
      seen_total += m;
      seen++;
      break;
    case COLLECT_FETCH_UNREADABLE: st->unreadable++; break;
    case COLLECT_FETCH_FAILED: st->failed++; break;
    case COLLECT_FETCH_QUEUED: unknown++; break;
    default:
      if (c->ended) break; /* stopped */
      if (c->pub.fraction >= 0.02 && m > 0) {
        double more = m * (1 - c->pub.fraction) / c->pub.fraction;
        left += more;
        seen_total += m + more;
        seen++;
      } else {
        unknown++;
      }
      break;
    }
  }
  st->unreadable += (int)f->n_extra;
  st->active = f->active;
  left += unknown * (seen ? seen_total / seen : 0);
  double all = (double)st->messages + left;
  bool busy = f->lhead || f->l_inflight || f->active || f->next_start < f->n_ch;
  st->fraction = !busy ? 1 : all > 0 ? (double)st->messages / all : 0;
  if (busy && st->fraction > 0.99) st->fraction = 0.99;
  /* messages/s over the last RATE_SAMPLES calls */
  unsigned k = f->rate_n % RATE_SAMPLES;
  f->rate_msgs[k] = st->messages;
  f->rate_t[k] = now;
  f->rate_n++;
  unsigned oldest = f->rate_n > RATE_SAMPLES ? f->rate_n % RATE_SAMPLES : 0;
  uint64_t dt = now - f->rate_t[oldest];
  st->rate = dt                ? (double)(st->messages - f->rate_msgs[oldest]) * 1000.0 / (double)dt
             : st->seconds > 0 ? (double)st->messages / st->seconds
                               : 0;
  st->eta_s = !busy ? 0 : st->rate > 0 && (seen || !unknown) ? left / st->rate : -1;
}

static void timer_cb(uv_timer_t *t) {
  collect_fetch *f = t->data;
  if (f->o.stop && *f->o.stop && !f->stopping) collect_fetch_cancel(f);
  if (!f->o.progress || f->finishing) return;
  uint64_t now = clock_mono_ms();
  if (now - f->last_progress_ms + STOP_POLL_MS / 2 < f->o.progress_ms) return;
  f->last_progress_ms = now;
  snapshot(f);
  const collect_fetch_chan **list = xcalloc(f->n_ch + 1, sizeof *list);
  size_t n = 0;
  for (size_t i = 0; i < f->n_ch; i++) {
    fetch_chan *c = f->ch[i];
    if (c->started &&
        (c->pub.state == COLLECT_FETCH_BACKFILL || c->pub.state == COLLECT_FETCH_FORWARD))
      list[n++] = &c->pub;
  }
  f->st.list = list;
  f->st.n_list = n;
  f->st.final = false;
  f->o.progress(&f->st, f->o.user);
  f->st.list = NULL;
  f->st.n_list = 0;
  mem_free(list);
}

/* ---- the run ---- */

static void fetch_free(collect_fetch *f) {
  for (size_t i = 0; i < f->n_ch; i++) {
    chan_page_drop(f->ch[i]);
    mem_free(f->ch[i]);
  }
  mem_free(f->ch);
  while (f->lhead) {
    list_task *t = f->lhead;
    f->lhead = t->next;
    mem_free(t);
  }
  map_free(&f->ids);
  mem_free(f->extra);
  mem_free(f->want);
  mem_free(f->want_seen);
  mem_free(f);
}

static void timer_closed(uv_handle_t *h) {
  collect_fetch *f = h->data;
  snapshot(f);
  f->st.final = true;
  f->st.active = 0;
  size_t cap = f->n_extra + 1;
  for (size_t i = 0; i < f->n_ch; i++) cap += f->ch[i]->pub.state >= COLLECT_FETCH_UNREADABLE;
  const collect_fetch_chan **list = xcalloc(cap, sizeof *list);
  size_t n = 0;
  for (size_t i = 0; i < f->n_extra; i++) list[n++] = &f->extra[i];
  for (size_t i = 0; i < f->n_ch; i++)
    if (f->ch[i]->pub.state >= COLLECT_FETCH_UNREADABLE) list[n++] = &f->ch[i]->pub;
  f->st.list = list;
  f->st.n_list = n;
  if (f->o.progress) f->o.progress(&f->st, f->o.user);
  LOG_I("fetch", "%s: %lld messages (%lld new) from %d channels and threads in %.1f s",
        f->rc ? "stopped" : "done", (long long)f->st.messages, (long long)f->st.inserted,
        f->st.channels, f->st.seconds);
  if (f->rc) err_set(f->rc, "%s", f->msg);
  f->done(f->rc, &f->st, f->user);
  mem_free(list);
  fetch_free(f);
}

static void maybe_finish(collect_fetch *f) {
  if (f->finishing || f->outstanding || f->jcur || f->jhead) return;
  if (!f->stopping && (f->lhead || f->l_inflight || f->next_start < f->n_ch || f->active)) return;
  f->finishing = true;
  uv_timer_stop(&f->timer);
  uv_close((uv_handle_t *)&f->timer, timer_closed);
}

static void pump(collect_fetch *f) {
  if (!f->stopping) {
    while (f->l_inflight < LIST_INFLIGHT && f->lhead && !f->stopping) {
      list_task *t = f->lhead;
      f->lhead = t->next;
      if (!f->lhead) f->ltail = NULL;
      list_start(f, t);
    }
    while (f->active < f->o.concurrency && f->next_start < f->n_ch && !f->stopping)
      chan_start(f, f->ch[f->next_start++]);
  }
  maybe_finish(f);
}

void collect_fetch_cancel(collect_fetch *f) {
  if (!f || f->finishing) return;
  if (!f->rc) {
    f->rc = MIMIC_ECANCELLED;
    str_lcpy(f->msg, "fetch stopped; run it again to continue where it stopped", sizeof f->msg);
  }
  f->stopping = true;
  pump(f);
}

int collect_fetch_start(store *s, rest *r, const collect_fetch_opts *o, collect_fetch_done_fn done,
                        void *user, collect_fetch **out) {
  if (out) *out = NULL;
  if (!s || !r || !o || !done)
    return err_set(MIMIC_EINVAL, "fetch: missing store, client or callback");
  if (o->concurrency < 1 || o->concurrency > 64)
    return err_set(MIMIC_EINVAL, "fetch: concurrency must be 1..64, not %d", o->concurrency);
  if (o->page < 1 || o->page > 100)
    return err_set(MIMIC_EINVAL, "fetch: page size must be 1..100, not %d", o->page);
  for (size_t i = 0; i < o->n_guilds; i++)
    if (!o->guilds[i] || o->guilds[i] > (uint64_t)INT64_MAX)
      return err_set(MIMIC_EINVAL, "fetch: guild id %zu is not a snowflake", i + 1);
  collect_fetch *f = xcalloc(1, sizeof *f);
  f->s = s;
  f->r = r;
  f->loop = rest_loop(r);
  f->o = *o;
  if (!f->o.progress_ms) f->o.progress_ms = 500;
  f->done = done;
  f->user = user;
  f->n_want = o->n_guilds;
  if (f->n_want) {
    f->want = xcalloc(f->n_want, sizeof *f->want);
    f->want_seen = xcalloc(f->n_want, sizeof *f->want_seen);
    memcpy(f->want, o->guilds, f->n_want * sizeof *f->want);
  }
  f->o.guilds = NULL;
  map_init(&f->ids);
  f->t0_ms = clock_mono_ms();
  f->st.eta_s = -1;
  uv_timer_init(f->loop, &f->timer);
  f->timer.data = f;
  f->last_progress_ms = f->t0_ms;
  uint64_t tick = f->o.progress_ms < STOP_POLL_MS ? f->o.progress_ms : STOP_POLL_MS;
  uv_timer_start(&f->timer, timer_cb, tick, tick);
  list_push(f, L_GUILDS, 0, 0, 0, "", false);
  pump(f);
  if (out) *out = f;
  return 0;
}

typedef struct run_state {
  bool done;
  int rc;
  collect_fetch_stats st;
} run_state;

static void run_done(int rc, const collect_fetch_stats *st, void *user) {
  run_state *rs = user;
  rs->done = true;
  rs->rc = rc;
  rs->st = *st;
  rs->st.list = NULL;
  rs->st.n_list = 0;
}

int collect_fetch_run(store *s, rest *r, const collect_fetch_opts *o, collect_fetch_stats *stats) {
  run_state rs = {0};
  if (stats) memset(stats, 0, sizeof *stats);
  int rc = collect_fetch_start(s, r, o, run_done, &rs, NULL);
  if (rc) return rc;
  while (!rs.done) uv_run(rest_loop(r), UV_RUN_ONCE);
  if (stats) *stats = rs.st;
  return rs.rc;
}
