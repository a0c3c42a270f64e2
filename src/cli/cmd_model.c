/* `mimic model info M.gguf` (what a GGUF model holds) and `mimic model make-random OUT.gguf ...`
 * (a model of real shape with random weights, for benchmarks). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/chat.h"
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
  tokenizer *tok = NULL;
  if (tok_load(f, &tok) == 0) {
    const char *why = NULL;
    chat_family fam = chat_choose(tok, &why);
    printf("  %-22s %s (%s)\n", "chat rendering", chat_family_name(fam), why ? why : "");
    tok_destroy(tok);
  } else {
    err_clear();
  }
  printf("  %-22s %s\n", "kernels", qmat_kernels_name());
  mem_free(tmodel);
  mem_free(tpre);
  mem_free(arch);
  mem_free(name);
  gguf_close(f);
  return 0;
}

static int model_make_random(int argc, char **argv) {
  random_model_opts o = {
      "qwen2", 1024, 24, 0,         0,
      0,       4096, 1,  QP_Q4_K_M, "../shared/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf",
      0};
  int threads = 0;
  const char *type = NULL;
  const cli_opt opts[] = {
      {.name = "arch",
       .type = CLI_STR,
       .dest = &o.arch,
       .meta = "qwen2|llama",
       .help = "architecture (default qwen2)"},
      {.name = "width",
       .type = CLI_INT,
       .dest = &o.width,
       .meta = "N",
       .help = "embedding width (default 1024)",
       .min = 32,
       .max = 65536},
      {.name = "layers",
       .type = CLI_INT,
       .dest = &o.layers,
       .meta = "N",
       .help = "layers (default 24)",
       .min = 1,
       .max = 1024},
      {.name = "heads",
       .type = CLI_INT,
       .dest = &o.heads,
       .meta = "N",
       .help = "attention heads (default width/64)",
       .min = 1,
       .max = 1024},
      {.name = "kv-heads",
       .type = CLI_INT,
       .dest = &o.kv_heads,
       .meta = "N",
       .help = "key/value heads (default heads/4)",
       .min = 1,
       .max = 1024},
      {.name = "ff",
       .type = CLI_INT,
       .dest = &o.ff,
       .meta = "N",
       .help = "feed-forward width (default about 2.75 x width)",
       .min = 32,
       .max = 1 << 20},
      {.name = "ctx",
       .type = CLI_INT,
       .dest = &o.ctx,
       .meta = "N",
       .help = "context length (default 4096)",
       .min = 1,
       .max = 1 << 24},
      {.name = "type",
       .type = CLI_STR,
       .dest = &type,
       .meta = "TYPE",
       .help = "quantization preset (default q4_k_m)"},
      {.name = "tokenizer",
       .type = CLI_PATH,
       .dest = &o.tokenizer_path,
       .meta = "VOCAB.gguf",
       .help = "take the vocabulary from this model"},
      {.name = "vocab",
       .type = CLI_INT,
       .dest = &o.vocab,
       .meta = "N",
       .help = "vocabulary size when there is no tokenizer file",
       .min = 1,
       .max = 1 << 22},
      {.name = "seed", .type = CLI_U64, .dest = &o.seed, .meta = "N", .help = "weights' seed"},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "model make-random",
      .args = "OUT.gguf",
      .min_args = 1,
      .max_args = 1,
      .summary = "Writes a model of a real shape with random weights (for benchmarks), then shows "
                 "it as model info does.",
      .example = "model make-random /tmp/r.gguf --width 896 --layers 24 --type q8_0",
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  const char *out = a.pos[0];
  if (type && quant_preset_parse(type, &o.preset))
    return cli_usage_error(&spec, "--type: %s", err_msg());
  if (!o.heads) o.heads = o.width / 64 > 0 ? o.width / 64 : 1;
  if (!o.kv_heads) o.kv_heads = o.heads % 4 == 0 ? o.heads / 4 : o.heads;
  if (!o.ff) o.ff = (o.width * 11 / 4 + 255) / 256 * 256;
  compute_pool *cp = compute_pool_new(threads);
  rc = gguf_make_random(&o, out, cp);
  compute_pool_destroy(cp);
  if (rc) {
    cli_error("%s", err_msg());
    return 1;
  }
  return model_info(out);
}

static int model_info_cmd(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "model info",
      .args = "M.gguf...",
      .min_args = 1,
      .max_args = -1,
      .summary = "What a GGUF model holds: architecture, shape, tensor types and sizes, "
                 "tokenizer, chat template.",
      .example = "model info models/base.gguf"};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  for (int i = 0; i < a.n_pos && !rc; i++) rc = model_info(a.pos[i]);
  return rc;
}

int cmd_model(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"info", model_info_cmd, "M.gguf...: what a GGUF model holds"},
      {"make-random", model_make_random, "OUT.gguf: a model of real shape with random weights"},
      {0}};
  static const cli_spec spec = {.name = "model",
                                .args = "info M.gguf... | make-random OUT.gguf",
                                .summary = "Inspect or fake a GGUF model.",
                                .example = "model info models/base.gguf",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
