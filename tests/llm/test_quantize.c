/* Tests for the whole-file tools: preset type choice against llama.cpp's own quantized files,
 * gguf_quantize on the tiny F32 model, random models, and the `mimic model` / `mimic quantize`
 * commands end to end. */
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "llm/quantize.h"
#include "llm/tokenizer.h"
#include "test.h"

static char tmpdir[64];

static int n_layers(const gguf_file *f) {
  char *arch = gguf_get_str_dup(f, "general.architecture");
  char key[128];
  snprintf(key, sizeof key, "%s.block_count", arch ? arch : "?");
  uint32_t n = 0;
  if (gguf_get_u32(f, key, &n)) n = 0;
  mem_free(arch);
  return (int)n;
}

/* Every tensor of file gets, under preset p, the type llama.cpp gave it. */
static void check_pick(const char *rel, quant_preset p) {
  char path[512];
  if (!test_shared_path(rel, path, sizeof path)) return;
  gguf_file *f = NULL;
  CHECK_OK(gguf_open(path, &f));
  if (!f) return;
  bool has_output = gguf_tensor_find(f, "output.weight") != NULL;
  for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
    const gguf_tensor *t = gguf_tensor_at(f, i);
    tensor_type want = quant_preset_pick(p, t->name, t->n_dims, t->ne, n_layers(f), has_output);
    if (want != t->type)
      TEST_FAIL_("%s %s: preset %s picks %s, llama.cpp wrote %s", rel, t->name,
                 quant_preset_name(p), tensor_type_get((int)want).name,
                 tensor_type_get((int)t->type).name);
  }
  uint32_t ft = 0;
  CHECK_OK(gguf_get_u32(f, "general.file_type", &ft));
  CHECK_INT(ft, quant_preset_file_type(p));
  gguf_close(f);
}

TEST(presets_match_llama_cpp) {
  char p[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", p, sizeof p)) SKIP("../shared absent");
  check_pick("testdata/llm/tiny-qwen2-q4_k_m.gguf", QP_Q4_K_M);
  check_pick("testdata/llm/tiny-qwen2-q5_k_m.gguf", QP_Q5_K_M);
  check_pick("testdata/llm/tiny-qwen2-q6_k.gguf", QP_Q6_K);
  check_pick("testdata/llm/tiny-qwen2-q8_0.gguf", QP_Q8_0);
  check_pick("testdata/llm/tiny-qwen2-q4_0.gguf", QP_Q4_0);
  check_pick("testdata/llm/tiny-qwen2-f16.gguf", QP_F16);
  check_pick("testdata/llm/tiny-qwen2-bf16.gguf", QP_BF16);
  check_pick("testdata/llm/tiny-llama-q4_k_m.gguf", QP_Q4_K_M);
  check_pick("testdata/llm/tiny-llama-q8_0.gguf", QP_Q8_0);
}

TEST(preset_rules) {
  int64_t ne[2] = {896, 896}, ne2[2] = {4864, 896}, ne3[2] = {40, 8};
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.0.attn_q.weight", 2, ne, 24, false), TT_Q5_0);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "token_embd.weight", 2, ne, 24, false), TT_Q8_0);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.0.ffn_down.weight", 2, ne2, 24, false), TT_Q6_K);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.4.ffn_down.weight", 2, ne2, 24, false), TT_Q4_K);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.5.ffn_down.weight", 2, ne2, 24, false), TT_Q6_K);
  CHECK_INT(quant_preset_pick(QP_Q5_K_M, "blk.3.ffn_up.weight", 2, ne, 24, false), TT_Q5_1);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.3.attn_norm.weight", 2, ne, 24, false), TT_F32);
  CHECK_INT(quant_preset_pick(QP_Q4_K_M, "blk.3.attn_q.bias", 1, ne, 24, false), TT_F32);
  CHECK_INT(quant_preset_pick(QP_Q8_0, "blk.3.attn_q.weight", 2, ne3, 24, false), TT_F32);
  quant_preset qp;
  CHECK_OK(quant_preset_parse("Q4_K_M", &qp));
  CHECK_INT(qp, QP_Q4_K_M);
  CHECK_INT(quant_preset_parse("q3_k_s", &qp), MIMIC_EINVAL);
}

