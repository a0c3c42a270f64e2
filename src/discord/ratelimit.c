/* Discord rate limiting (see ratelimit.h and docs/internals/ratelimits.md): route keys, learned
 * buckets, the global window, 429 handling and the invalid-request budget. Pure logic; no I/O. */
#include "discord/ratelimit.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/hash.h"

/* ---- route parsing ---- */

static bool is_snowflake(const char *s, size_t n) {
  if (n == 0 || n > 20) return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  return true;
}

static bool seg_is(const char *s, size_t n, const char *word) {
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

int rl_route_parse(const char *method, const char *path, rl_route *out) {
  memset(out, 0, sizeof *out);
  if (!method || !*method || !path || path[0] != '/')
    return err_set(MIMIC_EINVAL, "REST route must start with '/'");
  size_t plen = strcspn(path, "?#");
  buf t, d, m; /* over the route's arrays: no allocation; an overflow is remembered in over */
  buf_init_fixed(&t, out->tmpl, sizeof out->tmpl);
  buf_init_fixed(&d, out->display, sizeof out->display);
  buf_init_fixed(&m, out->major, sizeof out->major);
  int over = 0;
  over |= buf_puts(&t, method);
  over |= buf_puts(&t, " ");
  over |= buf_puts(&d, method);
  over |= buf_puts(&d, " ");

  const char *segs[64];
  size_t lens[64];
  size_t nseg = 0;
  for (size_t i = 1; i <= plen;) {
    size_t j = i;
    while (j < plen && path[j] != '/') j++;
    if (nseg == 64) return err_set(MIMIC_EINVAL, "REST route has too many segments");
    segs[nseg] = path + i;
    lens[nseg] = j - i;
    nseg++;
    i = j + 1;
  }
  bool top_channel =
      nseg > 1 && seg_is(segs[0], lens[0], "channels") && is_snowflake(segs[1], lens[1]);
  bool top_guild = nseg > 1 && seg_is(segs[0], lens[0], "guilds") && is_snowflake(segs[1], lens[1]);
  bool top_hook =
      nseg > 1 && seg_is(segs[0], lens[0], "webhooks") && is_snowflake(segs[1], lens[1]);
  bool top_inter =
      nseg > 1 && seg_is(segs[0], lens[0], "interactions") && is_snowflake(segs[1], lens[1]);

  for (size_t i = 0; i < nseg; i++) {
    const char *s = segs[i];
    size_t n = lens[i];
    over |= buf_puts(&t, "/");
    over |= buf_puts(&d, "/");
    if (i == 1 && (top_channel || top_guild || top_hook || top_inter)) {
      const char *name = top_channel ? "channel_id"
                         : top_guild ? "guild_id"
                         : top_hook  ? "webhook_id"
                                     : "interaction_id";
      over |= buf_puts(&t, "{");
      over |= buf_puts(&t, name);
      over |= buf_puts(&t, "}");
      over |= buf_append(&d, s, n);
      over |= buf_puts(&m, name);
      over |= buf_puts(&m, "=");
      over |= buf_append(&m, s, n);
    } else if (i == 2 && (top_hook || top_inter)) {
      /* A webhook or interaction token: never in a log line; its hash scopes the webhook's limit.
       */
      over |= buf_puts(&t, "{token}");
      over |= buf_puts(&d, "{token}");
      if (top_hook) {
        char hx[16];
        snprintf(hx, sizeof hx, "/%08x", (unsigned)hash_fnv32(s, n));
        over |= buf_puts(&m, hx);
      }
    } else if (i > 0 && seg_is(segs[i - 1], lens[i - 1], "reactions")) {
      over |= buf_puts(&t, "{emoji}");
      over |= buf_append(&d, s, n);
    } else if (is_snowflake(s, n)) {
      over |= buf_puts(&t, "{id}");
      over |= buf_append(&d, s, n);
    } else {
      over |= buf_append(&t, s, n);
      over |= buf_append(&d, s, n);
    }
  }
  out->global_exempt = top_inter && nseg == 4 && seg_is(segs[3], lens[3], "callback");
  if (over) {
    memset(out, 0, sizeof *out);
    return err_set(MIMIC_EINVAL, "REST route is longer than %d bytes", RL_ROUTE_MAX - 1);
  }
  return 0;
}

/* ---- header parsing ---- */

void rl_headers_init(rl_headers *h) { memset(h, 0, sizeof *h); }

/* Parses a non-negative integer of at most 12 digits from s[0..n) (spaces trimmed by caller). */
static bool parse_uint(const char *s, size_t n, int64_t *out) {
  if (n == 0 || n > 12) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* Parses non-negative decimal seconds ("1.234", "60", "0.5") into milliseconds rounded up. At most
 * 9 integer digits; extra fraction digits beyond milliseconds round up. */
static bool parse_seconds_ms(const char *s, size_t n, uint64_t *out) {
  size_t i = 0;
  uint64_t whole = 0, frac_ms = 0;
  bool any = false, round_up = false;
  while (i < n && isdigit((unsigned char)s[i])) {
    if (i >= 9) return false;
    whole = whole * 10 + (uint64_t)(s[i] - '0');
    i++;
    any = true;
  }
  if (i < n && s[i] == '.') {
    i++;
    int digits = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
      if (digits < 3)
        frac_ms = frac_ms * 10 + (uint64_t)(s[i] - '0');
      else if (s[i] != '0')
        round_up = true;
      digits++;
      i++;
      any = true;
      if (digits > 32) return false;
    }
    for (; digits < 3; digits++) frac_ms *= 10;
  }
  if (!any || i != n) return false;
  *out = whole * 1000 + frac_ms + (round_up ? 1 : 0);
  return true;
}

void rl_headers_parse_line(rl_headers *h, const char *line, size_t n) {
  const char *colon = memchr(line, ':', n);
  if (!colon) return;
  size_t nl = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vn = n - nl - 1;
  while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
  while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' ' || v[vn - 1] == '\t'))
    vn--;

