/* An opt-in time profile of the forward pass (what `mimic bench --profile` prints): wall-clock
 * time per operation category and, inside the parallel sections, each thread's busy time per
 * weight type, so the time the threads spend waiting on each other shows as its own line. Off by
 * default; when off, each hook is one predictable branch. Not here: timing of whole requests
 * (the engine's metrics) or kernel-level instruction counts (callgrind, bench_kernels). */
#ifndef MIMIC_LLM_PROFILE_H
#define MIMIC_LLM_PROFILE_H
#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "llm/compute_pool.h"
#include "llm/quant.h"

/* Wall-clock categories, timed on the thread that runs the forward pass. */
typedef enum {
  LLM_PROF_EMBED,     /* token embedding rows and the RoPE sin/cos cache */
  LLM_PROF_NORM,      /* RMS norms */
  LLM_PROF_ACT_QUANT, /* quantizing activation rows for the integer matrix kernels */
  LLM_PROF_MATMUL,    /* matrix product sections (all weight types, the lm head included) */
  LLM_PROF_ROPE,      /* RoPE on q and k, and storing k and v in the cache */
  LLM_PROF_ATTN,      /* attention sections (scores, softmax, weighted values) */
  LLM_PROF_SWIGLU,    /* the SwiGLU activation */
  LLM_PROF_ADD,       /* residual additions, biases and LoRA terms */
  LLM_PROF_FORWARD,   /* whole forward passes (the sum of the above plus what is not timed) */
  LLM_PROF_COUNT
} llm_prof_cat;

typedef struct llm_profile {
  uint64_t wall_ns[LLM_PROF_COUNT];
  /* Thread time: busy in matrix kernels per weight type, busy in attention, and the thread time
   * the parallel sections (matrix and attention) made available (wall x threads). available -
   * busy is the threads' waiting: uneven shares, wake-ups, the last chunk. */
  uint64_t mm_busy_ns[TT_COUNT];
  uint64_t attn_busy_ns, par_avail_ns;
  uint64_t forwards, tokens;
} llm_profile;

/* Turns the profile on or off for the whole process (every context). Thread-safe. */
void llm_profile_enable(bool on);
bool llm_profile_enabled(void);
/* Zeroes the counters. Not while a forward pass runs if the numbers are to add up. */
void llm_profile_reset(void);
/* A copy of the counters so far. */
void llm_profile_read(llm_profile *out);
/* Short name of a category ("matmul", "attention", ...). */
const char *llm_profile_cat_name(llm_prof_cat c);

/* Memory read bandwidth in bytes/s: the best of reps streaming reads of a `bytes`-long float array
 * split over every thread of pool (NULL: the caller alone), with AVX2 loads where the CPU has them.
 * What the benchmarks divide a model's bytes per generated token by, for generation's bound.
 * Allocates `bytes` for the duration (aborts when it cannot, as xalloc does). */
double llm_read_bandwidth(compute_pool *pool, size_t bytes, int reps);

#endif
