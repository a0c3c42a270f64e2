/* Memory read bandwidth for the benchmarks' "percentage of the bandwidth bound": the best of a few
 * streaming reads of a large float array, split over a compute pool's threads (llm/profile.h). */
#ifndef MIMIC_BENCH_BW_H
#define MIMIC_BENCH_BW_H
#include <stddef.h>

#include "llm/profile.h"

/* Best of reps streaming reads over `bytes` with every thread of cpool (NULL: this thread only):
 * bytes/s. The measurement itself is llm_read_bandwidth's, which `mimic bench --bandwidth` uses
 * too. */
static inline double bench_read_bandwidth(compute_pool *cpool, size_t bytes, int reps) {
  return llm_read_bandwidth(cpool, bytes, reps);
}
#endif
