/* Options shared by the commands that generate text (chat, generate, bench): which backend, model
 * and adapter, and the sampling parameters, parsed over the engine.* configuration values. */
#ifndef MIMIC_CLI_LLM_ARGS_H
#define MIMIC_CLI_LLM_ARGS_H
#include "cli/cli.h"
#include "llm/backend.h"

typedef struct cli_llm {
  const char *backend; /* "local" or "openai" */
  const char *model;   /* local: GGUF path */
  const char *lora;    /* local: adapter GGUF, loaded as the default adapter */
  float lora_scale;
  const char *url; /* openai */
  const char *api_model;
  const char *key_file;
  const char *system; /* system prompt (chat) */
  const char *prompt; /* -p (generate, bench) */
  int threads, ctx, slots;
  int n_predict;   /* -n */
  int n_prompt;    /* bench -p */
  int reps;        /* bench */
  bool json;       /* bench: one JSON object */
  bool raw;        /* generate: the prompt is pre-rendered (special tokens parsed) */
  llm_request req; /* sampling and max_tokens */
} cli_llm;

/* Fills o from the configuration, then parses argv[1..argc) (argv[0] is the command). Unknown
 * options are an error (printed). Returns 0, or 2 after printing what was wrong. */
int cli_llm_parse(cli_llm *o, const cfg *c, int argc, char **argv, const char *usage);
/* Opens the backend o asks for (loads the adapter). Prints the error and returns NULL on failure.
 */
llm_backend *cli_llm_open(const cli_llm *o);

#endif