#define NAME_IS(lit) (nl == sizeof(lit) - 1 && strncasecmp(line, lit, nl) == 0)
  int64_t iv;
  uint64_t ms;
  if (NAME_IS("X-RateLimit-Limit")) {
    if (parse_uint(v, vn, &iv))
      h->has_limit = true, h->limit = iv;
    else
      h->malformed++;
  } else if (NAME_IS("X-RateLimit-Remaining")) {
    if (parse_uint(v, vn, &iv))
      h->has_remaining = true, h->remaining = iv;
    else
      h->malformed++;
  } else if (NAME_IS("X-RateLimit-Reset-After")) {
    if (parse_seconds_ms(v, vn, &ms))
      h->has_reset_after = true, h->reset_after_ms = ms;
    else
      h->malformed++;
  } else if (NAME_IS("Retry-After")) {
    if (parse_seconds_ms(v, vn, &ms)) {
      if (!h->has_retry_after || ms > h->retry_after_ms) h->retry_after_ms = ms;
      h->has_retry_after = true;
    } else {
      h->malformed++;
    }
  } else if (NAME_IS("X-RateLimit-Bucket")) {
    bool ok = vn > 0 && vn < RL_BUCKET_MAX;
    for (size_t i = 0; ok && i < vn; i++)
      ok = isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_' || v[i] == ':' || v[i] == '.';
    if (ok) {
      memcpy(h->bucket, v, vn);
      h->bucket[vn] = 0;
    } else {
      h->malformed++;
    }
  } else if (NAME_IS("X-RateLimit-Global")) {
    h->global = vn == 4 && strncasecmp(v, "true", 4) == 0;
  } else if (NAME_IS("X-RateLimit-Scope")) {
    if (vn == 4 && strncasecmp(v, "user", 4) == 0)
      h->scope = RL_SCOPE_USER;
    else if (vn == 6 && strncasecmp(v, "global", 6) == 0)
      h->scope = RL_SCOPE_GLOBAL;
    else if (vn == 6 && strncasecmp(v, "shared", 6) == 0)
      h->scope = RL_SCOPE_SHARED;
    else
      h->malformed++;
  }
#undef NAME_IS
}

/* ---- the limiter ---- */

/* A bucket: one rate-limit window on Discord's side. Keyed by "<bucket id or T:template>|<major>".
 * Two facts are kept, each only ever moved in the safe direction (see
 * docs/internals/ratelimits.md): `remaining` is what mimic may still send in the current window:
 * decremented when a request is reserved, only lowered by answers; `win_end` is the latest window
 * end any answer implied (an answer's now + Reset-After is never earlier than the end of the window
 * it was counted in). A new window is assumed only once win_end has passed, and requests still in
 * flight are counted in it. */