TEST(quantize_tiny_model) {
  char src[512], ref[512], out[128];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", src, sizeof src) ||
      !test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", ref, sizeof ref))
    SKIP("../shared absent");
  snprintf(out, sizeof out, "%s/q4km.gguf", tmpdir);
  compute_pool *cp = compute_pool_new(2);
  CHECK_OK(gguf_quantize(src, out, QP_Q4_K_M, cp));
  compute_pool_destroy(cp);
  gguf_file *a = NULL, *b = NULL, *s = NULL;
  CHECK_OK(gguf_open(out, &a));
  CHECK_OK(gguf_open(ref, &b));
  CHECK_OK(gguf_open(src, &s));
  REQUIRE(a && b && s);
  CHECK_INT(gguf_n_tensors(a), gguf_n_tensors(b));
  gguf_str tmpl;
  CHECK_OK(gguf_get_str(a, "tokenizer.chat_template", &tmpl));
  uint32_t ft = 0, qv = 0;
  CHECK_OK(gguf_get_u32(a, "general.file_type", &ft));
  CHECK_OK(gguf_get_u32(a, "general.quantization_version", &qv));
  CHECK_INT(ft, 15);
  CHECK_INT(qv, 2);
  float *x = malloc(8195 * 256 * sizeof *x);
  for (int64_t i = 0; i < gguf_n_tensors(a); i++) {
    const gguf_tensor *t = gguf_tensor_at(a, i), *r = gguf_tensor_find(b, t->name),
                      *o = gguf_tensor_find(s, t->name);
    REQUIRE(r && o);
    CHECK_INT(t->type, r->type);
    CHECK(memcmp(t->ne, r->ne, sizeof t->ne) == 0);
    /* error of mimic's tensor vs llama.cpp's, both against the F32 original */
    int64_t n = t->ne[0] * t->ne[1];
    quant_dequant_row(t->type, t->data, x, n);
    double num = 0, den = 0, num2 = 0;
    const float *orig = o->data;
    for (int64_t k = 0; k < n; k++) {
      num += ((double)x[k] - orig[k]) * ((double)x[k] - orig[k]);
      den += (double)orig[k] * orig[k];
    }
    quant_dequant_row(r->type, r->data, x, n);
    for (int64_t k = 0; k < n; k++) num2 += ((double)x[k] - orig[k]) * ((double)x[k] - orig[k]);
    if (den > 0 && !(sqrt(num) <= 1.3 * sqrt(num2) + 1e-12))
      TEST_FAIL_("%s: mimic error %.4g vs llama.cpp %.4g", t->name, sqrt(num / den),
                 sqrt(num2 / den));
  }
  free(x);
  gguf_close(a);
  gguf_close(b);
  gguf_close(s);
  unlink(out);
}

TEST(random_models_have_real_shapes) {
  char tok[512], out[128];
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf", tok, sizeof tok))
    SKIP("../shared absent");
  snprintf(out, sizeof out, "%s/rand.gguf", tmpdir);
  const char *arches[] = {"qwen2", "llama"};
  for (int k = 0; k < 2; k++) {
    /* Q8_0 (a fast quantizer) keeps this quick under the sanitizers; the vocabulary is 50257. */
    random_model_opts o = {arches[k], 256, 2, 4, 2, 512, 1024, 7, k == 0 ? QP_Q8_0 : QP_F16,
                           tok,       0};
    CHECK_OK(gguf_make_random(&o, out, NULL));
    gguf_file *f = NULL;
    CHECK_OK(gguf_open(out, &f));
    if (!f) continue;
    CHECK_INT(gguf_n_tensors(f), k == 0 ? 26 : 21);
    char *arch = gguf_get_str_dup(f, "general.architecture");
    CHECK_STR(arch, arches[k]);
    mem_free(arch);
    uint64_t nv = 0;
    gguf_vtype et;
    CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &nv));
    const gguf_tensor *e = gguf_tensor_find(f, "token_embd.weight"),
                      *kk = gguf_tensor_find(f, "blk.1.attn_k.weight");
    const gguf_tensor *n = gguf_tensor_find(f, "blk.0.ffn_norm.weight");
    REQUIRE(e && kk && n);
    CHECK_INT(e->ne[1], (int64_t)nv);
    CHECK_INT(e->type, k == 0 ? TT_Q8_0 : TT_F16);
    CHECK((gguf_tensor_find(f, "output.weight") != NULL) == (k == 1)); /* qwen2 ties embeddings */
    CHECK_INT(kk->ne[1], 128);                                         /* 2 kv heads of 64 */
    CHECK_INT(((const float *)n->data)[17], 1);
    float row[256];
    quant_dequant_row(kk->type, kk->data, row, 256);
    double ss = 0;
    for (int i = 0; i < 256; i++) ss += row[i] * row[i];
    CHECK(sqrt(ss / 256) > 0.015 && sqrt(ss / 256) < 0.025); /* std 0.02 */
    gguf_close(f);
  }
  random_model_opts bad = {"gpt9", 256, 2, 4, 2, 512, 1024, 7, QP_Q4_K_M, tok, 0};
  CHECK_INT(gguf_make_random(&bad, out, NULL), MIMIC_EINVAL);
  bad.arch = "qwen2";
  bad.heads = 3;
  CHECK_INT(gguf_make_random(&bad, out, NULL), MIMIC_EINVAL);
  unlink(out);
}

