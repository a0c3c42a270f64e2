/* Conversation memory (see memory.h): a map from channel id to a short list of rings, one per
 * persona; each ring is an array of entries in id (= time) order. Arrays are small (<= 200), so
 * insertion and removal move memory rather than keep links. */
#include "bot/memory.h"

#include <string.h>

#include "base/base.h"

typedef struct ring {
  char *persona;
  memory_entry *v;
  size_t n, cap;
  bool known;
  struct ring *next;
} ring;

struct memory {
  map_u64 chans; /* channel id -> ring* (list) */
  int max_msgs;
  int64_t ttl_ms;
};

static int clamp_msgs(int n) { return n < 1 ? 1 : n > MEMORY_MSGS_MAX ? MEMORY_MSGS_MAX : n; }

memory *memory_new(int max_msgs, int64_t ttl_ms) {
  memory *m = xcalloc(1, sizeof *m);
  map_init(&m->chans);
  memory_set_limits(m, max_msgs, ttl_ms);
  return m;
}

void memory_set_limits(memory *m, int max_msgs, int64_t ttl_ms) {
  m->max_msgs = clamp_msgs(max_msgs);
  m->ttl_ms = ttl_ms;
}

static void entry_free(memory_entry *e) {
  mem_free(e->name);
  mem_free(e->text);
}

static void ring_free(ring *r) {
  for (size_t i = 0; i < r->n; i++) entry_free(&r->v[i]);
  mem_free(r->v);
  mem_free(r->persona);
  mem_free(r);
}

void memory_destroy(memory *m) {
  if (!m) return;
  size_t it = 0;
  void *v;
  while (map_next(&m->chans, &it, NULL, &v)) {
    for (ring *r = v, *next; r; r = next) {
      next = r->next;
      ring_free(r);
    }
  }
  map_free(&m->chans);
  mem_free(m);
}

static ring *ring_find(const memory *m, uint64_t chan, const char *persona) {
  if (!persona) persona = "";
  for (ring *r = map_get(&m->chans, chan); r; r = r->next)
    if (strcmp(r->persona, persona) == 0) return r;
  return NULL;
}

static ring *ring_get(memory *m, uint64_t chan, const char *persona) {
  ring *r = ring_find(m, chan, persona);
  if (r) return r;
  r = xcalloc(1, sizeof *r);
  r->persona = xstrdup(persona ? persona : "");
  r->next = map_get(&m->chans, chan);
  map_put(&m->chans, chan, r);
  return r;
}

/* Copies at most MEMORY_TEXT_MAX bytes, cut on a UTF-8 character boundary. */
static char *dup_text(const char *s) {
  const char *t = s ? s : "";
  size_t n = strlen(t);
  if (n > MEMORY_TEXT_MAX) {
    n = MEMORY_TEXT_MAX;
    while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
  }
  char *c = xalloc(n + 1);
  memcpy(c, t, n);
  c[n] = 0;
  return c;
}

static void ring_drop_front(ring *r, size_t k) {
  if (k > r->n) k = r->n;
  if (k == 0) return; /* an empty ring may have no array at all (memmove(NULL) is undefined) */
  for (size_t i = 0; i < k; i++) entry_free(&r->v[i]);
  memmove(r->v, r->v + k, (r->n - k) * sizeof *r->v);
  r->n -= k;
}

static void ring_drop_at(ring *r, size_t i) {
  entry_free(&r->v[i]);
  memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof *r->v);
  r->n--;
}

void memory_add(memory *m, uint64_t channel_id, const char *persona, uint64_t id,
                uint64_t author_id, int64_t ts_ms, bool self, const char *name, const char *text) {
  ring *r = ring_get(m, channel_id, persona);
  r->known = true;
  /* Position by id (ids of 0 go last); a known id is replaced in place. */
  size_t pos = r->n;
  if (id) {
    while (pos > 0 && r->v[pos - 1].id > id) pos--;
    if (pos > 0 && r->v[pos - 1].id == id) {
      memory_entry *e = &r->v[pos - 1];
      mem_free(e->text);
      e->text = dup_text(text);
      return;
    }
  }
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->v = xrealloc(r->v, r->cap * sizeof *r->v);
  }
  memmove(r->v + pos + 1, r->v + pos, (r->n - pos) * sizeof *r->v);
  r->v[pos] = (memory_entry){.id = id,
                             .author_id = author_id,
                             .ts_ms = ts_ms,
                             .self = self,
                             .name = dup_text(name),
                             .text = dup_text(text)};
  r->n++;
  if (r->n > (size_t)m->max_msgs) ring_drop_front(r, r->n - (size_t)m->max_msgs);
}

