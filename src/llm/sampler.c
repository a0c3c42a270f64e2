/* Sampler (see sampler.h). The costly part at a 150k vocabulary is ordering candidates, so nothing
 * here sorts the whole vocabulary: top-k is a quickselect (O(V)) plus a sort of k items, min-p is a
 * threshold on logits (p_i >= p_max * min_p  <=>  l_i >= l_max + ln min_p), and top-p sorts a
 * growing prefix (64, 512, 4096, ...) until the prefix's mass reaches p. */
#include "llm/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"

struct llm_sampler {
  llm_sampling p;
  int n_vocab;
  uint64_t seed_used;
  prng rng;
  int32_t *hist; /* ring of the last repeat_last_n accepted tokens */
  int hist_len, hist_pos;
  uint32_t *mark; /* per token: stamp of the last step that penalised it */
  uint32_t stamp;
  llm_cand *cands; /* n_vocab work entries */
};

void llm_sampling_default(llm_sampling *p) {
  p->temperature = 0.8f;
  p->top_k = 40;
  p->top_p = 0.95f;
  p->min_p = 0.05f;
  p->repeat_penalty = 1.1f;
  p->repeat_last_n = 64;
  p->seed = LLM_SEED_RANDOM;
}

int llm_sampling_check(const llm_sampling *p) {
  if (isnan(p->temperature) || p->temperature > 100)
    return err_set(MIMIC_EINVAL, "sampling: temperature must be between 0 and 100 (0 = greedy)");
  if (p->top_k < 0) return err_set(MIMIC_EINVAL, "sampling: top_k must be >= 0 (0 = off)");
  if (!(p->top_p >= 0 && p->top_p <= 1))
    return err_set(MIMIC_EINVAL, "sampling: top_p must be between 0 and 1 (1 = off)");
  if (!(p->min_p >= 0 && p->min_p <= 1))
    return err_set(MIMIC_EINVAL, "sampling: min_p must be between 0 and 1 (0 = off)");
  if (!(p->repeat_penalty > 0 && p->repeat_penalty <= 100))
    return err_set(MIMIC_EINVAL, "sampling: repeat_penalty must be > 0 and <= 100 (1 = off)");
  if (p->repeat_last_n < 0 || p->repeat_last_n > LLM_REPEAT_MAX)
    return err_set(MIMIC_EINVAL, "sampling: repeat_last_n must be between 0 and %d",
                   LLM_REPEAT_MAX);
  return 0;
}

/* ---- Sampler ---- */

int llm_sampler_new(const llm_sampling *p, int n_vocab, llm_sampler **out) {
  *out = NULL;
  int rc = llm_sampling_check(p);
  if (rc) return rc;
  if (n_vocab < 1 || n_vocab > (1 << 24))
    return err_set(MIMIC_EINVAL, "sampler: vocabulary size %d out of range", n_vocab);
  llm_sampler *s = mem_calloc(1, sizeof *s);
  if (!s) goto oom;
  s->p = *p;
  s->n_vocab = n_vocab;
  s->cands = mem_calloc((size_t)n_vocab, sizeof *s->cands);
  s->mark = mem_calloc((size_t)n_vocab, sizeof *s->mark);
  if (p->repeat_last_n > 0) s->hist = mem_calloc((size_t)p->repeat_last_n, sizeof *s->hist);
  if (!s->cands || !s->mark || (p->repeat_last_n > 0 && !s->hist)) goto oom;
  llm_sampler_reset(s);
  *out = s;
  return 0;
oom:
  llm_sampler_destroy(s);
  return err_set(MIMIC_ENOMEM, "sampler: out of memory for a %d-token vocabulary", n_vocab);
}

void llm_sampler_destroy(llm_sampler *s) {
  if (!s) return;
  mem_free(s->cands);
  mem_free(s->mark);
  mem_free(s->hist);
  mem_free(s);
}

void llm_sampler_reset(llm_sampler *s) {
  s->hist_len = s->hist_pos = 0;
  s->seed_used = s->p.seed;
  if (s->seed_used == LLM_SEED_RANDOM) {
    uint64_t x = clock_mono_ns() ^ ((uint64_t)clock_wall_ms() << 20) ^ (uint64_t)(uintptr_t)s;
    s->seed_used = prng_splitmix64(&x) & 0x7FFFFFFFFFFFFFFFull; /* printable as a signed number */
  }
  prng_seed(&s->rng, s->seed_used);
}

uint64_t llm_sampler_seed(const llm_sampler *s) { return s->seed_used; }

void llm_sampler_accept(llm_sampler *s, int32_t token) {
  if (token < 0 || token >= s->n_vocab || s->p.repeat_last_n <= 0) return;
  s->hist[s->hist_pos] = token;
  s->hist_pos = (s->hist_pos + 1) % s->p.repeat_last_n;
  if (s->hist_len < s->p.repeat_last_n) s->hist_len++;
}

int32_t llm_argmax(const float *logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; i++)
    if (logits[i] > logits[best]) best = i;
  return best;
}

/* Descending by logit, then ascending id, so every ordering is deterministic. */
static bool before(const llm_cand *a, const llm_cand *b) {
  return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb) {
  const llm_cand *a = pa, *b = pb;
  if (before(a, b)) return -1;
  if (before(b, a)) return 1;
  return 0;
}

