/* The sentence encoder: llama.cpp's reference embedding for ../shared's tiny bert (bit for bit),
 * the text path giving the reference's tokens, a batch equal to each text alone, the SIMD paths
 * against the scalar ones (through `mimic embed` under MIMIC_KERNELS=scalar), normalisation, mean
 * pooling, `mimic embed` writing the reference file's bytes, and refusals: an unsupported
 * architecture, wrong shapes, over-long token input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "embed/embed.h"
#include "embed/tiny_bert.h"
#include "test.h"

static char tmpdir[] = "/tmp/mimic-test-embed-XXXXXX";
static char model_q8[512], model_f16[512], model_mean[512];
static tiny_bert_spec mean_spec;

/* Texts of 2 to ~70 tokens, so sequences of 16 and 32 tokens (the tiled orders) and others occur.
 */
static const char *const texts[] = {
    "",
    "hello",
    "a b c d e f g h i j k l m n", /* 14 words + [CLS] [SEP] = 16 tokens */
    "ab cd ef gh ij kl mn op qr st uv wx yz ba bc bd be bf bg bh bi bj bk bl bm bn bo bp bq br",
    "lol that's wild!!! no way 💀",
    "the quick brown fox jumps over the lazy dog, then does it again and again and again and "
    "again, until everyone in the channel is tired of hearing about the fox and the dog and "
    "the whole story",
    "gg ez",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

static bool load_ref(const char *name, void *buf, size_t n) {
  char rel[128], path[1024];
  snprintf(rel, sizeof rel, "testdata/llm/%s", name);
  if (!test_shared_path(rel, path, sizeof path)) return false;
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  return got == n || n == (size_t)-1;
}

TEST(reference_embedding_matches_llama_cpp) {
  char path[1024];
  if (!test_shared_path("testdata/llm/tiny-bert-f16.gguf", path, sizeof path))
    SKIP("../shared/testdata/llm/tiny-bert-f16.gguf absent");
  char toks[256] = {0};
  float ref[128];
  REQUIRE(load_ref("ref-bert-f16.tokens", toks, sizeof toks - 1) || toks[0]);
  REQUIRE(load_ref("ref-bert-f16.embd.f32", ref, sizeof ref));
  int32_t ids[64];
  size_t n = 0;
  for (char *p = toks; *p && n < 64;) {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p) break;
    ids[n++] = (int32_t)v;
    p = e;
  }
  REQUIRE(n == 9);
  embed_opts o = {.threads = 2};
  embed_model *m = embed_open(path, &o);
  if (!m) printf("  %s\n", err_msg());
  REQUIRE(m);
  CHECK_INT(embed_dim(m), 128);
  CHECK_INT(embed_max_tokens(m), 512);
  float v[128], w[128];
  CHECK_OK(embed_tokens(m, ids, n, false, v));
  double maxerr = 0;
  int differ = 0;
  for (int i = 0; i < 128; i++) {
    double e = fabs((double)v[i] - ref[i]);
    if (e > maxerr) maxerr = e;
    differ += memcmp(&v[i], &ref[i], 4) != 0;
  }
  printf("     tiny-bert-f16 CLS: max abs error %.3g, %d of 128 values differ in bits\n", maxerr,
         differ);
  CHECK(maxerr <= 1e-3);
  CHECK_INT(differ, 0);
  /* The text itself tokenizes to the reference's ids, so the text path gives the same vector. */
  const char *q = "what is the capital of france?";
  CHECK_OK(embed_texts(m, &q, 1, false, w));
  CHECK(memcmp(v, w, sizeof v) == 0);
  /* Normalised: the pooled vector over its length. */
  CHECK_OK(embed_texts(m, &q, 1, true, w));
  double nn = 0, ss = 0;
  for (int i = 0; i < 128; i++) nn += (double)v[i] * v[i];
  for (int i = 0; i < 128; i++) {
    CHECK_NEAR(w[i], v[i] / sqrt(nn), 1e-6);
    ss += (double)w[i] * w[i];
  }
  CHECK_NEAR(ss, 1.0, 1e-5);
  CHECK_NEAR(embed_cosine(v, w, 128), 1.0, 1e-6);
  embed_close(m);
}

