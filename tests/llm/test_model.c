/* The model against llama.cpp: every ref-*.logits.f32 in ../shared/testdata/llm whose model is
 * there is reproduced position by position (relative L2 error per row: 1e-4 for F32 models, 1e-2
 * for F16/BF16/quantized, per the testdata README); token-at-a-time evaluation through the KV cache
 * matches the batch; loading refuses what it cannot run, naming it. */
#include <dirent.h>
#include <unistd.h>
#include <string.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "model_ref.h"
#include "test.h"

typedef struct ref_case {
  char file[160]; /* ref-qwen2-q4_k_m-lora0.5-chat */
  char arch[16];
  char type[16];
  bool lora;
  float lora_scale;
} ref_case;

/* Parses "ref-ARCH-TYPE[-loraS]-PROMPT.logits.f32". */
static bool parse_case(const char *name, ref_case *rc) {
  memset(rc, 0, sizeof *rc);
  if (!str_starts_with(name, "ref-") || !str_ends_with(name, ".logits.f32")) return false;
  size_t len = strlen(name) - strlen(".logits.f32");
  if (len >= sizeof rc->file) return false;
  memcpy(rc->file, name, len);
  char parts[5][40];
  int np = 0;
  const char *p = name + 4;
  while (np < 5 && p < name + len) {
    const char *dash = memchr(p, '-', (size_t)(name + len - p));
    size_t n = dash ? (size_t)(dash - p) : (size_t)(name + len - p);
    if (n >= sizeof parts[0]) return false;
    memcpy(parts[np], p, n);
    parts[np][n] = '\0';
    np++;
    p += n + 1;
  }
  if (np < 3) return false;
  str_lcpy(rc->arch, parts[0], sizeof rc->arch);
  str_lcpy(rc->type, parts[1], sizeof rc->type);
  rc->lora_scale = 1.0f;
  if (np == 4 && str_starts_with(parts[2], "lora")) {
    rc->lora = true;
    double s = 1.0;
    if (parts[2][4] && str_to_double(parts[2] + 4, &s)) return false;
    rc->lora_scale = (float)s;
  }
  return true;
}

static int cmp_case(const void *a, const void *b) {
  return strcmp(((const ref_case *)a)->file, ((const ref_case *)b)->file);
}

static int list_cases(ref_case *out, int cap) {
  char dir[512];
  const char *root = getenv("MIMIC_SHARED");
  snprintf(dir, sizeof dir, "%s/testdata/llm", root ? root : "../shared");
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < cap)
    if (parse_case(e->d_name, &out[n])) n++;
  closedir(d);
  qsort(out, (size_t)n, sizeof *out, cmp_case);
  return n;
}

/* Loads the model (and adapter) of a case; false (and a skip note) when the files are absent. */
static bool load_case(const ref_case *rc, llm_model **m, llm_lora **l) {
  char rel[256], path[512];
  *m = NULL;
  *l = NULL;
  snprintf(rel, sizeof rel, "testdata/llm/tiny-%s-%s.gguf", rc->arch, rc->type);
  if (!test_shared_path(rel, path, sizeof path)) return false;
  CHECK_OK(llm_model_load(path, m));
  if (!*m) return false;
  if (rc->lora) {
    snprintf(rel, sizeof rel, "testdata/llm/tiny-%s-lora-f32.gguf", rc->arch);
    if (!test_shared_path(rel, path, sizeof path)) {
      llm_model_destroy(*m);
      *m = NULL;
      return false;
    }
    CHECK_OK(llm_lora_load(*m, path, l));
    if (!*l) {
      llm_model_destroy(*m);
      *m = NULL;
      return false;
    }
  }
  return true;
}

