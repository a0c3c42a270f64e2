/* `mimic model info M.gguf` (what a GGUF model holds) and `mimic model make-random OUT.gguf ...`
 * (a model of real shape with random weights, for benchmarks). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "llm/quantize.h"

static void print_u32(const gguf_file *f, const char *arch, const char *suffix, const char *label) {
  char key[128];
  uint32_t v;
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  if (gguf_get_u32(f, key, &v) == 0) printf("  %-22s %" PRIu32 "\n", label, v);
}

static int model_info(const char *path) {
  gguf_file *f = NULL;
  if (gguf_open(path, &f)) {
    cli_error("%s", err_msg());
    return 1;
  }
  char *arch = gguf_get_str_dup(f, "general.architecture");
  char *name = gguf_get_str_dup(f, "general.name");
  printf("%s\n", path);
  printf("  %-22s %.1f MiB, GGUF v%" PRIu32 ", alignment %" PRIu32 ", %" PRId64 " metadata keys\n",
         "file", (double)gguf_file_size(f) / 1048576.0, gguf_version(f), gguf_alignment(f),
         gguf_n_kv(f));
  printf("  %-22s %s\n", "architecture", arch ? arch : "(none)");
  if (name) printf("  %-22s %s\n", "name", name);
  if (arch) {
    print_u32(f, arch, "context_length", "context length");
    print_u32(f, arch, "embedding_length", "embedding length");
    print_u32(f, arch, "block_count", "layers");
    print_u32(f, arch, "feed_forward_length", "feed-forward length");
    print_u32(f, arch, "attention.head_count", "attention heads");
    print_u32(f, arch, "attention.head_count_kv", "kv heads");
  }
  uint32_t ft;
  if (gguf_get_u32(f, "general.file_type", &ft) == 0)
    printf("  %-22s %" PRIu32 "\n", "file type", ft);
  /* Parameters and bytes per tensor type. */
  uint64_t params = 0, bytes = 0, count[TT_COUNT] = {0}, tparams[TT_COUNT] = {0},
           tbytes[TT_COUNT] = {0};
  for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
    const gguf_tensor *t = gguf_tensor_at(f, i);
    uint64_t n = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    params += n;
    bytes += t->nbytes;
    count[t->type]++;
    tparams[t->type] += n;
    tbytes[t->type] += t->nbytes;
  }
  printf("  %-22s %" PRId64 " tensors, %.2f M parameters, %.1f MiB of weights (%.2f bits/weight)\n",
         "tensors", gguf_n_tensors(f), (double)params / 1e6, (double)bytes / 1048576.0,
         params ? 8.0 * (double)bytes / (double)params : 0.0);
  for (int t = 0; t < TT_COUNT; t++)
    if (count[t])
      printf("  %-22s %-5s x%-4" PRIu64 " %10.2f M params %9.1f MiB\n", "", tensor_type_get(t).name,
             count[t], (double)tparams[t] / 1e6, (double)tbytes[t] / 1048576.0);
  char *tmodel = gguf_get_str_dup(f, "tokenizer.ggml.model");
  char *tpre = gguf_get_str_dup(f, "tokenizer.ggml.pre");
  uint64_t nv = 0;
  gguf_vtype et;
  if (gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &nv) == 0)
    printf("  %-22s %s%s%s, %" PRIu64 " tokens\n", "tokenizer", tmodel ? tmodel : "?",
           tpre ? " / " : "", tpre ? tpre : "", nv);
  else
    printf("  %-22s (none)\n", "tokenizer");
  gguf_str tmpl;
  if (gguf_get_str(f, "tokenizer.chat_template", &tmpl) == 0)
    printf("  %-22s yes (%" PRIu64 " bytes)\n", "chat template", tmpl.len);
  else
    printf("  %-22s no\n", "chat template");
  printf("  %-22s %s\n", "kernels", kernels_name());
  mem_free(tmodel);
  mem_free(tpre);
  mem_free(arch);
  mem_free(name);
  gguf_close(f);
  return 0;
}

