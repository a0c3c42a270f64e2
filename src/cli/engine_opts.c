/* The shared engine options' defaults and the backend they open (see engine_opts.h). */
#include "cli/engine_opts.h"

#include <stdio.h>
#include <string.h>

void cli_llm_init(cli_llm *o) {
  memset(o, 0, sizeof *o);
  o->slots = 1;
  llm_request_init(&o->req);
}

int cli_llm_finish(cli_llm *o, const cli_spec *s, const cli_args *a, const cfg *c) {
  int64_t n = cfg_int(c, CFG_ENGINE_REPEAT_LAST_N);
  o->req.sampling.repeat_last_n = (int)(n > LLM_REPEAT_MAX ? LLM_REPEAT_MAX : n);
  if (o->lora && !*o->lora) o->lora = NULL;
  if (o->key_file && !*o->key_file) o->key_file = NULL;
  if (o->req.sampling.seed == LLM_SEED_RANDOM && cli_given(s, a, "seed"))
    return cli_usage_error(s, "--seed: %llu is reserved for a random seed",
                           (unsigned long long)LLM_SEED_RANDOM);
  if (strcmp(o->backend, "local") != 0 && strcmp(o->backend, "openai") != 0)
    return cli_usage_error(s, "--backend must be local or openai (got '%s')", o->backend);
  return 0;
}

llm_backend *cli_llm_open(const cli_llm *o) {
  llm_backend *b = NULL;
  int rc;
  if (strcmp(o->backend, "openai") == 0) {
    llm_openai_opts oo = {
        .url = o->url, .model = o->api_model, .key_file = o->key_file, .workers = 1};
    rc = llm_backend_openai_new(&oo, &b);
  } else {
    llm_local_opts lo = {
        .model_path = o->model, .threads = o->threads, .slots = o->slots, .ctx = o->ctx};
    rc = llm_backend_local_new(&lo, &b);
    if (!rc && o->lora && *o->lora &&
        (rc = llm_backend_adapter_load(b, "", o->lora, o->lora_scale))) {
      llm_backend_destroy(b);
      b = NULL;
    }
  }
  if (rc) {
    cli_error("%s", err_msg());
    return NULL;
  }
  return b;
}