static bool read_case(const ref_case *rc, int n_vocab, int32_t **ids, int *n_tok, float **ref) {
  char rel[256], path[512];
  size_t len = 0;
  snprintf(rel, sizeof rel, "testdata/llm/%s.tokens", rc->file);
  if (!test_shared_path(rel, path, sizeof path)) return false;
  *n_tok = ref_read_tokens(path, ids);
  snprintf(rel, sizeof rel, "testdata/llm/%s.logits.f32", rc->file);
  if (!test_shared_path(rel, path, sizeof path)) return false;
  *ref = (float *)ref_slurp(path, &len);
  if (*n_tok <= 0 || !*ref || len != (size_t)*n_tok * (size_t)n_vocab * sizeof(float)) {
    TEST_FAIL_("%s: %d tokens and %zu bytes of logits do not agree with n_vocab %d", rc->file,
               *n_tok, len, n_vocab);
    return false;
  }
  return true;
}

static double tolerance(const ref_case *rc) { return strcmp(rc->type, "f32") == 0 ? 1e-4 : 1e-2; }

/* The types whose every operation runs in the reference's order (with or without the F32 LoRA).
 * Not F16: its reference logits are themselves rounded to F16 values. Q4_0 and Q4_K_M follow the
 * orders of llama.cpp's repacked x86 kernels (llm_order). */
static bool bit_identical(const ref_case *rc) {
  static const char *const types[] = {"f32", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(rc->type, types[i]) == 0) return true;
  return false;
}

TEST(ref_logits_batch) {
  ref_case cases[64];
  int n_cases = list_cases(cases, 64);
  if (n_cases == 0) SKIP("../shared/testdata/llm absent");
  int ran = 0;
  for (int ci = 0; ci < n_cases; ci++) {
    const ref_case *rc = &cases[ci];
    llm_model *m;
    llm_lora *l;
    if (!load_case(rc, &m, &l)) {
      printf("     %s: model absent, skipped\n", rc->file);
      continue;
    }
    int V = llm_model_hparams(m)->n_vocab;
    int32_t *ids = NULL;
    float *ref = NULL, *got = NULL;
    int n = 0;
    llm_ctx *c = NULL;
    if (!read_case(rc, V, &ids, &n, &ref)) goto next;
    llm_ctx_params cp = {.n_ctx = 256, .n_slots = 1, .n_batch = 256};
    CHECK_OK(llm_ctx_new(m, &cp, &c));
    if (!c) goto next;
    got = xalloc((size_t)n * V * sizeof *got);
    CHECK_OK(llm_forward(c, 0, ids, n, 0, l, rc->lora_scale, got, LLM_LOGITS_ALL));
    double worst = 0;
    int worst_at = 0, n_exact = 0, n_over = 0, first_dev = -1;
    for (int t = 0; t < n; t++) {
      double e = ref_rel_err(got + (size_t)t * V, ref + (size_t)t * V, (size_t)V);
      if (e > worst || e != e) {
        worst = e;
        worst_at = t;
      }
      n_exact += e <= 1e-4;
      if (!(e <= 1e-4) && first_dev < 0) first_dev = t;
      n_over += !(e <= tolerance(rc));
    }
    printf("     %-30s %2d tokens, worst rel err %.3g at position %2d (tolerance %g), %d/%d rows "
           "within 1e-4\n",
           rc->file, n, worst, worst_at, tolerance(rc), n_exact, n);
    if (n_over) {
      /* A quantized model is either within the bound everywhere, or the rows over it come from an
       * activation that rounded to the neighbouring integer (last-bit differences in the kernels'
       * summation order; random weights turn one such flip into ~1e-2, and it carries to later
       * rows through the KV cache): then every row before it matches the reference to 1e-4, a
       * good share of all rows do, and no row is far off (skipping activation quantization
       * altogether lands at 5e-2..1e-1). */
      bool flips = strcmp(rc->type, "f32") != 0 && worst <= 3 * tolerance(rc) && first_dev >= 1 &&
                   4 * n_exact >= n;
      if (flips)
        printf("     %-30s %d rows over %g: isolated activation-rounding flips (see "
               "docs/internals/model.md)\n",
               rc->file, n_over, tolerance(rc));
      else
        TEST_FAIL_("%s: rel err %g > %g", rc->file, worst, tolerance(rc));
    }
    /* Where the engine follows every operation's order (docs/internals/model.md, Accuracy),
     * nothing is left to rounding chance: llama.cpp's logits come out bit for bit at every row. */
    if (bit_identical(rc) && worst != 0)
      TEST_FAIL_("%s: logits should be bit-identical to llama.cpp's, worst rel err %g", rc->file,
                 worst);
    CHECK_INT(llm_slot_n_past(c, 0), n);
    ran++;
  next:
    mem_free(got);
    mem_free(ref);
    mem_free(ids);
    llm_ctx_destroy(c);
    llm_lora_destroy(l);
    llm_model_destroy(m);
  }
  if (ran == 0) SKIP("no reference model present");
}