struct rl_bucket {
  char *key;
  rl_bucket *next; /* hash chain */
  bool known;      /* limits learned from headers (or a 429) */
  bool unlimited;  /* a response came back without any limit headers */
  bool fresh;      /* a new window was assumed; no answer has told its end yet */
  int64_t limit, remaining;
  uint64_t win_end;   /* monotonic ms: the latest window end any answer implied */
  uint64_t window_ms; /* longest Reset-After seen: the window's length */
  int inflight;       /* reserved and not completed */
  uint64_t last_used;
};

/* Learned mapping: route template -> X-RateLimit-Bucket id. */
typedef struct rl_alias {
  char *tmpl;
  char *bucket;
  struct rl_alias *next;
} rl_alias;

#define INV_SLOTS 600

/* One request counted against the global limit: when it was sent and when its answer came back
 * (0 while in flight). Discord saw it somewhere in between. */
typedef struct gslot {
  uint64_t sent, done;
  uint32_t seq;
} gslot;

struct rl {
  rl_opts o;
  rl_bucket **tab;
  size_t tab_size, nbuckets;
  rl_alias **atab;
  size_t atab_size, naliases;
  gslot *gring; /* the last global_limit requests, oldest at ghead */
  int ghead, gcount;
  uint32_t gseq;
  uint64_t global_blocked_until;
  uint32_t inv_count[INV_SLOTS];
  uint64_t inv_epoch[INV_SLOTS];
  uint64_t inv_slot_ms;
  rl_stats st;
};

void rl_opts_default(rl_opts *o) {
  o->global_limit = 50;
  o->global_window_ms = 1000;
  o->invalid_stop = 8000;
  o->invalid_window_ms = 600000;
  o->max_buckets = 20000;
}

rl *rl_new(const rl_opts *o) {
  rl *r = xcalloc(1, sizeof *r);
  if (o)
    r->o = *o;
  else
    rl_opts_default(&r->o);
  if (r->o.global_limit < 1) r->o.global_limit = 1;
  if (r->o.global_window_ms < 1) r->o.global_window_ms = 1;
  if (r->o.invalid_window_ms < INV_SLOTS) r->o.invalid_window_ms = INV_SLOTS;
  if (r->o.max_buckets < 16) r->o.max_buckets = 16;
  r->inv_slot_ms = r->o.invalid_window_ms / INV_SLOTS;
  r->tab_size = 256;
  r->tab = xcalloc(r->tab_size, sizeof *r->tab);
  r->atab_size = 256;
  r->atab = xcalloc(r->atab_size, sizeof *r->atab);
  r->gring = xcalloc((size_t)r->o.global_limit, sizeof *r->gring);
  return r;
}

void rl_destroy(rl *r) {
  if (!r) return;
  for (size_t i = 0; i < r->tab_size; i++)
    for (rl_bucket *b = r->tab[i], *nx; b; b = nx) {
      nx = b->next;
      mem_free(b->key);
      mem_free(b);
    }
  for (size_t i = 0; i < r->atab_size; i++)
    for (rl_alias *a = r->atab[i], *nx; a; a = nx) {
      nx = a->next;
      mem_free(a->tmpl);
      mem_free(a->bucket);
      mem_free(a);
    }
  mem_free(r->tab);
  mem_free(r->atab);
  mem_free(r->gring);
  mem_free(r);
}

static const char *alias_get(rl *r, const char *tmpl) {
  size_t i = hash_fnv32(tmpl, strlen(tmpl)) & (r->atab_size - 1);
  for (rl_alias *a = r->atab[i]; a; a = a->next)
    if (strcmp(a->tmpl, tmpl) == 0) return a->bucket;
  return NULL;
}