TEST(random_model_vocab_padding) {
  char tok[512], out[128];
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf", tok, sizeof tok))
    SKIP("../shared absent");
  snprintf(out, sizeof out, "%s/pad.gguf", tmpdir);
  random_model_opts o = {"qwen2", 64, 1, 2, 1, 64, 256, 3, QP_Q8_0, tok, 50300};
  CHECK_OK(gguf_make_random(&o, out, NULL));
  gguf_file *f = NULL;
  CHECK_OK(gguf_open(out, &f));
  REQUIRE(f);
  uint64_t nv = 0;
  gguf_vtype et;
  CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &nv));
  CHECK_INT((int64_t)nv, 50300);
  const gguf_tensor *e = gguf_tensor_find(f, "token_embd.weight");
  REQUIRE(e);
  CHECK_INT(e->ne[1], 50300);
  tokenizer *t = NULL;
  CHECK_OK(tok_load(f, &t));
  if (t) {
    CHECK_INT(tok_n_vocab(t), 50300);
    int32_t pad = tok_find(t, "<|mimic_pad_42|>", 16);
    CHECK_INT(pad, 50257 + 42);
    CHECK(tok_is_control(t, pad));
    CHECK(!tok_is_control(t, 300)); /* the original tokens keep their types */
    tok_destroy(t);
  }
  gguf_close(f);
  o.vocab = 1000; /* smaller than the tokenizer: refused */
  CHECK_INT(gguf_make_random(&o, out, NULL), MIMIC_EINVAL);
  unlink(out);
}

static int run_cmd(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_end_to_end) {
  const char *bin = getenv("MIMIC_BIN");
  char src[512], cmd[2048], out[128];
  if (!bin || access(bin, X_OK) != 0) SKIP("MIMIC_BIN not set");
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", src, sizeof src))
    SKIP("../shared absent");
  snprintf(out, sizeof out, "%s/cli.gguf", tmpdir);
  snprintf(cmd, sizeof cmd, "%s quantize %s %s q8_0 >/dev/null", bin, src, out);
  CHECK_INT(run_cmd(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s model info %s | grep -q 'Q8_0 *x15'", bin, out);
  CHECK_INT(run_cmd(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s model info %s | grep -q 'chat template *yes'", bin, out);
  CHECK_INT(run_cmd(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s quantize %s %s q9_9 2>/dev/null", bin, src, out);
  CHECK_INT(run_cmd(cmd), 2);
  snprintf(cmd, sizeof cmd, "%s model info /nonexistent.gguf 2>/dev/null", bin);
  CHECK_INT(run_cmd(cmd), 1);
  unlink(out);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_quantize_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(presets_match_llama_cpp);
  RUN(preset_rules);
  RUN(quantize_tiny_model);
  RUN(random_models_have_real_shapes);
  RUN(random_model_vocab_padding);
  RUN(cli_end_to_end);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