/* Token by token through the KV cache (and chunked prompts) == one batch, to 1e-5: not bit for
 * bit, because a repacked Q4_K weight (llm__gemm_tokens) multiplies one token alone in llama.cpp's
 * gemv order and groups of four in a batch in its gemm order, which round differently, as in
 * llama.cpp.
 */
static void check_incremental(const char *file) {
  ref_case rc;
  char name[200];
  snprintf(name, sizeof name, "%s.logits.f32", file);
  REQUIRE(parse_case(name, &rc));
  llm_model *m;
  llm_lora *l;
  if (!load_case(&rc, &m, &l)) return;
  int V = llm_model_hparams(m)->n_vocab;
  int32_t *ids = NULL;
  float *ref = NULL, *batch = NULL, *step = NULL;
  int n = 0;
  llm_ctx *c = NULL;
  if (!read_case(&rc, V, &ids, &n, &ref)) goto out;
  llm_ctx_params cp = {
      .n_ctx = 128, .n_slots = 2, .n_batch = 7}; /* odd batch: prompts are chunked */
  CHECK_OK(llm_ctx_new(m, &cp, &c));
  if (!c) goto out;
  batch = xalloc((size_t)n * V * sizeof *batch);
  step = xalloc((size_t)V * sizeof *step);
  CHECK_OK(llm_forward(c, 0, ids, n, 0, l, rc.lora_scale, batch, LLM_LOGITS_ALL));
  double worst_ref = 0, worst_step = 0;
  for (int t = 0; t < n; t++) {
    CHECK_OK(llm_slot_decode(c, 1, &ids[t], 1, l, rc.lora_scale, step));
    double e = ref_rel_err(step, batch + (size_t)t * V, (size_t)V);
    if (e > worst_step) worst_step = e;
    e = ref_rel_err(step, ref + (size_t)t * V, (size_t)V);
    if (e > worst_ref) worst_ref = e;
  }
  printf("     %s one at a time: worst rel err %.3g vs chunked batch, %.3g vs reference\n", file,
         worst_step, worst_ref);
  CHECK(worst_step <= 1e-5);
  CHECK(worst_ref <= tolerance(&rc));
  CHECK_INT(llm_slot_n_past(c, 1), n);
  CHECK(memcmp(llm_slot_tokens(c, 1), ids, (size_t)n * sizeof *ids) == 0);
out:
  mem_free(step);
  mem_free(batch);
  mem_free(ref);
  mem_free(ids);
  llm_ctx_destroy(c);
  llm_lora_destroy(l);
  llm_model_destroy(m);
}

TEST(incremental_matches_batch) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", path, sizeof path))
    SKIP("../shared absent");
  check_incremental("ref-qwen2-f32-chat");
  check_incremental("ref-qwen2-q4_k_m-chat");
  check_incremental("ref-llama-q8_0-plain");
}