static void alias_set(rl *r, const char *tmpl, const char *bucket) {
  size_t i = hash_fnv32(tmpl, strlen(tmpl)) & (r->atab_size - 1);
  for (rl_alias *a = r->atab[i]; a; a = a->next)
    if (strcmp(a->tmpl, tmpl) == 0) {
      if (strcmp(a->bucket, bucket) != 0) {
        mem_free(a->bucket);
        a->bucket = xstrdup(bucket);
      }
      return;
    }
  /* Templates come from mimic's own fixed set of calls, so this table stays small; it is not
   * evicted. */
  rl_alias *a = xcalloc(1, sizeof *a);
  a->tmpl = xstrdup(tmpl);
  a->bucket = xstrdup(bucket);
  a->next = r->atab[i];
  r->atab[i] = a;
  r->naliases++;
}

static void bucket_key(rl *r, const rl_route *rt, const char *learned, char *out, size_t cap) {
  const char *id = learned ? learned : alias_get(r, rt->tmpl);
  if (id)
    snprintf(out, cap, "%s|%s", id, rt->major);
  else
    snprintf(out, cap, "T:%s|%s", rt->tmpl, rt->major);
}

/* Drops buckets nobody waits on whose window has passed, when the table grows past its cap. */
static void evict_idle(rl *r, uint64_t now) {
  for (size_t i = 0; i < r->tab_size; i++) {
    rl_bucket **pp = &r->tab[i];
    while (*pp) {
      rl_bucket *b = *pp;
      if (b->inflight == 0 && !b->fresh && now >= b->win_end && now - b->last_used > 1000) {
        *pp = b->next;
        mem_free(b->key);
        mem_free(b);
        r->nbuckets--;
      } else {
        pp = &b->next;
      }
    }
  }
}

static void grow(rl *r) {
  size_t nsize = r->tab_size * 2;
  rl_bucket **nt = xcalloc(nsize, sizeof *nt);
  for (size_t i = 0; i < r->tab_size; i++)
    for (rl_bucket *b = r->tab[i], *nx; b; b = nx) {
      nx = b->next;
      size_t j = hash_fnv32(b->key, strlen(b->key)) & (nsize - 1);
      b->next = nt[j];
      nt[j] = b;
    }
  mem_free(r->tab);
  r->tab = nt;
  r->tab_size = nsize;
}

static rl_bucket *bucket_get(rl *r, const char *key, bool create, uint64_t now) {
  size_t h = hash_fnv32(key, strlen(key));
  for (rl_bucket *b = r->tab[h & (r->tab_size - 1)]; b; b = b->next)
    if (strcmp(b->key, key) == 0) return b;
  if (!create) return NULL;
  if (r->nbuckets >= r->o.max_buckets) evict_idle(r, now);
  if (r->nbuckets >= r->tab_size) grow(r);
  rl_bucket *b = xcalloc(1, sizeof *b);
  b->key = xstrdup(key);
  b->last_used = now;
  size_t i = h & (r->tab_size - 1);
  b->next = r->tab[i];
  r->tab[i] = b;
  r->nbuckets++;
  return b;
}

/* Invalid-request window: INV_SLOTS slots of inv_slot_ms each. */
static int invalid_count(rl *r, uint64_t now) {
  uint64_t cur = now / r->inv_slot_ms;
  int n = 0;
  for (int i = 0; i < INV_SLOTS; i++)
    if (r->inv_count[i] && r->inv_epoch[i] + INV_SLOTS > cur) n += (int)r->inv_count[i];
  return n;
}

static void invalid_add(rl *r, uint64_t now) {
  uint64_t cur = now / r->inv_slot_ms;
  size_t i = cur % INV_SLOTS;
  if (r->inv_epoch[i] != cur) {
    r->inv_epoch[i] = cur;
    r->inv_count[i] = 0;
  }
  r->inv_count[i]++;
  r->st.invalid_total++;
  int n = invalid_count(r, now);
  if (n == r->o.invalid_stop / 8 || n == r->o.invalid_stop / 2)
    LOG_W("rest", "%d invalid requests (401/403/429) in the last %llu s; sending stops at %d", n,
          (unsigned long long)(r->o.invalid_window_ms / 1000), r->o.invalid_stop);
}

