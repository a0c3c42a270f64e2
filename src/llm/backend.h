/* llm_backend: the one interface the bot uses to generate text. The same request shape goes to
 * mimic's own engine ("local": base GGUF + LoRA adapters, KV slots, batched workers) or to an
 * OpenAI-compatible server ("openai": llama-server, vLLM, Ollama, ...), so the bot never knows
 * which one it talks to. Generations run on backend worker threads, never on the caller's thread
 * (docs/internals/engine.md); callbacks run on those workers and the caller marshals
 * results back to its own loop. Not here: prompt building from channel history (bot/), or how a
 * model computes logits (model.h). */
#ifndef MIMIC_LLM_BACKEND_H
#define MIMIC_LLM_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "llm/sampler.h"
#include "llm/stop.h"

/* Caps on a request (everything in it can come from Discord users). */
#define LLM_MAX_MESSAGES 1024       /* messages per request */
#define LLM_PROMPT_MAX   (1u << 22) /* bytes: a rendered prompt, or all message fields together */
#define LLM_MAX_TOKENS   100000     /* max_tokens upper bound */
#define LLM_NAME_MAX     128        /* bytes in an adapter name, slot key, role or speaker name */

/* Images per request (image_urls), and bytes of one image URL (a data: URL holds the image). */
#define LLM_MAX_IMAGES    10
#define LLM_IMAGE_URL_MAX (48u << 20)

typedef struct llm_message {
  const char *role;    /* "system", "user" or "assistant" (templates may know others) */
  const char *name;    /* the speaker (display name), or NULL; the local engine renders it as
                        * "name: content" inside the turn, since few templates honour a name field */
  const char *content; /* the text; invalid UTF-8 is repaired (U+FFFD), not rejected */
} llm_message;

typedef struct llm_request {
  /* Either messages (rendered with the model's chat template, generation prompt appended) ... */
  const llm_message *messages;
  size_t n_messages;
  /* ... or, when n_messages is 0, a pre-rendered prompt sent as is (special tokens such as
   * <|im_start|> are recognised). The openai backend sends it to {url}/completions. */
  const char *prompt;
  const char *adapter;   /* LoRA adapter (persona) by name; NULL or "" = the backend's default. The
                          * openai backend sends it as "model" (vLLM's convention). */
  float adapter_scale;   /* < 0: the scale the adapter was loaded with */
  llm_sampling sampling; /* temperature, top-k/p, min-p, penalty, seed */
  int max_tokens;        /* 1..LLM_MAX_TOKENS */
  int min_tokens;        /* end-of-generation tokens are suppressed before this many tokens (so a
                          * reply is never empty; local backend only); 0 = off */
  const char *const *stop; /* stop strings (<= LLM_STOP_MAX, each <= LLM_STOP_MAX_LEN bytes) */
  size_t n_stop;
  const char *slot_key; /* conversation key for KV-cache reuse (e.g. the channel id): a new turn in
                         * the same conversation evaluates only its new tokens. NULL = no reuse. */
  /* Images shown with the last message (https: or data: URLs, <= LLM_MAX_IMAGES, each at most
   * LLM_IMAGE_URL_MAX bytes). The openai backend sends them as image_url parts of that message (a
   * vision model on the server); the local engine ignores them (the bot describes images for it).
   * NULL / 0: none. */
  const char *const *image_urls;
  size_t n_image_urls;
} llm_request;

/* Fills r with defaults: no messages, llm_sampling_default, max_tokens 160, adapter_scale -1. */
void llm_request_init(llm_request *r);
/* Overrides r's sampling and max_tokens with the engine.* configuration keys. */
void llm_request_from_config(llm_request *r, const cfg *c);
/* Checks a request against the caps above (the first problem, as a sentence). MIMIC_EINVAL or
 * MIMIC_ERANGE. Submit and generate call it too. */
int llm_request_check(const llm_request *r) MIMIC_MUST;

typedef enum {
  LLM_FINISH_NONE = 0,
  LLM_FINISH_STOP,      /* a stop string matched (the server said "stop") */
  LLM_FINISH_LENGTH,    /* max_tokens reached (or the context window filled) */
  LLM_FINISH_EOG,       /* the model ended the turn (end-of-generation token) */
  LLM_FINISH_CANCELLED, /* llm_backend_cancel, on_token returned nonzero, or shutdown */
  LLM_FINISH_ERROR      /* see error / error_msg */
} llm_finish;

const char *llm_finish_name(llm_finish f); /* "stop", "length", "eog", "cancelled", "error" */