/* Every text alone, then all together (one pass, and with passes of two texts): the same bits. */
static void batch_equals_alone(const char *model, int threads) {
  embed_opts o = {.threads = threads};
  embed_model *m = embed_open(model, &o);
  if (!m) printf("  %s\n", err_msg());
  REQUIRE(m);
  int d = embed_dim(m);
  float *alone = xcalloc(N_TEXTS * (size_t)d, sizeof *alone);
  float *all = xcalloc(N_TEXTS * (size_t)d, sizeof *all);
  for (size_t i = 0; i < N_TEXTS; i++) CHECK_OK(embed_texts(m, &texts[i], 1, true, alone + i * d));
  CHECK_OK(embed_texts(m, texts, N_TEXTS, true, all));
  CHECK(memcmp(alone, all, N_TEXTS * (size_t)d * sizeof *all) == 0);
  embed_close(m);
  o.max_batch = 2;
  m = embed_open(model, &o);
  REQUIRE(m);
  memset(all, 0, N_TEXTS * (size_t)d * sizeof *all);
  CHECK_OK(embed_texts(m, texts, N_TEXTS, true, all));
  CHECK(memcmp(alone, all, N_TEXTS * (size_t)d * sizeof *all) == 0);
  /* different texts give different vectors, each of unit length */
  for (size_t i = 0; i < N_TEXTS; i++) {
    double ss = 0;
    for (int k = 0; k < d; k++) ss += (double)all[i * d + k] * all[i * d + k];
    CHECK_NEAR(ss, 1.0, 1e-5);
    if (i) CHECK(embed_cosine(all + i * d, all + (i - 1) * d, d) < 0.9999f);
  }
  mem_free(alone);
  mem_free(all);
  embed_close(m);
}

TEST(batch_of_texts_equals_each_alone) {
  batch_equals_alone(model_q8, 2);
  batch_equals_alone(model_f16, 1);
  batch_equals_alone(model_mean, 3);
}

TEST(mean_pooling_and_tokens) {
  embed_model *m = embed_open(model_mean, NULL);
  REQUIRE(m);
  int d = embed_dim(m);
  /* --tokens takes ids as given: [CLS] x [SEP] by hand equals the text "x" */
  const char *t = "!";
  int32_t ids[3] = {2, 5, 3}; /* [CLS] "▁!" [SEP]: the specials, then "▁!" "!" for '!' (33) */
  float a[64], b[64], c[64];
  REQUIRE(d <= 64);
  CHECK_OK(embed_texts(m, &t, 1, false, a));
  CHECK_OK(embed_tokens(m, ids, 3, false, b));
  CHECK(memcmp(a, b, (size_t)d * sizeof *a) == 0);
  /* The same weights pooled by CLS: a different vector for three tokens, the same for one (the
   * mean of one row is that row). */
  char cls_path[600];
  snprintf(cls_path, sizeof cls_path, "%s/cls.gguf", tmpdir);
  tiny_bert_spec cs = mean_spec;
  cs.pooling = 2;
  REQUIRE(tiny_bert_write(cls_path, &cs) == 0);
  embed_model *cm = embed_open(cls_path, NULL);
  REQUIRE(cm);
  CHECK_OK(embed_tokens(cm, ids, 3, false, c));
  CHECK(memcmp(b, c, (size_t)d * sizeof *b) != 0);
  CHECK_OK(embed_tokens(cm, ids + 1, 1, false, c));
  CHECK_OK(embed_tokens(m, ids + 1, 1, false, b));
  CHECK(memcmp(b, c, (size_t)d * sizeof *b) == 0);
  embed_close(cm);
  unlink(cls_path);
  /* refusals */
  int32_t bad = 1 << 20;
  CHECK_INT(embed_tokens(m, &bad, 1, false, a), MIMIC_EINVAL);
  int32_t *many = xcalloc((size_t)embed_max_tokens(m) + 1, sizeof *many);
  CHECK_INT(embed_tokens(m, many, (size_t)embed_max_tokens(m) + 1, false, a), MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "context") != NULL);
  CHECK_OK(embed_tokens(m, many, (size_t)embed_max_tokens(m), false, a));
  mem_free(many);
  /* a text longer than the context is truncated, not refused */
  char *longtext = xcalloc(4 * 200 + 1, 1);
  for (int i = 0; i < 200; i++) memcpy(longtext + 4 * i, "ab  ", 4);
  const char *lt = longtext;
  CHECK_OK(embed_texts(m, &lt, 1, true, a));
  mem_free(longtext);
  embed_close(m);
}

