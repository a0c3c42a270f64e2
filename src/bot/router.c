/* The reply router (see router.h). Order of checks: who wrote it (self, bots, webhooks, system,
 * ignored users), where (channel allow-list), whether it was already answered, whether it is
 * addressed to the bot (mention, reply, DM: always answered, subject only to the flood guard), then
 * keywords, the channel cooldown and the random roll (boosted in an active conversation). */
#include "bot/router.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

#define ROUTER_SEEN_MAX     4096 /* answered message ids remembered */
#define ROUTER_FLOOD_SLOTS  64   /* reply timestamps kept per user (>= flood_per_min cap) */
#define ROUTER_KEYWORDS_MAX 64

typedef struct chan_state {
  int64_t last_spoke_ms;      /* the bot's last message here */
  int64_t last_unprompted_ms; /* last unprompted reply (cooldown) */
  int64_t prev_unprompted_ms; /* value before the last charge, for router_forget */
} chan_state;

typedef struct user_state {
  int64_t times[ROUTER_FLOOD_SLOTS];
  int n, head;
} user_state;

struct router {
  uint64_t self_id;
  double rate, boost;
  int64_t active_ms, cooldown_ms;
  int flood_per_min;
  char *keywords[ROUTER_KEYWORDS_MAX];
  int n_keywords;
  map_u64 allow_bots, channels, ignored, chans, users, seen;
  uint64_t seen_ring[ROUTER_SEEN_MAX];
  int seen_head;
};