typedef struct llm_result {
  char *text; /* the generated text, stop string excluded; owned, never NULL once filled */
  size_t text_len;
  llm_finish finish;
  int error;           /* 0, or the MIMIC_E* code when finish == LLM_FINISH_ERROR */
  char error_msg[256]; /* one sentence a user can act on */
  int prompt_tokens;   /* tokens in the prompt (0 when the server does not say) */
  int cached_tokens;   /* of those, reused from the slot's KV cache (not evaluated again) */
  int gen_tokens;      /* tokens generated (the openai backend counts streamed pieces) */
  double queue_ms;     /* from submit to the start of work */
  double prompt_ms;    /* evaluating the prompt (openai: until the first piece) */
  double gen_ms;       /* generating */
  double prompt_tps;   /* evaluated prompt tokens per second (0 when unknown) */
  double gen_tps;      /* generated tokens per second */
  uint64_t seed;       /* the seed used, to replay a generation */
} llm_result;

/* Releases what a result owns (not the struct); accepts NULL and an all-zero result. */
void llm_result_free(llm_result *r);
/* For the heap results given to llm_done_cb: llm_result_free plus the struct itself. */
void llm_result_destroy(llm_result *r);

/* Receives each new piece of text: valid, complete UTF-8 (n > 0, not NUL-terminated), in order,
 * with stop strings never included. Return nonzero to cancel the generation. Runs on a backend
 * worker thread. */
typedef int (*llm_token_cb)(void *user, const char *text, size_t n);
/* Called exactly once per successful submit, on a backend worker thread, after the last on_token.
 * Takes ownership of res (release it with llm_result_destroy). */
typedef void (*llm_done_cb)(void *user, llm_result *res);

typedef struct llm_backend llm_backend;

typedef struct llm_backend_stats {
  int queued;          /* accepted, not started */
  int running;         /* being generated now */
  int slots;           /* KV slots (local) or concurrent requests (openai) */
  uint64_t completed;  /* generations finished since start (any finish reason) */
  uint64_t gen_tokens; /* tokens generated since start */
} llm_backend_stats;

/* Queues a generation. Returns 0 and *id (for llm_backend_cancel); on_done then fires exactly once.
 * Errors (on_done never fires): MIMIC_EINVAL/MIMIC_ERANGE for a bad request, MIMIC_ENOTFOUND for an
 * unknown adapter, MIMIC_EBUSY when the queue is full (try later or drop the engagement),
 * MIMIC_ECANCELLED while shutting down. req is copied: nothing in it need outlive the call.
 * on_token may be NULL. Thread-safe. */
int llm_backend_submit(llm_backend *b, const llm_request *req, llm_token_cb on_token,
                       llm_done_cb on_done, void *user, uint64_t *id) MIMIC_MUST;

/* Runs a generation and waits for it (on_token still runs on a worker thread while the caller
 * waits). Fills *out (release with llm_result_free) in every case where it returns 0 or an error
 * that happened during generation. Returns 0 when the generation ran to any finish other than
 * LLM_FINISH_ERROR (cancelled included), else the error code (also in out->error and err_msg()).
 * Never call it from the I/O loop thread. Thread-safe. */
int llm_backend_generate(llm_backend *b, const llm_request *req, llm_token_cb on_token, void *user,
                         llm_result *out) MIMIC_MUST;

/* Cancels a queued or running generation: its on_done fires with LLM_FINISH_CANCELLED (and the
 * text generated so far) soon after. Returns 0, or MIMIC_ENOTFOUND when it already finished.
 * Thread-safe; may be called from on_token. */
int llm_backend_cancel(llm_backend *b, uint64_t id) MIMIC_MUST;

/* Loads (or replaces, e.g. after training) a LoRA adapter under a name; requests that are already
 * running keep the adapter they started with. The name "" sets the default adapter. Returns 0,
 * an error naming the file, or MIMIC_EUNSUPPORTED (openai: the server owns its adapters). */
int llm_backend_adapter_load(llm_backend *b, const char *name, const char *path,
                             float scale) MIMIC_MUST;

void llm_backend_stats_get(llm_backend *b, llm_backend_stats *out);
const char *llm_backend_name(const llm_backend *b); /* "local" or "openai" */

/* Cancels everything queued or running, waits until every on_done has fired, then frees. Must not
 * be called from a callback. Accepts NULL. */
void llm_backend_destroy(llm_backend *b);

/* ---- Constructors ---- */