TEST(simd_matches_scalar) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set");
  char in[600], out1[600], out2[600], cmd[4096];
  snprintf(in, sizeof in, "%s/texts.txt", tmpdir);
  snprintf(out1, sizeof out1, "%s/best.f32", tmpdir);
  snprintf(out2, sizeof out2, "%s/scalar.f32", tmpdir);
  FILE *f = fopen(in, "w");
  REQUIRE(f);
  for (size_t i = 0; i < N_TEXTS; i++) fprintf(f, "%s\n", texts[i]);
  fclose(f);
  const char *models[] = {model_q8, model_f16, model_mean};
  for (int k = 0; k < 3; k++) {
    snprintf(cmd, sizeof cmd,
             "%s embed --model %s --file %s --out %s -t 2 2>/dev/null && MIMIC_KERNELS=scalar %s "
             "embed --model %s --file %s --out %s -t 2 2>/dev/null",
             bin, models[k], in, out1, bin, models[k], in, out2);
    REQUIRE(system(cmd) == 0);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = fopen(out1, "rb"), *fb = fopen(out2, "rb");
    REQUIRE(fa && fb);
    a = xalloc(1 << 20);
    b = xalloc(1 << 20);
    na = fread(a, 1, 1 << 20, fa);
    nb = fread(b, 1, 1 << 20, fb);
    fclose(fa);
    fclose(fb);
    CHECK(na > 0 && na == nb);
    CHECK_INT(na % (N_TEXTS * 4), 0);
    CHECK(memcmp(a, b, na) == 0);
    mem_free(a);
    mem_free(b);
  }
}

/* `mimic embed` itself gives llama.cpp's reference: --tokens with --no-normalize writes exactly the
 * reference file's bytes, --text the same, --file one normalised row per line; a model of another
 * architecture is refused by name with a non-zero status and nothing written. */