static int parse_int_arg(const char *flag, const char *v, int lo, int hi, int *out) {
  int64_t x;
  if (!v || str_to_i64(v, &x) || x < lo || x > hi) {
    cli_error("%s needs a number between %d and %d", flag, lo, hi);
    return -1;
  }
  *out = (int)x;
  return 0;
}

static int model_make_random(int argc, char **argv) {
  random_model_opts o = {
      "qwen2", 1024, 24, 0,         0,
      0,       4096, 1,  QP_Q4_K_M, "../shared/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf",
      0};
  const char *out = NULL;
  int threads = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (a[0] != '-' && !out) {
      out = a;
      continue;
    }
    if (!v) {
      cli_error("%s needs a value", a);
      return 2;
    }
    i++;
    if (strcmp(a, "--arch") == 0)
      o.arch = v;
    else if (strcmp(a, "--width") == 0)
      rc = parse_int_arg(a, v, 32, 65536, &o.width);
    else if (strcmp(a, "--layers") == 0)
      rc = parse_int_arg(a, v, 1, 1024, &o.layers);
    else if (strcmp(a, "--heads") == 0)
      rc = parse_int_arg(a, v, 1, 1024, &o.heads);
    else if (strcmp(a, "--kv-heads") == 0)
      rc = parse_int_arg(a, v, 1, 1024, &o.kv_heads);
    else if (strcmp(a, "--ff") == 0)
      rc = parse_int_arg(a, v, 32, 1 << 20, &o.ff);
    else if (strcmp(a, "--ctx") == 0)
      rc = parse_int_arg(a, v, 1, 1 << 24, &o.ctx);
    else if (strcmp(a, "--threads") == 0)
      rc = parse_int_arg(a, v, 1, 256, &threads);
    else if (strcmp(a, "--tokenizer") == 0)
      o.tokenizer_path = v;
    else if (strcmp(a, "--vocab") == 0)
      rc = parse_int_arg(a, v, 1, 1 << 22, &o.vocab);
    else if (strcmp(a, "--seed") == 0)
      rc = str_to_u64(v, &o.seed) ? (cli_error("--seed needs a number"), -1) : 0;
    else if (strcmp(a, "--type") == 0)
      rc = quant_preset_parse(v, &o.preset) ? (cli_error("%s", err_msg()), -1) : 0;
    else {
      cli_error("unknown option '%s'", a);
      rc = -1;
    }
    if (rc) return 2;
  }
  if (!out) {
    cli_error(
        "usage: mimic model make-random OUT.gguf [--arch qwen2|llama] [--width 1024] [--layers 24] "
        "[--heads W/64] [--kv-heads heads/4] [--ff ~2.75*W] [--ctx 4096] [--type q4_k_m] "
        "[--tokenizer VOCAB.gguf] [--vocab N] [--seed N] [--threads N]");
    return 2;
  }
  if (!o.heads) o.heads = o.width / 64 > 0 ? o.width / 64 : 1;
  if (!o.kv_heads) o.kv_heads = o.heads % 4 == 0 ? o.heads / 4 : o.heads;
  if (!o.ff) o.ff = (o.width * 11 / 4 + 255) / 256 * 256;
  compute_pool *cp = compute_pool_new(threads);
  int rc = gguf_make_random(&o, out, cp);
  compute_pool_destroy(cp);
  if (rc) {
    cli_error("%s", err_msg());
    return 1;
  }
  return model_info(out);
}

int cmd_model(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "info") == 0) {
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) rc = model_info(argv[i]);
    return rc;
  }
  if (argc >= 2 && strcmp(argv[1], "make-random") == 0) return model_make_random(argc, argv);
  cli_error("usage: mimic model info M.gguf... | mimic model make-random OUT.gguf [options]");
  return 2;
}