/* How long until the invalid count drops below the stop threshold (0 when already below). */
static int64_t invalid_wait(rl *r, uint64_t now) {
  int n = invalid_count(r, now);
  if (n < r->o.invalid_stop) return 0;
  uint64_t cur = now / r->inv_slot_ms;
  for (uint64_t e = cur >= INV_SLOTS ? cur + 1 - INV_SLOTS : 0; e <= cur; e++) {
    size_t i = e % INV_SLOTS;
    if (r->inv_epoch[i] == e) n -= (int)r->inv_count[i];
    if (n < r->o.invalid_stop) return (int64_t)((e + INV_SLOTS) * r->inv_slot_ms - now);
  }
  return (int64_t)r->inv_slot_ms;
}

/* The global limit as Discord counts it: requests arriving within any window. A request's
 * arrival lies between its send and its answer, so the next request may go once the answer to the
 * global_limit-th most recent one came back at least a window ago (sending one window after the
 * send alone would let network jitter squeeze 51 arrivals into a second). */
static int64_t global_wait(rl *r, uint64_t now) {
  int64_t w = 0;
  if (now < r->global_blocked_until) w = (int64_t)(r->global_blocked_until - now);
  if (r->gcount == r->o.global_limit) {
    const gslot *g = &r->gring[r->ghead];
    if (g->done == 0) return RL_WAIT_RESPONSE;
    if (now < g->done + r->o.global_window_ms) {
      int64_t gw = (int64_t)(g->done + r->o.global_window_ms - now);
      if (gw > w) w = gw;
    }
  }
  return w;
}

static void global_take(rl *r, uint64_t now, rl_ticket *t) {
  int i;
  if (r->gcount < r->o.global_limit) {
    i = (r->ghead + r->gcount) % r->o.global_limit;
    r->gcount++;
  } else {
    i = r->ghead;
    r->ghead = (r->ghead + 1) % r->o.global_limit;
  }
  r->gring[i].sent = now;
  r->gring[i].done = 0;
  r->gring[i].seq = ++r->gseq;
  t->gslot = i;
  t->gseq = r->gring[i].seq;
}

static void global_done(rl *r, const rl_ticket *t, uint64_t now) {
  if (t->gseq && t->gslot >= 0 && t->gslot < r->o.global_limit &&
      r->gring[t->gslot].seq == t->gseq && r->gring[t->gslot].done == 0)
    r->gring[t->gslot].done = now + 1; /* callers' clocks truncate to the ms: round up */
}

/* 0 when the bucket can take a request now, else how long to wait (or RL_WAIT_RESPONSE). */
static int64_t bucket_wait(const rl_bucket *b, uint64_t now) {
  if (!b->known) return b->inflight > 0 ? RL_WAIT_RESPONSE : 0;
  if (b->unlimited) return 0;
  if (!b->fresh && now >= b->win_end) /* the window has passed: a new one */
    return b->limit - b->inflight > 0 ? 0 : RL_WAIT_RESPONSE;
  if (b->remaining > 0) return 0;
  if (!b->fresh) return (int64_t)(b->win_end - now);
  return RL_WAIT_RESPONSE;
}

int64_t rl_acquire(rl *r, const rl_route *rt, uint64_t now_ms, rl_ticket *ticket) {
  char key[RL_BUCKET_MAX + RL_ROUTE_MAX + RL_MAJOR_MAX + 8];
  int64_t w = invalid_wait(r, now_ms);
  if (!rt->global_exempt) {
    int64_t g = global_wait(r, now_ms);
    if (g > w) w = g;
  }
  bucket_key(r, rt, NULL, key, sizeof key);
  rl_bucket *b = bucket_get(r, key, false, now_ms);
  if (!b && alias_get(r, rt->tmpl)) {
    /* The route's bucket id was just learned (from another major parameter's answer) but this
     * major has no bucket under that id yet: if requests are still in flight under the route's
     * provisional key, keep counting against it until its answer arrives. */
    char tkey[sizeof key];
    snprintf(tkey, sizeof tkey, "T:%s|%s", rt->tmpl, rt->major);
    rl_bucket *tb = bucket_get(r, tkey, false, now_ms);
    if (tb && (tb->inflight > 0 || tb->known)) b = tb;
  }
  if (b) {
    int64_t bw = bucket_wait(b, now_ms);
    if (bw > w) w = bw;
  }
  if (w > 0) {
    r->st.waits++;
    return w;
  }
  if (!b) b = bucket_get(r, key, true, now_ms);
  if (b->known && !b->unlimited && !b->fresh && now_ms >= b->win_end) {
    /* Every window an answer told of has passed, so the next request Discord sees opens a new one.
     * Requests still in flight may land in it too, so they are counted against it. */
    b->fresh = true;
    b->remaining = b->limit - b->inflight;
  }
  b->remaining--;
  b->inflight++;
  b->last_used = now_ms;
  ticket->gseq = 0;
  ticket->gslot = -1;
  if (!rt->global_exempt) global_take(r, now_ms, ticket);
  r->st.acquired++;
  ticket->bucket = b;
  return 0;
}