void memory_clear(memory *m, uint64_t channel_id, const char *persona) {
  ring *r = ring_get(m, channel_id, persona);
  ring_drop_front(r, r->n);
  r->known = true;
}

void memory_edit(memory *m, uint64_t channel_id, uint64_t id, const char *text) {
  for (ring *r = map_get(&m->chans, channel_id); r; r = r->next)
    for (size_t i = 0; i < r->n; i++)
      if (r->v[i].id == id) {
        mem_free(r->v[i].text);
        r->v[i].text = dup_text(text);
      }
}

void memory_remove(memory *m, uint64_t channel_id, uint64_t id) {
  for (ring *r = map_get(&m->chans, channel_id); r; r = r->next)
    for (size_t i = r->n; i-- > 0;)
      if (r->v[i].id == id) ring_drop_at(r, i);
}

void memory_forget_user(memory *m, uint64_t user_id) {
  size_t it = 0;
  void *v;
  while (map_next(&m->chans, &it, NULL, &v))
    for (ring *r = v; r; r = r->next)
      for (size_t i = r->n; i-- > 0;)
        if (r->v[i].author_id == user_id) ring_drop_at(r, i);
}

bool memory_known(const memory *m, uint64_t channel_id, const char *persona) {
  ring *r = ring_find(m, channel_id, persona);
  return r && r->known;
}

void memory_mark_known(memory *m, uint64_t channel_id, const char *persona) {
  ring_get(m, channel_id, persona)->known = true;
}

static bool expired(const memory *m, const memory_entry *e, int64_t now) {
  return m->ttl_ms > 0 && now - e->ts_ms >= m->ttl_ms;
}

size_t memory_get(memory *m, uint64_t channel_id, const char *persona, int64_t now_ms,
                  uint64_t until_id, const memory_entry **out, size_t cap) {
  ring *r = ring_find(m, channel_id, persona);
  if (!r) return 0;
  /* The newest `cap` qualifying entries, collected backwards, then put oldest first. Entries
   * with id 0 (the bot's replies not yet echoed) always qualify: they were said before now. */
  size_t k = 0;
  for (size_t i = r->n; i-- > 0 && k < cap;) {
    const memory_entry *e = &r->v[i];
    if (until_id && e->id > until_id) continue;
    if (expired(m, e, now_ms)) break;
    out[k++] = e;
  }
  for (size_t i = 0; i < k / 2; i++) {
    const memory_entry *t = out[i];
    out[i] = out[k - 1 - i];
    out[k - 1 - i] = t;
  }
  return k;
}

void memory_settle(memory *m, uint64_t channel_id, const char *persona, const char *text) {
  ring *r = ring_find(m, channel_id, persona);
  if (!r) return;
  size_t first = r->n;
  for (size_t i = 0; i < r->n; i++) {
    if (r->v[i].id != 0 || !r->v[i].self) continue;
    if (first == r->n) first = i;
    if (strcmp(r->v[i].text, text ? text : "") == 0) {
      ring_drop_at(r, i);
      return;
    }
  }
  if (first < r->n) ring_drop_at(r, first);
}

size_t memory_prune(memory *m, int64_t now_ms) {
  size_t dropped = 0;
  uint64_t empty[64];
  size_t n_empty = 0;
  size_t it = 0;
  uint64_t key;
  void *v;
  while (map_next(&m->chans, &it, &key, &v)) {
    bool all_empty = true;
    for (ring *r = v; r; r = r->next) {
      size_t k = 0;
      while (k < r->n && expired(m, &r->v[k], now_ms)) k++;
      ring_drop_front(r, k);
      dropped += k;
      /* Entries are in id order, which is time order except for clock skew; an expired entry
       * behind a younger one goes at the next prune. */
      if (r->n) all_empty = false;
    }
    if (all_empty && n_empty < sizeof empty / sizeof empty[0]) empty[n_empty++] = key;
  }
  /* Channels with nothing left are dropped (a few per prune: the map cannot change while it is
   * iterated). Their rings forget they were known, so a later message refills from the store. */
  for (size_t i = 0; i < n_empty; i++) {
    for (ring *r = map_del(&m->chans, empty[i]), *next; r; r = next) {
      next = r->next;
      ring_free(r);
    }
  }
  return dropped;
}

void memory_usage(const memory *m, size_t *channels, size_t *entries, size_t *bytes) {
  size_t c = 0, e = 0, b = 0, it = 0;
  void *v;
  while (map_next(&m->chans, &it, NULL, &v))
    for (ring *r = v; r; r = r->next) {
      c++;
      e += r->n;
      for (size_t i = 0; i < r->n; i++) b += strlen(r->v[i].text) + strlen(r->v[i].name);
    }
  if (channels) *channels = c;
  if (entries) *entries = e;
  if (bytes) *bytes = b;
}