TEST(hparams_read) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", path, sizeof path))
    SKIP("../shared absent");
  llm_model *m = NULL;
  CHECK_OK(llm_model_load(path, &m));
  REQUIRE(m);
  const llm_hparams *hp = llm_model_hparams(m);
  CHECK_STR(hp->arch_name, "qwen2");
  CHECK_INT(hp->rope_type, LLM_ROPE_NEOX);
  CHECK_INT(hp->n_layer, 2);
  CHECK_INT(hp->n_embd, 256);
  CHECK_INT(hp->n_head, 4);
  CHECK_INT(hp->n_head_kv, 2);
  CHECK_INT(hp->head_dim, 64);
  CHECK_INT(hp->n_vocab, 8192 + 3);
  CHECK(hp->tied_embeddings);
  CHECK(hp->has_qkv_bias);
  CHECK_NEAR(hp->rope_freq_base, 1e6, 1);
  CHECK(llm_model_bytes_per_token(m) > 0 &&
        llm_model_bytes_per_token(m) < gguf_file_size(llm_model_gguf(m)));
  llm_model_destroy(m);

  if (!test_shared_path("testdata/llm/tiny-llama-f32.gguf", path, sizeof path)) return;
  CHECK_OK(llm_model_load(path, &m));
  REQUIRE(m);
  hp = llm_model_hparams(m);
  CHECK_STR(hp->arch_name, "llama");
  CHECK_INT(hp->rope_type, LLM_ROPE_NORM);
  CHECK(!hp->tied_embeddings);
  CHECK(!hp->has_qkv_bias);
  CHECK(hp->n_head_kv < hp->n_head);
  llm_model_destroy(m);
}

TEST(refuses_unsupported_arch) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-bert-f16.gguf", path, sizeof path))
    SKIP("../shared absent");
  llm_model *m = (llm_model *)1;
  int rc = llm_model_load(path, &m);
  CHECK_INT(rc, MIMIC_EUNSUPPORTED);
  CHECK(m == NULL);
  CHECK(strstr(err_msg(), "'bert'") != NULL);
}

/* A copy of the tiny qwen2 model with one tensor left out, or one reshaped, must be refused with
 * a message naming that tensor. */
static int write_variant(const char *src_path, const char *dst, const char *drop,
                         const char *arch) {
  gguf_file *src = NULL;
  int rc = gguf_open(src_path, &src);
  if (rc) return rc;
  gguf_writer *w = gguf_writer_new();
  gguf_copy_kv(w, src, arch ? "general.architecture" : NULL);
  if (arch) gguf_set_str(w, "general.architecture", arch);
  for (int64_t i = 0; i < gguf_n_tensors(src) && rc == 0; i++) {
    const gguf_tensor *t = gguf_tensor_at(src, i);
    if (drop && strcmp(t->name, drop) == 0) continue;
    rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
  }
  if (rc == 0) rc = gguf_writer_save(w, dst);
  gguf_writer_destroy(w);
  gguf_close(src);
  return rc;
}

TEST(refuses_broken_models) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", path, sizeof path))
    SKIP("../shared absent");
  char tmp[] = "/tmp/mimic-test-model-XXXXXX";
  REQUIRE(mkdtemp(tmp));
  char dst[600];
  snprintf(dst, sizeof dst, "%s/variant.gguf", tmp);

  CHECK_OK(write_variant(path, dst, "blk.1.ffn_down.weight", NULL));
  llm_model *m = NULL;
  CHECK_INT(llm_model_load(dst, &m), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "blk.1.ffn_down.weight") != NULL);

  CHECK_OK(write_variant(path, dst, "output_norm.weight", NULL));
  CHECK_INT(llm_model_load(dst, &m), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "output_norm.weight") != NULL);

  CHECK_OK(write_variant(path, dst, NULL, "gpt2"));
  CHECK_INT(llm_model_load(dst, &m), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "gpt2") != NULL);

  CHECK_INT(llm_model_load("/nonexistent/model.gguf", &m), MIMIC_ENOTFOUND);
  CHECK(m == NULL);
  remove(dst);
  rmdir(tmp);
}