typedef struct llm_openai_opts {
  const char *url;     /* base URL, e.g. "http://127.0.0.1:8080/v1" (no trailing /chat/...) */
  const char *model;   /* "model" sent when the request names no adapter; NULL or "" = omitted */
  const char *api_key; /* bearer key, or NULL */
  const char
      *key_file; /* file holding the key (first line), read once; used when api_key is NULL */
  int workers;   /* concurrent HTTP requests; 0 = 2 */
  int queue_max; /* queued requests before MIMIC_EBUSY; 0 = 64 */
  long connect_timeout_ms; /* 0 = 10 s */
  long idle_timeout_ms;    /* longest silence from the server mid-stream; 0 = 120 s */
} llm_openai_opts;

int llm_backend_openai_new(const llm_openai_opts *o, llm_backend **out) MIMIC_MUST;

typedef struct llm_local_opts {
  const char *model_path; /* base GGUF (mmapped) */
  int threads;            /* compute threads; 0 = one per core */
  int slots;              /* KV slots = most conversations cached / generating at once; 0 = 4 */
  int ctx;                /* context window per slot in tokens; 0 = 4096 (capped by the model) */
  int batch;              /* prompt tokens per chunk; 0 = 512 */
  int queue_max;          /* queued requests before MIMIC_EBUSY; 0 = 64 */
  int kv_f16;             /* 1: F16 KV cache (half the memory); 0: F32, the reference precision */
  int serial_prompts; /* 1: one prompt chunk per turn and decoding in a pass of its own (the engine
                       * before mixed steps; for comparisons); 0: mixed steps */
} llm_local_opts;

/* Loads the base model. Errors name the file. Adapters are added with llm_backend_adapter_load. */
int llm_backend_local_new(const llm_local_opts *o, llm_backend **out) MIMIC_MUST;

/* ---- Resource profiles: load on first use, unload when idle ---- */

/* Where the base model is. Backends that hold their model for their whole life (the local engine
 * built with engine.preload on and no idle unload) and the openai backend always say LOADED. */
typedef enum {
  LLM_MODEL_LOADED = 0, /* in memory, generating */
  LLM_MODEL_UNLOADED,   /* not in memory: the next request loads it */
  LLM_MODEL_LOADING     /* being loaded; requests wait for it */
} llm_model_state;

/* The model's state now, for status pages and /readyz. Thread-safe. */
llm_model_state llm_backend_model_state(llm_backend *b);
const char *llm_model_state_name(llm_model_state s); /* "loaded", "unloaded", "loading" */

typedef struct llm_ondemand_opts {
  /* Builds the real backend (the local engine with its adapters); called with user on the
   * on-demand backend's own thread, or on the caller's for a preload. Returns 0 or an error. */
  int (*load)(void *user, llm_backend **out);
  void *user; /* owned: released with user_free (may be NULL) when destroyed */
  void (*user_free)(void *user);
  int slots;              /* reported by llm_backend_stats_get while unloaded */
  bool preload;           /* load now: a failure is returned by llm_backend_ondemand_new */
  int64_t idle_unload_ms; /* unload after this long without a request; 0: never */
  int64_t (*now_ms)(void *clock_user); /* the clock (NULL: the monotonic clock); tests inject one */
  void *clock_user;
  bool manual; /* no timer thread wakes for idleness: only llm_backend_idle_check unloads (tests) */
} llm_ondemand_opts;

/* A backend that holds the real one only while it is needed: loaded at once (preload) or by the
 * first request (which waits for the load), and destroyed after idle_unload_ms without requests
 * (nothing queued or running), its memory returned to the system; the next request loads it
 * again. Adapters loaded through it are remembered and loaded again with the model. Requests
 * submitted while it loads are queued and started when it is loaded (or finish with the load's
 * error). Returns 0 and *out, or the load's error with preload. Takes ownership of o->user in
 * every case. */
int llm_backend_ondemand_new(const llm_ondemand_opts *o, llm_backend **out) MIMIC_MUST;

/* Unloads b's model when it has been idle for idle_unload_ms by its clock, on the calling thread.
 * Returns true when it unloaded. For any other backend, or before the time: false. Thread-safe;
 * not from a generation callback. */
bool llm_backend_idle_check(llm_backend *b);

/* Builds the backend the configuration asks for (engine.backend = local | openai, with the engine.*
 * keys), loading engine.adapter as the default adapter when set. With engine.preload off or
 * engine.idle_unload_s set, the local engine comes wrapped in llm_backend_ondemand_new. */
int llm_backend_from_config(const cfg *c, llm_backend **out) MIMIC_MUST;

#endif