TEST(cli_writes_the_reference) {
  const char *bin = getenv("MIMIC_BIN");
  char model[1024], refp[1024], toks[256] = {0};
  if (!bin) SKIP("MIMIC_BIN not set");
  if (!test_shared_path("testdata/llm/tiny-bert-f16.gguf", model, sizeof model) ||
      !test_shared_path("testdata/llm/ref-bert-f16.embd.f32", refp, sizeof refp))
    SKIP("../shared/testdata/llm/tiny-bert-f16.gguf absent");
  REQUIRE(load_ref("ref-bert-f16.tokens", toks, sizeof toks - 1) || toks[0]);
  float ref[128];
  REQUIRE(load_ref("ref-bert-f16.embd.f32", ref, sizeof ref));
  char ids[256];
  size_t n = 0;
  for (const char *p = toks; *p && n + 2 < sizeof ids; p++) {
    if (*p >= '0' && *p <= '9')
      ids[n++] = *p;
    else if (n && ids[n - 1] != ',' && p[1] >= '0' && p[1] <= '9')
      ids[n++] = ',';
  }
  ids[n] = 0;
  char out[600], in[600], cmd[4096];
  snprintf(out, sizeof out, "%s/cli.f32", tmpdir);
  snprintf(in, sizeof in, "%s/cli.txt", tmpdir);
  float got[3 * 128];
  for (int w = 0; w < 2; w++) {
    char how[512];
    if (w == 0)
      snprintf(how, sizeof how, "--tokens %s", ids);
    else
      snprintf(how, sizeof how, "--text 'what is the capital of france?'");
    snprintf(cmd, sizeof cmd, "%s embed --model %s %s --no-normalize --out %s -t 2 2>/dev/null",
             bin, model, how, out);
    REQUIRE(system(cmd) == 0);
    FILE *f = fopen(out, "rb");
    REQUIRE(f);
    size_t got_n = fread(got, 1, sizeof got, f);
    fclose(f);
    CHECK_INT(got_n, sizeof ref);
    CHECK(memcmp(got, ref, sizeof ref) == 0);
  }
  /* --file: one row per line, normalised; the reference's text in the middle. */
  FILE *f = fopen(in, "w");
  REQUIRE(f);
  fputs("hello there\nwhat is the capital of france?\ngg ez\n", f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s embed --model %s --file %s --out %s -t 2 2>/dev/null", bin, model,
           in, out);
  REQUIRE(system(cmd) == 0);
  f = fopen(out, "rb");
  REQUIRE(f);
  CHECK_INT(fread(got, 1, sizeof got, f), sizeof got);
  fclose(f);
  double nn = 0;
  for (int i = 0; i < 128; i++) nn += (double)ref[i] * ref[i];
  for (int i = 0; i < 128; i++) CHECK_NEAR(got[128 + i], ref[i] / sqrt(nn), 1e-6);
  /* another architecture: refused by name, the old output left as it was */
  char p[600];
  snprintf(p, sizeof p, "%s/jina.gguf", tmpdir);
  tiny_bert_spec s = {.n_embd = 32,
                      .n_layer = 1,
                      .n_head = 2,
                      .n_ff = 64,
                      .n_ctx = 32,
                      .n_vocab = 400,
                      .wtype = TT_F32,
                      .pooling = 1,
                      .arch = "jina-bert-v2"};
  REQUIRE(tiny_bert_write(p, &s) == 0);
  snprintf(cmd, sizeof cmd, "%s embed --model %s --text hi --out %s 2>&1 | grep -q jina-bert-v2",
           bin, p, out);
  CHECK(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s embed --model %s --text hi --out %s 2>/dev/null", bin, p, out);
  CHECK(system(cmd) != 0);
  f = fopen(out, "rb");
  REQUIRE(f);
  CHECK_INT(fread(got, 1, sizeof got, f), sizeof got);
  fclose(f);
  unlink(p);
  unlink(in);
  unlink(out);
}

TEST(refuses_other_architectures_and_wrong_shapes) {
  char p[600];
  snprintf(p, sizeof p, "%s/nomic.gguf", tmpdir);
  tiny_bert_spec s = {.n_embd = 32,
                      .n_layer = 1,
                      .n_head = 2,
                      .n_ff = 64,
                      .n_ctx = 32,
                      .n_vocab = 400,
                      .wtype = TT_F32,
                      .pooling = 1,
                      .arch = "nomic-bert"};
  REQUIRE(tiny_bert_write(p, &s) == 0);
  CHECK(embed_open(p, NULL) == NULL);
  CHECK(strstr(err_msg(), "nomic-bert") != NULL);
  snprintf(p, sizeof p, "%s/shape.gguf", tmpdir);
  s.arch = NULL;
  s.bad = "blk.0.ffn_down.weight";
  REQUIRE(tiny_bert_write(p, &s) == 0);
  CHECK(embed_open(p, NULL) == NULL);
  CHECK(strstr(err_msg(), "blk.0.ffn_down.weight") != NULL);
  s.bad = "blk.0.attn_k.bias";
  REQUIRE(tiny_bert_write(p, &s) == 0);
  CHECK(embed_open(p, NULL) == NULL);
  CHECK(strstr(err_msg(), "blk.0.attn_k.bias") != NULL);
  s.bad = NULL;
  s.pooling = 0; /* no pooling: one vector per token, not what mimic embeds */
  REQUIRE(tiny_bert_write(p, &s) == 0);
  CHECK(embed_open(p, NULL) == NULL);
  CHECK(strstr(err_msg(), "pooling") != NULL);
  CHECK(embed_open("/nonexistent/model.gguf", NULL) == NULL);
  unlink(p);
  snprintf(p, sizeof p, "%s/nomic.gguf", tmpdir);
  unlink(p);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  snprintf(model_q8, sizeof model_q8, "%s/q8.gguf", tmpdir);
  snprintf(model_f16, sizeof model_f16, "%s/f16.gguf", tmpdir);
  snprintf(model_mean, sizeof model_mean, "%s/mean.gguf", tmpdir);
  /* Q8_0, CLS, 2 layers; F16, CLS; F32 with mean pooling, 3 heads of 16 */
  tiny_bert_spec q8 = {.n_embd = 64,
                       .n_layer = 2,
                       .n_head = 4,
                       .n_ff = 128,
                       .n_ctx = 128,
                       .n_vocab = 1000,
                       .wtype = TT_Q8_0,
                       .pooling = 2,
                       .seed = 7};
  tiny_bert_spec f16 = q8;
  f16.wtype = TT_F16;
  f16.seed = 8;
  tiny_bert_spec mean = {.n_embd = 48,
                         .n_layer = 2,
                         .n_head = 3,
                         .n_ff = 96,
                         .n_ctx = 64,
                         .n_vocab = 700,
                         .wtype = TT_F32,
                         .pooling = 1,
                         .seed = 9};
  mean_spec = mean;
  if (tiny_bert_write(model_q8, &q8) || tiny_bert_write(model_f16, &f16) ||
      tiny_bert_write(model_mean, &mean)) {
    printf("cannot write the test models: %s\n", err_msg());
    return 1;
  }
  RUN(reference_embedding_matches_llama_cpp);
  RUN(batch_of_texts_equals_each_alone);
  RUN(mean_pooling_and_tokens);
  RUN(simd_matches_scalar);
  RUN(cli_writes_the_reference);
  RUN(refuses_other_architectures_and_wrong_shapes);
  char p[600];
  const char *names[] = {"q8.gguf", "f16.gguf", "mean.gguf", "texts.txt", "best.f32", "scalar.f32"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
    unlink(p);
  }
  rmdir(tmpdir);
  TEST_MAIN_END();
}