TEST(forward_rejects_bad_input) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", path, sizeof path))
    SKIP("../shared absent");
  llm_model *m = NULL;
  CHECK_OK(llm_model_load(path, &m));
  REQUIRE(m);
  llm_ctx *c = NULL;
  llm_ctx_params cp = {.n_ctx = 16, .n_slots = 2, .n_batch = 8};
  CHECK_OK(llm_ctx_new(m, &cp, &c));
  REQUIRE(c);
  int V = llm_model_hparams(m)->n_vocab;
  float *lg = xalloc((size_t)V * sizeof *lg);
  int32_t bad[2] = {1, V};
  CHECK_INT(llm_forward(c, 0, bad, 2, 0, NULL, 1, lg, LLM_LOGITS_LAST), MIMIC_EINVAL);
  int32_t neg = -1;
  CHECK_INT(llm_forward(c, 0, &neg, 1, 0, NULL, 1, lg, LLM_LOGITS_LAST), MIMIC_EINVAL);
  int32_t ok[20] = {0};
  CHECK_INT(llm_forward(c, 2, ok, 1, 0, NULL, 1, lg, LLM_LOGITS_LAST), MIMIC_EINVAL);
  CHECK_INT(llm_forward(c, 0, ok, 1, 3, NULL, 1, lg, LLM_LOGITS_LAST), MIMIC_EINVAL); /* hole */
  CHECK_INT(llm_forward(c, 0, ok, 17, 0, NULL, 1, lg, LLM_LOGITS_LAST), MIMIC_ERANGE);
  CHECK_INT(llm_slot_prepare(c, 0, ok, 17, NULL, 1, lg, NULL), MIMIC_ERANGE);
  CHECK_OK(llm_forward(c, 0, ok, 4, 0, NULL, 1, lg, LLM_LOGITS_LAST));
  CHECK_INT(llm_slot_n_past(c, 0), 4);
  mem_free(lg);
  llm_ctx_destroy(c);
  llm_model_destroy(m);
}

/* `mimic logits` writes the reference layout: compare with the reference file directly. */
TEST(cli_logits) {
  char model[512], toks[512], refp[512], lora[512];
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set (run through ctest)");
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model, sizeof model) ||
      !test_shared_path("testdata/llm/ref-qwen2-f32-lora-chat.tokens", toks, sizeof toks) ||
      !test_shared_path("testdata/llm/ref-qwen2-f32-lora-chat.logits.f32", refp, sizeof refp) ||
      !test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", lora, sizeof lora))
    SKIP("../shared absent");
  char tmp[] = "/tmp/mimic-test-logits-XXXXXX";
  REQUIRE(mkdtemp(tmp));
  char out[600], cmd[3000];
  snprintf(out, sizeof out, "%s/out.f32", tmp);
  snprintf(cmd, sizeof cmd,
           "'%s' logits --model '%s' --lora '%s' --lora-scale 1 --tokens-file '%s' --out '%s' "
           "2>/dev/null",
           bin, model, lora, toks, out);
  CHECK_INT(system(cmd), 0);
  size_t n_got = 0, n_ref = 0;
  float *got = (float *)ref_slurp(out, &n_got), *ref = (float *)ref_slurp(refp, &n_ref);
  REQUIRE(got && ref);
  CHECK_INT(n_got, n_ref);
  if (n_got == n_ref) {
    double e = ref_rel_err(got, ref, n_ref / sizeof(float));
    printf("     mimic logits vs reference: rel err %.3g over all rows\n", e);
    CHECK(e <= 1e-4);
  }
  /* Bad input: a clear failure, no output. */
  snprintf(cmd, sizeof cmd,
           "'%s' logits --model '%s' --tokens 1,x,3 --out '%s/bad.f32' 2>/dev/null", bin, model,
           tmp);
  CHECK(system(cmd) != 0);
  snprintf(cmd, sizeof cmd, "%s/bad.f32", tmp);
  FILE *f = fopen(cmd, "rb");
  CHECK(f == NULL);
  if (f) fclose(f);
  mem_free(got);
  mem_free(ref);
  remove(out);
  rmdir(tmp);
}

int main(void) {
  RUN(hparams_read);
  RUN(refuses_unsupported_arch);
  RUN(refuses_broken_models);
  RUN(forward_rejects_bad_input);
  RUN(ref_logits_batch);
  RUN(incremental_matches_batch);
  RUN(cli_logits);
  TEST_MAIN_END();
}