void router_set_params(router *r, const router_params *p) {
  r->rate = p->rate;
  r->boost = p->active_boost < 1 ? 1 : p->active_boost;
  r->active_ms = p->active_window_ms;
  r->cooldown_ms = p->cooldown_ms;
  r->flood_per_min = p->flood_per_min > ROUTER_FLOOD_SLOTS ? ROUTER_FLOOD_SLOTS : p->flood_per_min;
  for (int i = 0; i < r->n_keywords; i++) mem_free(r->keywords[i]);
  r->n_keywords = 0;
  const char *k = p->keywords ? p->keywords : "";
  while (*k && r->n_keywords < ROUTER_KEYWORDS_MAX) {
    const char *e = strchr(k, ',');
    size_t n = e ? (size_t)(e - k) : strlen(k);
    char *w = xalloc(n + 1);
    memcpy(w, k, n);
    w[n] = 0;
    str_trim(w);
    for (char *c = w; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (*w)
      r->keywords[r->n_keywords++] = w;
    else
      mem_free(w);
    k += n;
    if (*k == ',') k++;
  }
  map_set_ids(&r->allow_bots, p->allow_bots);
  map_set_ids(&r->channels, p->channels);
}

router *router_new(uint64_t self_id, const router_params *p) {
  router *r = xcalloc(1, sizeof *r);
  r->self_id = self_id;
  map_init(&r->allow_bots);
  map_init(&r->channels);
  map_init(&r->ignored);
  map_init(&r->chans);
  map_init(&r->users);
  map_init(&r->seen);
  router_set_params(r, p);
  return r;
}

static void free_values(map_u64 *m) {
  size_t it = 0;
  void *v;
  while (map_next(m, &it, NULL, &v)) mem_free(v);
  map_free(m);
}

void router_destroy(router *r) {
  if (!r) return;
  for (int i = 0; i < r->n_keywords; i++) mem_free(r->keywords[i]);
  map_free(&r->allow_bots);
  map_free(&r->channels);
  map_free(&r->ignored);
  free_values(&r->chans);
  free_values(&r->users);
  map_free(&r->seen);
  mem_free(r);
}

void router_set_self(router *r, uint64_t self_id) { r->self_id = self_id; }

void router_set_ignored_user(router *r, uint64_t user_id, bool ignored) {
  if (ignored)
    map_put(&r->ignored, user_id, (void *)1);
  else
    map_del(&r->ignored, user_id);
}

static chan_state *chan_of(router *r, uint64_t id) {
  chan_state *c = map_get(&r->chans, id);
  if (!c) {
    c = xcalloc(1, sizeof *c);
    c->last_spoke_ms = c->last_unprompted_ms = c->prev_unprompted_ms = INT64_MIN / 2;
    map_put(&r->chans, id, c);
  }
  return c;
}

/* Whole-word, case-insensitive keyword match (ASCII word boundaries; keywords may hold spaces). */
static bool has_keyword(const router *r, const char *text) {
  if (!text) return false;
  for (int i = 0; i < r->n_keywords; i++) {
    const char *kw = r->keywords[i];
    size_t kl = strlen(kw);
    for (const char *p = text; *p; p++) {
      if (strncasecmp(p, kw, kl) != 0) continue;
      bool left = p == text || !isalnum((unsigned char)p[-1]);
      bool right = !isalnum((unsigned char)p[kl]);
      if (left && right) return true;
    }
  }
  return false;
}

/* Counts replies to the user in the last minute; true when at the cap. */
static bool flooded(router *r, uint64_t user, int64_t now) {
  if (r->flood_per_min <= 0) return false;
  user_state *u = map_get(&r->users, user);
  if (!u) return false;
  int recent = 0;
  for (int i = 0; i < u->n; i++)
    if (now - u->times[i] < 60000) recent++;
  return recent >= r->flood_per_min;
}

static void charge_user(router *r, uint64_t user, int64_t now) {
  user_state *u = map_get(&r->users, user);
  if (!u) {
    u = xcalloc(1, sizeof *u);
    map_put(&r->users, user, u);
  }
  u->times[u->head] = now;
  u->head = (u->head + 1) % ROUTER_FLOOD_SLOTS;
  if (u->n < ROUTER_FLOOD_SLOTS) u->n++;
}

static void remember(router *r, uint64_t id) {
  uint64_t old = r->seen_ring[r->seen_head];
  if (old) map_del(&r->seen, old);
  r->seen_ring[r->seen_head] = id;
  r->seen_head = (r->seen_head + 1) % ROUTER_SEEN_MAX;
  map_put(&r->seen, id, (void *)1);
}

static bool channel_allowed(const router *r, const router_msg *m) {
  if (m->is_dm || r->channels.len == 0) return true;
  return map_get(&r->channels, m->channel_id) ||
         (m->parent_id && map_get(&r->channels, m->parent_id));
}

router_verdict router_decide(router *r, const router_msg *m, int64_t now, double roll) {
  if (m->author_id == r->self_id) return ROUTE_IGNORE_SELF;
  if (m->webhook_id) return ROUTE_IGNORE_WEBHOOK; /* our own personas post through webhooks */
  if (m->author_bot && !map_get(&r->allow_bots, m->author_id)) return ROUTE_IGNORE_BOT;
  if (m->system) return ROUTE_IGNORE_SYSTEM;
  if (map_get(&r->ignored, m->author_id)) return ROUTE_IGNORE_USER;
  if (!channel_allowed(r, m)) return ROUTE_IGNORE_CHANNEL;
  if (m->id && map_get(&r->seen, m->id)) return ROUTE_IGNORE_DUPLICATE;

  router_verdict v;
  chan_state *c = chan_of(r, m->channel_id);
  if (m->mentions_bot)
    v = ROUTE_REPLY_MENTION;
  else if (m->reply_to_bot)
    v = ROUTE_REPLY_REPLY;
  else if (m->is_dm)
    v = ROUTE_REPLY_DM;
  else {
    if (!m->content || !*m->content) return ROUTE_IGNORE_EMPTY;
    int64_t cooldown = m->has_layered ? m->cooldown_ms : r->cooldown_ms;
    if (now - c->last_unprompted_ms < cooldown) return ROUTE_SKIP_COOLDOWN;
    if (has_keyword(r, m->content))
      v = ROUTE_REPLY_KEYWORD;
    else {
      bool active = now - c->last_spoke_ms < r->active_ms;
      double p = (m->has_layered ? m->rate : r->rate) * (active ? r->boost : 1.0);
      if (p > 1) p = 1;
      if (!(roll < p)) return ROUTE_SKIP_ROLL;
      v = active ? ROUTE_REPLY_ACTIVE : ROUTE_REPLY_RANDOM;
    }
  }
  if (flooded(r, m->author_id, now)) return ROUTE_SKIP_FLOOD;
  charge_user(r, m->author_id, now);
  if (!router_is_addressed(v)) {
    c->prev_unprompted_ms = c->last_unprompted_ms;
    c->last_unprompted_ms = now;
  }
  if (m->id) remember(r, m->id);
  return v;
}

void router_note_bot_spoke(router *r, uint64_t channel_id, int64_t now_ms) {
  chan_of(r, channel_id)->last_spoke_ms = now_ms;
}

void router_forget(router *r, uint64_t channel_id, uint64_t message_id) {
  map_del(&r->seen, message_id);
  chan_state *c = map_get(&r->chans, channel_id);
  if (c) c->last_unprompted_ms = c->prev_unprompted_ms;
}

const char *router_verdict_name(router_verdict v) {
  static const char *names[] = {
      "ignore:self",    "ignore:bot",    "ignore:webhook",   "ignore:system", "ignore:user",
      "ignore:channel", "ignore:empty",  "ignore:duplicate", "skip:cooldown", "skip:flood",
      "skip:roll",      "reply:mention", "reply:reply",      "reply:dm",      "reply:keyword",
      "reply:active",   "reply:random"};
  return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}
