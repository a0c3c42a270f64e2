/* Shared option parsing for chat, generate and bench (see llm_args.h). */
#include "cli/llm_args.h"

#include <stdio.h>
#include <string.h>

static int want_arg(int i, int argc, char **argv) {
  if (i + 1 >= argc) {
    cli_error("%s needs a value", argv[i]);
    return 2;
  }
  return 0;
}

static int int_arg(const char *opt, const char *v, int lo, int hi, int *out) {
  int64_t x;
  if (str_to_i64(v, &x) || x < lo || x > hi) {
    cli_error("%s must be an integer between %d and %d (got '%s')", opt, lo, hi, v);
    return 2;
  }
  *out = (int)x;
  return 0;
}

static int num_arg(const char *opt, const char *v, double lo, double hi, float *out) {
  double x;
  if (str_to_double(v, &x) || x < lo || x > hi) {
    cli_error("%s must be a number between %g and %g (got '%s')", opt, lo, hi, v);
    return 2;
  }
  *out = (float)x;
  return 0;
}

int cli_llm_parse(cli_llm *o, const cfg *c, int argc, char **argv, const char *usage) {
  memset(o, 0, sizeof *o);
  o->backend = cfg_str(c, CFG_ENGINE_BACKEND);
  o->model = cfg_str(c, CFG_ENGINE_MODEL);
  o->lora = *cfg_str(c, CFG_ENGINE_ADAPTER) ? cfg_str(c, CFG_ENGINE_ADAPTER) : NULL;
  o->lora_scale = (float)cfg_num(c, CFG_ENGINE_ADAPTER_SCALE);
  o->url = cfg_str(c, CFG_ENGINE_OPENAI_URL);
  o->api_model = cfg_str(c, CFG_ENGINE_OPENAI_MODEL);
  o->key_file =
      *cfg_str(c, CFG_ENGINE_OPENAI_KEY_FILE) ? cfg_str(c, CFG_ENGINE_OPENAI_KEY_FILE) : NULL;
  o->threads = (int)cfg_int(c, CFG_ENGINE_THREADS);
  o->ctx = (int)cfg_int(c, CFG_ENGINE_CTX);
  o->slots = 1;
  o->n_prompt = 512;
  o->n_predict = -1;
  o->reps = 3;
  llm_request_init(&o->req);
  llm_request_from_config(&o->req, c);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc = 0;
    uint64_t seed;
    if (strcmp(a, "--json") == 0) {
      o->json = true;
      continue;
    }
    if (strcmp(a, "--raw") == 0) {
      o->raw = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      printf("%s\n", usage);
      return 2;
    }
    if (a[0] != '-' || (rc = want_arg(i, argc, argv))) {
      if (!rc) cli_error("unexpected argument '%s'\n%s", a, usage);
      return 2;
    }
    const char *v = argv[++i];
    if (strcmp(a, "--backend") == 0)
      o->backend = v;
    else if (strcmp(a, "--model") == 0 || strcmp(a, "-m") == 0)
      o->model = v;
    else if (strcmp(a, "--lora") == 0)
      o->lora = v;
    else if (strcmp(a, "--lora-scale") == 0)
      rc = num_arg(a, v, 0, 16, &o->lora_scale);
    else if (strcmp(a, "--url") == 0)
      o->url = v;
    else if (strcmp(a, "--api-model") == 0)
      o->api_model = v;
    else if (strcmp(a, "--key-file") == 0)
      o->key_file = v;
    else if (strcmp(a, "--system") == 0)
      o->system = v;
    else if (strcmp(a, "--prompt") == 0)
      o->prompt = v;
    else if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0)
      rc = int_arg(a, v, 0, 1024, &o->threads);
    else if (strcmp(a, "--ctx") == 0)
      rc = int_arg(a, v, 16, 1 << 20, &o->ctx);
    else if (strcmp(a, "-p") == 0) {
      /* bench: a token count; generate: the prompt text */
      int64_t x;
      if (str_to_i64(v, &x) == 0)
        rc = int_arg(a, v, 1, 1 << 20, &o->n_prompt);
      else
        o->prompt = v;
    } else if (strcmp(a, "-n") == 0 || strcmp(a, "--max-tokens") == 0) {
      rc = int_arg(a, v, 1, LLM_MAX_TOKENS, &o->n_predict);
      if (!rc) o->req.max_tokens = o->n_predict;
    } else if (strcmp(a, "--reps") == 0)
      rc = int_arg(a, v, 1, 1000, &o->reps);
    else if (strcmp(a, "--temp") == 0)
      rc = num_arg(a, v, 0, 100, &o->req.sampling.temperature);
    else if (strcmp(a, "--top-k") == 0)
      rc = int_arg(a, v, 0, 1 << 24, &o->req.sampling.top_k);
    else if (strcmp(a, "--top-p") == 0)
      rc = num_arg(a, v, 0, 1, &o->req.sampling.top_p);
    else if (strcmp(a, "--min-p") == 0)
      rc = num_arg(a, v, 0, 1, &o->req.sampling.min_p);
    else if (strcmp(a, "--repeat-penalty") == 0)
      rc = num_arg(a, v, 0.01, 100, &o->req.sampling.repeat_penalty);
    else if (strcmp(a, "--seed") == 0) {
      if (str_to_u64(v, &seed) || seed == LLM_SEED_RANDOM) {
        cli_error("--seed must be a non-negative integer (got '%s')", v);
        rc = 2;
      } else {
        o->req.sampling.seed = seed;
      }
    } else {
      cli_error("unknown option '%s'\n%s", a, usage);
      rc = 2;
    }
    if (rc) return rc;
  }
  if (strcmp(o->backend, "local") != 0 && strcmp(o->backend, "openai") != 0) {
    cli_error("--backend must be local or openai (got '%s')", o->backend);
    return 2;
  }
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
