/* The options shared by the commands that generate text (chat, generate, simulate, eval): which
 * backend, model and adapter, and the sampling parameters, as flag-table entries whose defaults are
 * the engine.* configuration keys; and opening the backend they name. */
#ifndef MIMIC_CLI_ENGINE_OPTS_H
#define MIMIC_CLI_ENGINE_OPTS_H
#include "cli/flags.h"
#include "llm/backend.h"

typedef struct cli_llm {
  const char *backend; /* "local" or "openai" */
  const char *model;   /* local: GGUF path */
  const char *lora;    /* local: adapter GGUF, loaded as the default adapter ("" for none) */
  float lora_scale;
  const char *url; /* openai */
  const char *api_model;
  const char *key_file;
  const char *system; /* system prompt (chat, generate) */
  const char *prompt; /* -p (generate) */
  int threads, ctx, slots;
  bool raw;        /* generate: the prompt is pre-rendered (special tokens parsed) */
  llm_request req; /* sampling and max_tokens */
} cli_llm;

/* The entries below are tables: one option per line or two reads better than the formatter's one
 * field per line. */
/* clang-format off */

/* The model and adapter (local engine). */
#define CLI_LLM_MODEL_OPTS(o)                                                                      \
  {.name = "model", .short_name = 'm', .type = CLI_PATH, .dest = &(o)->model, .meta = "M.gguf",  \
   .help = "GGUF model", .key = CLI_KEY(CFG_ENGINE_MODEL)},                                                  \
  {.name = "lora", .type = CLI_STR, .dest = &(o)->lora, .meta = "A.gguf",                         \
   .help = "LoRA adapter applied over the model", .key = CLI_KEY(CFG_ENGINE_ADAPTER)},                       \
  {.name = "lora-scale", .type = CLI_FLOAT, .dest = &(o)->lora_scale, .meta = "S",                \
   .help = "the adapter's strength", .key = CLI_KEY(CFG_ENGINE_ADAPTER_SCALE), .min = -16, .max = 16},       \
  {.name = "threads", .short_name = 't', .type = CLI_INT, .dest = &(o)->threads, .meta = "N",     \
   .help = "compute threads (0: one per core)", .key = CLI_KEY(CFG_ENGINE_THREADS)},                         \
  {.name = "ctx", .type = CLI_INT, .dest = &(o)->ctx, .meta = "N",                                \
   .help = "context window in tokens", .key = CLI_KEY(CFG_ENGINE_CTX), .min = 16, .max = 1 << 20}

/* An OpenAI-compatible server instead of the local engine. */
#define CLI_LLM_BACKEND_OPTS(o)                                                                    \
  {.name = "backend", .type = CLI_STR, .dest = &(o)->backend, .meta = "local|openai",             \
   .help = "the engine in-process, or an OpenAI-compatible server", .key = CLI_KEY(CFG_ENGINE_BACKEND)},     \
  {.name = "url", .type = CLI_STR, .dest = &(o)->url, .meta = "URL",                              \
   .help = "the server's base URL", .key = CLI_KEY(CFG_ENGINE_OPENAI_URL)},                                  \
  {.name = "api-model", .type = CLI_STR, .dest = &(o)->api_model, .meta = "NAME",                 \
   .help = "model name sent to the server", .key = CLI_KEY(CFG_ENGINE_OPENAI_MODEL)},                        \
  {.name = "key-file", .type = CLI_PATH, .dest = &(o)->key_file, .meta = "FILE",                  \
   .help = "file holding the server's API key", .key = CLI_KEY(CFG_ENGINE_OPENAI_KEY_FILE)}

/* Reply length and sampling. */
#define CLI_LLM_SAMPLING_OPTS(o)                                                                   \
  {.name = "max-tokens", .short_name = 'n', .type = CLI_INT, .dest = &(o)->req.max_tokens,        \
   .meta = "N", .help = "most tokens in a reply", .key = CLI_KEY(CFG_ENGINE_MAX_TOKENS), .min = 1,           \
   .max = LLM_MAX_TOKENS},                                                                         \
  {.name = "temp", .type = CLI_FLOAT, .dest = &(o)->req.sampling.temperature, .meta = "T",        \
   .help = "sampling temperature (0: greedy)", .key = CLI_KEY(CFG_ENGINE_TEMPERATURE), .min = 0,             \
   .max = 100},                                                                                    \
  {.name = "top-k", .type = CLI_INT, .dest = &(o)->req.sampling.top_k, .meta = "K",               \
   .help = "sample from the K likeliest tokens (0: off)", .key = CLI_KEY(CFG_ENGINE_TOP_K)},                 \
  {.name = "top-p", .type = CLI_FLOAT, .dest = &(o)->req.sampling.top_p, .meta = "P",             \
   .help = "nucleus sampling (1: off)", .key = CLI_KEY(CFG_ENGINE_TOP_P)},                                   \
  {.name = "min-p", .type = CLI_FLOAT, .dest = &(o)->req.sampling.min_p, .meta = "P",             \
   .help = "drop tokens below P times the likeliest (0: off)", .key = CLI_KEY(CFG_ENGINE_MIN_P)},            \
  {.name = "repeat-penalty", .type = CLI_FLOAT, .dest = &(o)->req.sampling.repeat_penalty,        \
   .meta = "R", .help = "repetition penalty (1: off)", .key = CLI_KEY(CFG_ENGINE_REPEAT_PENALTY),            \
   .min = 0.01, .max = 100},                                                                       \
  {.name = "seed", .type = CLI_U64, .dest = &(o)->req.sampling.seed, .meta = "S",                 \
   .help = "sampling seed, for a reproducible reply (default: random)"}

/* clang-format on */

/* Sets what no configuration key gives (before cli_start). */
void cli_llm_init(cli_llm *o);
/* After cli_start: what the table cannot say (repeat window, backend name, empty adapter).
 * Returns 0, or 2 after printing what was wrong. */
int cli_llm_finish(cli_llm *o, const cli_spec *s, const cli_args *a, const cfg *c);
/* Opens the backend o asks for (loads the adapter). Prints the error and returns NULL on failure.
 */
llm_backend *cli_llm_open(const cli_llm *o);

#endif
