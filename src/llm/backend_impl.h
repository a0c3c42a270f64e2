/* The interface a backend implements, below the generic front in backend.c (request checks and
 * copies, the job registry, cancel, the synchronous wrapper): the local engine (engine.c), the
 * OpenAI-compatible client (backend_openai.c) and the tests' fake backends. Callers of a backend
 * use backend.h only. */
#ifndef MIMIC_LLM_BACKEND_IMPL_H
#define MIMIC_LLM_BACKEND_IMPL_H
#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "llm/backend.h"

typedef struct llm_job llm_job;
struct llm_job {
  uint64_t id;
  llm_backend *b;
  llm_request req; /* deep copy: every string and array below is owned by the job */
  llm_message *msgs;
  char **stops;
  char **images; /* the request's image_urls */
  llm_token_cb on_token;
  llm_done_cb on_done;
  void *user;
  atomic_int cancel; /* set by llm_backend_cancel or by on_token returning nonzero */
  uint64_t t_submit_ns;
  llm_job *prev, *next; /* registry of live jobs, under b->mu */
};

typedef struct llm_backend_ops {
  const char *name;
  /* Takes the job (0) or refuses it (MIMIC_EBUSY, MIMIC_ENOTFOUND for an unknown adapter,
   * MIMIC_ECANCELLED when closing), with err_set. A taken job must reach llm__job_finish once. */
  int (*submit)(llm_backend *b, llm_job *job);
  int (*adapter_load)(llm_backend *b, const char *name, const char *path, float scale);
  void (*stats)(llm_backend *b, llm_backend_stats *out); /* queued, running, slots */
  /* Stops taking work, finishes every job it holds (cancelled ones included) and joins its
   * threads; no callback may fire after it returns. */
  void (*shutdown)(llm_backend *b);
  void (*free)(llm_backend *b); /* frees the containing object */
} llm_backend_ops;

struct llm_backend {
  const llm_backend_ops *ops;
  pthread_mutex_t mu;
  llm_job *jobs;
  uint64_t next_id;
  uint64_t completed, gen_tokens;
  bool closing;
};

void llm__backend_init(llm_backend *b, const llm_backend_ops *ops);
/* True once llm_backend_cancel (or a nonzero on_token, or shutdown) asked this job to stop. */
bool llm__job_cancelled(llm_job *job);
void llm__job_cancel(llm_job *job);
/* Passes a piece to on_token; a nonzero answer marks the job cancelled and is returned. */
int llm__job_emit(void *job, const char *text, size_t n);
/* Ends a job: records stats, unregisters it, hands res (heap, ownership passes) to on_done and
 * frees the job. queue_ms is filled from the submit time when the backend left it 0. */
void llm__job_finish(llm_job *job, llm_result *res);
/* A zeroed heap result with text "" (aborts on OOM: results are tiny). */
llm_result *llm__result_new(void);
/* Marks res as an error with code and the current err_msg(). Returns code. */
int llm__result_error(llm_result *res, int code);
/* Moves the text out of a stop stream into res (text, text_len). */
void llm__result_take_text(llm_result *res, llm_stop *st);

/* The openai backend's response parser without the network: feeds body in chunks of `chunk` bytes
 * as curl would (status 200; an SSE stream, or one JSON answer when is_json), appends the text
 * streamed to on_token to *text (stop strings applied) and says how it finished. Returns 0 or the
 * protocol error (with err_set). For tests and tests/fuzz/fuzz_sse.c. */
int llm__openai_parse(const char *body, size_t n, size_t chunk, bool chat, bool is_json,
                      const char *const *stops, size_t n_stops, buf *text, llm_finish *finish);

#endif
