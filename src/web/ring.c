/* The ring of the bot's output lines and the dashboard's notices (web_int.h): a fixed circle of
 * numbered lines under a mutex, with a condition variable the SSE streams wait on. Old lines fall
 * off the end; a reader that fell behind skips to the oldest line still held. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "web/web_int.h"

typedef struct line {
  uint64_t seq;
  web_line_kind kind;
  char *text;
} line;

struct web_ring {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  line lines[WEB_RING_LINES];
  uint64_t last; /* number of the newest line */
  bool closed;
};

web_ring *web__ring_new(void) {
  web_ring *r = xcalloc(1, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  return r;
}

void web__ring_destroy(web_ring *r) {
  if (!r) return;
  for (size_t i = 0; i < WEB_RING_LINES; i++) mem_free(r->lines[i].text);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  mem_free(r);
}

void web__ring_push(web_ring *r, web_line_kind kind, const char *text, size_t n) {
  if (n > WEB_LINE_MAX) n = WEB_LINE_MAX;
  /* Invalid UTF-8 (a child writing binary, a cut line) is repaired so the page's JSON stays valid.
   */
  char *copy = utf8_repair(text, n);
  pthread_mutex_lock(&r->mu);
  line *l = &r->lines[(r->last + 1) % WEB_RING_LINES];
  mem_free(l->text);
  l->seq = ++r->last;
  l->kind = kind;
  l->text = copy;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

uint64_t web__ring_last(web_ring *r) {
  pthread_mutex_lock(&r->mu);
  uint64_t v = r->last;
  pthread_mutex_unlock(&r->mu);
  return v;
}

int web__ring_next(web_ring *r, uint64_t after, uint64_t *seq, web_line_kind *kind, char *out,
                   size_t cap, int wait_ms) {
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += wait_ms / 1000;
  dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  int got = 0;
  pthread_mutex_lock(&r->mu);
  if (r->closed) got = -1;
  while (!r->closed && r->last <= after)
    if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) break;
  if (!r->closed && r->last > after) {
    uint64_t oldest = r->last > WEB_RING_LINES ? r->last - WEB_RING_LINES + 1 : 1;
    uint64_t want = after + 1 < oldest ? oldest : after + 1;
    line *l = &r->lines[want % WEB_RING_LINES];
    *seq = l->seq;
    *kind = l->kind;
    str_lcpy(out, l->text ? l->text : "", cap);
    got = 1;
  } else if (r->closed) {
    got = -1;
  }
  pthread_mutex_unlock(&r->mu);
  return got;
}

void web__ring_close(web_ring *r) {
  pthread_mutex_lock(&r->mu);
  r->closed = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}