static void swap(llm_cand *a, llm_cand *b) {
  llm_cand t = *a;
  *a = *b;
  *b = t;
}

/* Rearranges c[0..n) so that c[0..k) hold the k first candidates in `before` order (unordered
 * among themselves): Hoare's FIND with a median-of-three pivot value; 0 < k < n. */
static void select_top(llm_cand *c, size_t n, size_t k) {
  long l = 0, r = (long)n - 1, kk = (long)k - 1;
  while (l < r) {
    llm_cand a = c[l], b = c[l + (r - l) / 2], d = c[r], x;
    if (before(&a, &b))
      x = before(&b, &d) ? b : (before(&a, &d) ? d : a);
    else
      x = before(&a, &d) ? a : (before(&b, &d) ? d : b);
    long i = l, j = r;
    do {
      while (before(&c[i], &x)) i++;
      while (before(&x, &c[j])) j--;
      if (i <= j) {
        swap(&c[i], &c[j]);
        i++;
        j--;
      }
    } while (i <= j);
    if (j < kk) l = i;
    if (kk < i) r = j;
  }
}

/* Sorts the first k of c[0..n) into order (k <= n). */
static void sort_top(llm_cand *c, size_t n, size_t k) {
  if (k < n) select_top(c, n, k);
  qsort(c, k, sizeof *c, cand_cmp);
}

/* Applies the whole chain; leaves the kept candidates in s->cands[0..*n) with p set. When sorted is
 * false the kept set may be unordered (saves a sort of a large kept set when only drawing). */
static void build_dist(llm_sampler *s, const float *logits, size_t *n_out, bool sorted) {
  llm_cand *c = s->cands;
  size_t n = (size_t)s->n_vocab;
  for (size_t i = 0; i < n; i++) {
    float l = logits[i];
    c[i].id = (int32_t)i;
    c[i].logit = isnan(l) ? -INFINITY : l;
    c[i].p = 0;
  }

  /* Repetition penalty, once per distinct token in the window (llama.cpp semantics). */
  if (s->p.repeat_penalty != 1.0f && s->hist_len > 0) {
    if (++s->stamp == 0) {
      memset(s->mark, 0, (size_t)s->n_vocab * sizeof *s->mark);
      s->stamp = 1;
    }
    for (int i = 0; i < s->hist_len; i++) {
      int32_t t = s->hist[i];
      if (s->mark[t] == s->stamp) continue;
      s->mark[t] = s->stamp;
      if (c[t].logit > 0)
        c[t].logit /= s->p.repeat_penalty;
      else
        c[t].logit *= s->p.repeat_penalty;
    }
  }

  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (before(&c[i], &c[best])) best = i;
  float lmax = c[best].logit;
  if (s->p.temperature <= 0 || !isfinite(lmax) || n == 1) {
    c[0] = c[best];
    c[0].p = 1;
    *n_out = 1;
    return;
  }

  bool ordered = false; /* c[0..n) sorted */
  if (s->p.top_k > 0 && (size_t)s->p.top_k < n) {
    n = (size_t)s->p.top_k;
    sort_top(c, (size_t)s->n_vocab, n);
    ordered = true;
  }

  double z = 0; /* mass of the current set, relative to exp(lmax) */
  bool top_p = s->p.top_p < 1.0f;
  if (top_p)
    for (size_t i = 0; i < n; i++) z += exp((double)c[i].logit - lmax);

  if (s->p.min_p > 0) {
    float thr = lmax + logf(s->p.min_p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (c[i].logit >= thr) c[m++] = c[i]; /* stable: keeps the order when there was one */
    n = m;
  }

  if (top_p) {
    double target = z * s->p.top_p;
    size_t want = 64;
    for (;;) {
      if (want > n) want = n;
      if (!ordered) sort_top(c, n, want);
      double cum = 0;
      size_t i = 0;
      for (; i < want; i++) {
        cum += exp((double)c[i].logit - lmax);
        if (cum >= target) break;
      }
      if (i < want) {
        n = i + 1;
        break;
      }
      if (want == n) break;
      want *= 8;
    }
    ordered = true;
  }

  if (sorted && !ordered) qsort(c, n, sizeof *c, cand_cmp);

  double inv_t = 1.0 / s->p.temperature, sum = 0;
  for (size_t i = 0; i < n; i++) {
    double l = (double)c[i].logit * inv_t;
    c[i].logit = (float)l;
    double e = exp(l - (double)lmax * inv_t);
    c[i].p = (float)e;
    sum += e;
  }
  for (size_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
  *n_out = n;
}

void llm_sampler_dist(llm_sampler *s, const float *logits, const llm_cand **out, size_t *n) {
  build_dist(s, logits, n, true);
  *out = s->cands;
}

int32_t llm_sampler_sample(llm_sampler *s, const float *logits) {
  size_t n;
  build_dist(s, logits, &n, false);
  if (n == 1) return s->cands[0].id;
  double u = prng_uniform(&s->rng), cum = 0;
  for (size_t i = 0; i < n; i++) {
    cum += s->cands[i].p;
    if (u < cum) return s->cands[i].id;
  }
  return s->cands[n - 1].id; /* rounding left u above the last partial sum */
}