static void bucket_release(const rl_ticket *t) {
  if (t && t->bucket && t->bucket->inflight > 0) t->bucket->inflight--;
}

void rl_release(rl *r, const rl_ticket *t, uint64_t now_ms) {
  global_done(r, t, now_ms);
  bucket_release(t);
}

/* Applies full rate-limit headers from a response that arrived at `now`. Whatever window the
 * answer describes (this one, an older one arriving late, or a newer one), lowering `remaining`
 * and raising `win_end` can only make mimic wait longer, never send into an empty bucket. */
static void apply_headers(rl_bucket *b, const rl_headers *h, uint64_t now) {
  uint64_t end = now + h->reset_after_ms;   /* never earlier than Discord's own window end */
  int64_t can = h->remaining - b->inflight; /* in-flight requests may all land after this one */
  if (h->reset_after_ms > b->window_ms) b->window_ms = h->reset_after_ms;
  b->limit = h->limit;
  if (!b->known || b->unlimited) {
    b->known = true;
    b->unlimited = false;
    b->fresh = false;
    b->remaining = can;
    b->win_end = end;
    return;
  }
  if (end > b->win_end) b->win_end = end;
  b->fresh = false;
  if (can < b->remaining) b->remaining = can;
}

void rl_complete(rl *r, const rl_ticket *t, const rl_route *rt, int status, const rl_headers *h,
                 uint64_t now) {
  global_done(r, t, now);
  bucket_release(t);
  rl_bucket *b = t->bucket;
  bool is429 = status == 429;
  if (h->bucket[0]) {
    alias_set(r, rt->tmpl, h->bucket);
    char key[RL_BUCKET_MAX + RL_ROUTE_MAX + RL_MAJOR_MAX + 8];
    bucket_key(r, rt, h->bucket, key, sizeof key);
    b = bucket_get(r, key, true, now);
  }
  if (!b) return; /* defensive: a ticket always names its bucket */
  b->last_used = now;
  if (h->has_limit && h->has_remaining && h->has_reset_after) {
    apply_headers(b, h, now);
  } else if (!is429 && status >= 200 && status < 500 && !b->known) {
    /* No limit headers on a real answer: this route has no per-route limit; only the global
     * limit applies. */
    b->known = true;
    b->unlimited = true;
  }

  if (is429) {
    r->st.r429++;
    uint64_t retry = h->has_retry_after   ? h->retry_after_ms
                     : h->has_reset_after ? h->reset_after_ms
                                          : 1000;
    bool global = h->global || h->scope == RL_SCOPE_GLOBAL;
    if (h->scope == RL_SCOPE_SHARED)
      r->st.r429_shared++;
    else
      invalid_add(r, now);
    if (global) {
      if (now + retry > r->global_blocked_until) r->global_blocked_until = now + retry;
    } else {
      if (!b->known || b->unlimited) {
        b->known = true;
        b->unlimited = false;
        b->limit = 1;
      }
      b->remaining = 0;
      b->fresh = false;
      if (b->win_end < now + retry) b->win_end = now + retry;
    }
  } else if (status == 401 || status == 403) {
    invalid_add(r, now);
  }
  if (b->known && !b->unlimited && b->fresh && b->inflight == 0 && b->remaining <= 0) {
    /* Answers without limit headers left the new window's end unknown and nothing is in flight to
     * tell it: any window opened so far ends within one window length from now. */
    b->fresh = false;
    uint64_t end = now + (b->window_ms ? b->window_ms : 1000);
    if (end > b->win_end) b->win_end = end;
  }
}

void rl_stats_get(rl *r, uint64_t now_ms, rl_stats *out) {
  *out = r->st;
  out->invalid_window = invalid_count(r, now_ms);
  out->buckets = r->nbuckets;
}
