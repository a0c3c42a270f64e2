/* The vision model against llama.cpp's answers in ../shared/testdata/vision (skipped without it):
 * preprocessed pixels from llama.cpp's decoded bytes, the encoder's intermediate tensors, the image
 * embeddings of the three cases, the token layout and the logits at every position; the fast
 * encoder against the scalar reference; and refusals (an unknown projector type, a projector whose
 * width disagrees with its text model, a tensor whose shape disagrees with the metadata), on files
 * written with mimic's GGUF writer. */
#include <jansson.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "base/json.h"
#include "llm/model.h"
#include "llm/quantize.h"
#include "llm/tokenizer.h"
#include "test.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

#define DIR "testdata/vision/"

static char g_tmp[256];

/* Reads a whole float32 file; *n floats. NULL when absent. */
static float *read_f32(const char *rel, size_t *n) {
  char path[512];
  if (!test_shared_path(rel, path, sizeof path)) return NULL;
  char *data = NULL;
  size_t len = 0;
  if (fs_read_file(path, 64u << 20, &data, &len)) return NULL;
  *n = len / sizeof(float);
  return (float *)data;
}

static uint8_t *read_u8(const char *rel, size_t *n) {
  char path[512];
  if (!test_shared_path(rel, path, sizeof path)) return NULL;
  char *data = NULL;
  if (fs_read_file(path, 64u << 20, &data, n)) return NULL;
  return (uint8_t *)data;
}

static json_t *read_json(const char *rel) {
  char path[512];
  if (!test_shared_path(rel, path, sizeof path)) return NULL;
  char *data = NULL;
  size_t len = 0;
  if (fs_read_file(path, 1u << 20, &data, &len)) return NULL;
  json_t *j = jv_parse(data, len, path);
  mem_free(data);
  return j;
}

/* ||a - b|| / ||b|| over n values. */
static double rel_err(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Largest per-row relative error of rows x width. */
static double max_row_err(const float *a, const float *b, size_t rows, size_t width) {
  double mx = 0;
  for (size_t r = 0; r < rows; r++) {
    double e = rel_err(a + r * width, b + r * width, width);
    if (e > mx) mx = e;
  }
  return mx;
}

static vis_model *load_mm(const char *name) {
  char rel[256], path[512];
  snprintf(rel, sizeof rel, DIR "%s", name);
  if (!test_shared_path(rel, path, sizeof path)) return NULL;
  vis_model *m = NULL;
  if (vis_model_load(path, &m)) {
    printf("  %s: %s\n", name, err_msg());
    return NULL;
  }
  return m;
}

typedef struct vcase {
  const char *name, *mmproj, *image;
  int width, height;
  double embd_tol, logits_tol;
} vcase;

static const vcase cases[] = {
    {"ref-f32-img-a", "tiny-smolvlm-mmproj-f32.gguf", "img-a", 100, 80, 2e-4, 2e-4},
    {"ref-f16-img-a", "tiny-smolvlm-mmproj-f16.gguf", "img-a", 100, 80, 2e-3, 2e-3},
    {"ref-f32-img-c", "tiny-smolvlm-mmproj-f32.gguf", "img-c", 64, 64, 2e-4, 2e-4},
};

TEST(test_hparams) {
  vis_model *m = load_mm("tiny-smolvlm-mmproj-f32.gguf");
  if (!m) SKIP("no ../shared/testdata/vision");
  const vis_hparams *hp = vis_model_hparams(m);
  CHECK_STR(hp->projector, "idefics3");
  CHECK_INT(hp->image_size, 64);
  CHECK_INT(hp->patch_size, 8);
  CHECK_INT(hp->n_embd, 64);
  CHECK_INT(hp->n_ff, 128);
  CHECK_INT(hp->n_layer, 2);
  CHECK_INT(hp->n_head, 4);
  CHECK_INT(hp->proj_dim, 256);
  CHECK_INT(hp->scale_factor, 2);
  CHECK_INT(hp->preproc_size, 160);
  CHECK_INT(hp->n_tile_rows, 16);
  CHECK(hp->gelu_tanh);
  CHECK_NEAR(hp->eps, 1e-6, 1e-12);
  CHECK_NEAR(hp->mean[0], 0.5, 0);
  vis_model_destroy(m);
}

/* Preprocessing from llama.cpp's decoded bytes equals its encoder input. */
TEST(test_pixels) {
  vis_model *m = load_mm("tiny-smolvlm-mmproj-f32.gguf");
  if (!m) SKIP("no ../shared/testdata/vision");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const vcase *vc = &cases[c];
    char rel[256];
    size_t nb = 0, nref = 0;
    snprintf(rel, sizeof rel, DIR "%s.decoded.u8", vc->image);
    uint8_t *bytes = read_u8(rel, &nb);
    snprintf(rel, sizeof rel, DIR "%s.pixels.f32", vc->name);
    float *ref = read_f32(rel, &nref);
    REQUIRE(bytes && ref);
    CHECK_INT(nb, (size_t)vc->width * vc->height * 3);
    vis_image img = {.width = vc->width, .height = vc->height, .rgb = bytes};
    vis_tiles t;
    CHECK_OK(vis_preprocess(m, &img, &t));
    CHECK_INT((size_t)t.n_tiles * 3 * 64 * 64, nref);
    int off = 0;
    double mx = 0;
    for (size_t i = 0; i < nref && t.pixels; i++) {
      double d = fabs((double)t.pixels[i] - ref[i]);
      if (d > 0) off++;
      if (d > mx) mx = d;
    }
    printf("     %s: %d tiles (%dx%d + overview), %d of %zu values differ, max %g\n", vc->name,
           t.n_tiles, t.rows, t.cols, off, nref, mx);
    CHECK(mx <= 2.0 / 255 + 1e-6);
    CHECK(off <= 8);
    vis_tiles_free(&t);
    mem_free(bytes);
    mem_free(ref);
  }
  vis_model_destroy(m);
}

typedef struct trace_ctx {
  const float *ref;
  json_t *tensors; /* this chunk's trace list */
  double worst;
  int seen;
} trace_ctx;

static void on_trace(void *user, const char *name, const float *data, int rows, int width) {
  trace_ctx *tc = user;
  size_t i;
  json_t *e;
  json_array_foreach(tc->tensors, i, e) {
    if (strcmp(jv_str(e, "name", ""), name) != 0) continue;
    const float *r = tc->ref + jv_int(e, "offset_floats", 0);
    double err = max_row_err(data, r, (size_t)rows, (size_t)width);
    if (err > tc->worst) tc->worst = err;
    if (err > 2e-4) printf("     trace %s: row error %g\n", name, err);
    tc->seen++;
  }
}

/* The intermediate tensors of every tile of img-a (F32) against llama.cpp's trace. */
TEST(test_trace) {
  vis_model *m = load_mm("tiny-smolvlm-mmproj-f32.gguf");
  if (!m) SKIP("no ../shared/testdata/vision");
  json_t *j = read_json(DIR "ref-f32-img-a.json");
  size_t np = 0, nt = 0;
  float *pix = read_f32(DIR "ref-f32-img-a.pixels.f32", &np);
  float *tr = read_f32(DIR "ref-f32-img-a.trace.f32", &nt);
  REQUIRE(j && pix && tr);
  json_t *trace = json_object_get(j, "trace");
  float out[16 * 256];
  size_t i;
  json_t *chunk;
  trace_ctx tc = {.ref = tr};
  json_array_foreach(trace, i, chunk) {
    tc.tensors = json_object_get(chunk, "tensors");
    CHECK_OK(vis_encode_tile(m, NULL, VIS_PATH_FAST, pix + i * 3 * 64 * 64, out, on_trace, &tc));
  }
  printf("     %d trace tensors, worst row error %g\n", tc.seen, tc.worst);
  CHECK_INT(tc.seen, 7 * 6);
  CHECK(tc.worst <= 2e-4);
  json_decref(j);
  mem_free(pix);
  mem_free(tr);
  vis_model_destroy(m);
}

/* Image embeddings of all three cases, from the decoded bytes, through the pool. */
TEST(test_embeddings) {
  vis_model *m32 = load_mm("tiny-smolvlm-mmproj-f32.gguf");
  if (!m32) SKIP("no ../shared/testdata/vision");
  vis_model *m16 = load_mm("tiny-smolvlm-mmproj-f16.gguf");
  REQUIRE(m16);
  compute_pool *cpool = compute_pool_new(2);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const vcase *vc = &cases[c];
    vis_model *m = strstr(vc->mmproj, "f16") ? m16 : m32;
    char rel[256];
    size_t nb = 0, nref = 0;
    snprintf(rel, sizeof rel, DIR "%s.decoded.u8", vc->image);
    uint8_t *bytes = read_u8(rel, &nb);
    snprintf(rel, sizeof rel, DIR "%s.imgembd.f32", vc->name);
    float *ref = read_f32(rel, &nref);
    REQUIRE(bytes && ref);
    vis_image img = {.width = vc->width, .height = vc->height, .rgb = bytes};
    float *e = NULL;
    int rows = 0;
    CHECK_OK(vis_embed(m, cpool, &img, &e, &rows, NULL));
    CHECK_INT((size_t)rows * 256, nref);
    if (e && (size_t)rows * 256 == nref) {
      double err = max_row_err(e, ref, (size_t)rows, 256);
      printf("     %s: %d rows, worst row error %g (bound %g)\n", vc->name, rows, err,
             vc->embd_tol);
      CHECK(err <= vc->embd_tol);
    }
    mem_free(e);
    mem_free(bytes);
    mem_free(ref);
  }
  compute_pool_destroy(cpool);
  vis_model_destroy(m16);
  vis_model_destroy(m32);
}

/* The fast path (qmat_mul on the pool) against the scalar reference, both weight types. */
TEST(test_fast_vs_scalar) {
  const char *files[2] = {"tiny-smolvlm-mmproj-f32.gguf", "tiny-smolvlm-mmproj-f16.gguf"};
  size_t np = 0;
  float *pix = read_f32(DIR "ref-f32-img-a.pixels.f32", &np);
  if (!pix) SKIP("no ../shared/testdata/vision");
  compute_pool *cpool = compute_pool_new(3);
  for (int f = 0; f < 2; f++) {
    vis_model *m = load_mm(files[f]);
    REQUIRE(m);
    /* Sums in another order move values by ~1e-7; through the fp16 GELU table a value that
     * crosses a step moves its tile by up to ~1e-2 (see test_q8_0), so most tiles must agree
     * closely and all roughly. */
    float fast[16 * 256], ref[16 * 256];
    size_t n_tiles = np / (3 * 64 * 64), close = 0;
    for (size_t t = 0; t < n_tiles; t++) {
      const float *tile = pix + t * 3 * 64 * 64;
      CHECK_OK(vis_encode_tile(m, cpool, VIS_PATH_FAST, tile, fast, NULL, NULL));
      CHECK_OK(vis_encode_tile(m, NULL, VIS_PATH_SCALAR, tile, ref, NULL, NULL));
      double err = max_row_err(fast, ref, 16, 256);
      printf("     %s tile %zu: fast vs scalar row error %g\n", files[f], t, err);
      CHECK(err <= 2e-2);
      if (err <= (f ? 2e-3 : 1e-4)) close++; /* F16 activations move by fp16 steps (5e-4) */
    }
    CHECK(2 * close >= n_tiles);
    vis_model_destroy(m);
  }
  compute_pool_destroy(cpool);
  mem_free(pix);
}

/* The prompt layout equals llama.cpp's sequence, and the logits at the final chunk's positions
 * (and, for img-a F32, at every position) match. */
TEST(test_logits) {
  char tpath[512];
  if (!test_shared_path(DIR "tiny-smolvlm-text-f32.gguf", tpath, sizeof tpath))
    SKIP("no ../shared/testdata/vision");
  llm_model *tm = NULL;
  tokenizer *tk = NULL;
  REQUIRE(llm_model_load(tpath, &tm) == 0);
  REQUIRE(tok_load(llm_model_gguf(tm), &tk) == 0);
  compute_pool *cpool = compute_pool_new(2);
  llm_ctx *ctx = NULL;
  llm_ctx_params cp = {.n_ctx = 256, .n_slots = 1, .n_batch = 512, .pool = cpool};
  REQUIRE(llm_ctx_new(tm, &cp, &ctx) == 0);
  const int V = llm_model_hparams(tm)->n_vocab;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const vcase *vc = &cases[c];
    vis_model *m = load_mm(vc->mmproj);
    REQUIRE(m);
    CHECK_OK(vis_model_check_text(m, tm));
    char rel[256];
    size_t nb = 0, nref = 0;
    snprintf(rel, sizeof rel, DIR "%s.decoded.u8", vc->image);
    uint8_t *bytes = read_u8(rel, &nb);
    snprintf(rel, sizeof rel, DIR "%s.logits.f32", vc->name);
    float *ref = read_f32(rel, &nref);
    snprintf(rel, sizeof rel, DIR "%s.json", vc->name);
    json_t *j = read_json(rel);
    REQUIRE(bytes && ref && j);
    vis_image img = {.width = vc->width, .height = vc->height, .rgb = bytes};
    float *e = NULL;
    int rows = 0;
    vis_tiles layout;
    CHECK_OK(vis_embed(m, cpool, &img, &e, &rows, &layout));
    int32_t *ids = NULL;
    int n = 0;
    CHECK_OK(vis_prompt_tokens(tk, m, &layout, "<|im_start|>User:", "What is in this picture?",
                               "<end_of_utterance>\nAssistant:", &ids, &n));
    json_t *sq = json_object_get(j, "sequence");
    CHECK_INT(n, (int)json_array_size(sq));
    int diff = 0;
    for (int i = 0; i < n && i < (int)json_array_size(sq); i++)
      if (ids[i] != (int32_t)json_integer_value(json_array_get(sq, (size_t)i))) diff++;
    CHECK_INT(diff, 0);
    float *lg = mem_alloc((size_t)n * V * sizeof *lg);
    llm_slot_clear(ctx, 0);
    CHECK_OK(vis_prompt_eval(ctx, 0, ids, n, e, rows, lg, LLM_LOGITS_ALL));
    json_t *lp = json_object_get(j, "logits_positions");
    size_t nrows = json_array_size(lp);
    CHECK_INT(nrows * V, nref);
    double worst = 0;
    int argmax_diff = 0;
    for (size_t r = 0; r < nrows; r++) {
      int p = (int)json_integer_value(json_array_get(lp, r));
      const float *a = lg + (size_t)p * V, *b = ref + r * V;
      double err = rel_err(a, b, (size_t)V);
      if (err > worst) worst = err;
      int ia = 0, ib = 0;
      for (int v = 1; v < V; v++) {
        if (a[v] > a[ia]) ia = v;
        if (b[v] > b[ib]) ib = v;
      }
      if (ia != ib) argmax_diff++;
    }
    printf("     %s: %d positions, final-chunk logits row error %g (bound %g), %d argmax differ\n",
           vc->name, n, worst, vc->logits_tol, argmax_diff);
    CHECK(worst <= vc->logits_tol);
    if (c == 0) { /* every position, text and image rows alike */
      size_t nall = 0;
      float *all = read_f32(DIR "ref-f32-img-a.logits-all.f32", &nall);
      REQUIRE(all);
      CHECK_INT(nall, (size_t)n * V);
      double w = max_row_err(lg, all, (size_t)n, (size_t)V);
      printf("     ref-f32-img-a: logits at all %d positions, worst row error %g\n", n, w);
      CHECK(w <= vc->logits_tol);
      mem_free(all);
    }
    mem_free(lg);
    mem_free(ids);
    mem_free(e);
    vis_tiles_free(&layout);
    json_decref(j);
    mem_free(bytes);
    mem_free(ref);
    vis_model_destroy(m);
  }
  llm_ctx_destroy(ctx);
  compute_pool_destroy(cpool);
  tok_destroy(tk);
  llm_model_destroy(tm);
}

/* Writes a copy of the F32 mmproj with some keys changed and (optionally) the projector's fc
 * weight replaced by a proj_dim-row one. */
static int write_variant(const char *out, const char *projector, int proj_dim, bool bad_q) {
  char path[512];
  if (!test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", path, sizeof path)) return -1;
  gguf_file *src = NULL;
  if (gguf_open(path, &src)) return -1;
  gguf_writer *w = gguf_writer_new();
  gguf_copy_kv(w, src, NULL);
  if (projector) gguf_set_str(w, "clip.projector_type", projector);
  if (proj_dim) gguf_set_u32(w, "clip.vision.projection_dim", (uint32_t)proj_dim);
  int rc = 0;
  for (int64_t i = 0; i < gguf_n_tensors(src) && !rc; i++) {
    const gguf_tensor *t = gguf_tensor_at(src, i);
    if (proj_dim && strcmp(t->name, "mm.model.fc.weight") == 0) {
      int64_t ne[2] = {t->ne[0], proj_dim};
      float *d = mem_calloc((size_t)(ne[0] * ne[1]), sizeof *d);
      rc = gguf_add_tensor_take(w, t->name, TT_F32, 2, ne, d);
    } else if (bad_q && strcmp(t->name, "v.blk.1.attn_q.weight") == 0) {
      int64_t ne[2] = {t->ne[0], t->ne[1] / 2};
      rc = gguf_add_tensor(w, t->name, t->type, 2, ne, t->data);
    } else {
      rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
    }
  }
  if (!rc) rc = gguf_writer_save(w, out);
  gguf_writer_destroy(w);
  gguf_close(src);
  return rc;
}

TEST(test_refusals) {
  char tpath[512];
  if (!test_shared_path(DIR "tiny-smolvlm-text-f32.gguf", tpath, sizeof tpath))
    SKIP("no ../shared/testdata/vision");
  char p[300];
  vis_model *m = NULL;
  /* An unknown projector type, refused by name. */
  snprintf(p, sizeof p, "%s/mlp.gguf", g_tmp);
  REQUIRE(write_variant(p, "qwen2vl_merger", 0, false) == 0);
  CHECK_INT(vis_model_load(p, &m), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "qwen2vl_merger") != NULL);
  CHECK(m == NULL);
  /* A text model is not a projector. */
  CHECK_INT(vis_model_load(tpath, &m), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "not a vision projector") != NULL);
  /* A tensor whose shape disagrees with the metadata. */
  snprintf(p, sizeof p, "%s/badq.gguf", g_tmp);
  REQUIRE(write_variant(p, NULL, 0, true) == 0);
  CHECK_INT(vis_model_load(p, &m), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "v.blk.1.attn_q.weight") != NULL);
  /* A projector 128 wide against a text model 256 wide: loads, but is not this model's pair. */
  snprintf(p, sizeof p, "%s/narrow.gguf", g_tmp);
  REQUIRE(write_variant(p, NULL, 128, false) == 0);
  CHECK_OK(vis_model_load(p, &m));
  llm_model *tm = NULL;
  REQUIRE(llm_model_load(tpath, &tm) == 0);
  if (m) {
    CHECK_INT(vis_model_check_text(m, tm), MIMIC_EINVAL);
    printf("     %s\n", err_msg());
    CHECK(strstr(err_msg(), "128") && strstr(err_msg(), "256"));
  }
  vis_vlm *v = NULL;
  CHECK_INT(vis_vlm_open(tpath, p, NULL, &v), MIMIC_EINVAL);
  CHECK(v == NULL);
  llm_model_destroy(tm);
  vis_model_destroy(m);
}

/* The describe API end to end on the tiny pair (random weights: the text is noise, but it must
 * be the same text twice, and greedy). */
TEST(test_describe) {
  char tpath[512], mpath[512];
  if (!test_shared_path(DIR "tiny-smolvlm-text-f32.gguf", tpath, sizeof tpath) ||
      !test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", mpath, sizeof mpath))
    SKIP("no ../shared/testdata/vision");
  size_t nb = 0;
  uint8_t *bytes = read_u8(DIR "img-a.decoded.u8", &nb);
  REQUIRE(bytes);
  vis_vlm_params vp = {.n_threads = 2, .max_tokens = 8};
  vis_vlm *v = NULL;
  REQUIRE(vis_vlm_open(tpath, mpath, &vp, &v) == 0);
  vis_image img = {.width = 100, .height = 80, .rgb = bytes};
  char *a = NULL, *b = NULL;
  CHECK_OK(vis_describe(v, &img, "What is in this picture?", &a));
  CHECK_OK(vis_describe(v, &img, "What is in this picture?", &b));
  CHECK(a && b);
  if (a && b) CHECK_STR(a, b);
  printf("     description: \"%s\"\n", a ? a : "");
  mem_free(a);
  mem_free(b);
  vis_vlm_close(v);
  mem_free(bytes);
}

/* Low detail: the overview tile alone, which is llama.cpp's overview (the reference's last image
 * chunk: its pixels bit for bit and its 16 embedding rows); a description with it. */
TEST(test_low_detail) {
  vis_model *m = load_mm("tiny-smolvlm-mmproj-f32.gguf");
  if (!m) SKIP("no ../shared/testdata/vision");
  size_t nb = 0, npx = 0, nref = 0;
  uint8_t *bytes = read_u8(DIR "img-a.decoded.u8", &nb);
  float *px = read_f32(DIR "ref-f32-img-a.pixels.f32", &npx);
  float *ref = read_f32(DIR "ref-f32-img-a.imgembd.f32", &nref);
  REQUIRE(bytes && px && ref);
  vis_image img = {.width = 100, .height = 80, .rgb = bytes};
  vis_tiles t = {0};
  CHECK_OK(vis__preprocess(m, &img, false, &t));
  CHECK_INT(t.n_tiles, 1);
  CHECK_INT(t.rows, 0);
  CHECK_INT(t.cols, 0);
  size_t tile = (size_t)3 * 64 * 64;
  REQUIRE(npx >= tile);
  if (t.pixels) CHECK(memcmp(t.pixels, px + npx - tile, tile * sizeof(float)) == 0);
  vis_tiles_free(&t);
  compute_pool *cpool = compute_pool_new(2);
  float *e = NULL;
  int rows = 0;
  CHECK_OK(vis__embed(m, cpool, &img, false, NULL, &e, &rows, &t));
  CHECK_INT(rows, 16);
  CHECK_INT(t.n_tiles, 1);
  if (e && rows == 16) {
    double err = max_row_err(e, ref + nref - 16 * 256, 16, 256);
    printf("     overview alone: worst row error %g (bound 2e-4)\n", err);
    CHECK(err <= 2e-4);
  }
  /* The overview's prompt: no slice markers, one image of 16 rows. */
  char tpath[512];
  if (test_shared_path(DIR "tiny-smolvlm-text-f32.gguf", tpath, sizeof tpath)) {
    char mpath[512];
    REQUIRE(test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", mpath, sizeof mpath));
    vis_vlm_params vp = {.n_threads = 2, .max_tokens = 4, .low_detail = true};
    vis_vlm *v = NULL;
    REQUIRE(vis_vlm_open(tpath, mpath, &vp, &v) == 0);
    char *d = NULL;
    CHECK_OK(vis_describe(v, &img, "What is in this picture?", &d));
    CHECK(d != NULL);
    mem_free(d);
    vis_vlm_close(v);
  }
  vis_tiles_free(&t);
  mem_free(e);
  compute_pool_destroy(cpool);
  mem_free(bytes);
  mem_free(px);
  mem_free(ref);
  vis_model_destroy(m);
}

/* A description cancelled while it runs (here from its own token callback, as a shutdown would
 * from another thread) stops with MIMIC_ECANCELLED, and so does every later one, at once. */
static int cancel_on_first(void *user, const char *text, size_t len) {
  (void)text;
  (void)len;
  vis_vlm_cancel(user);
  return 0;
}

TEST(test_cancel) {
  char tpath[512], mpath[512];
  if (!test_shared_path(DIR "tiny-smolvlm-text-f32.gguf", tpath, sizeof tpath) ||
      !test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", mpath, sizeof mpath))
    SKIP("no ../shared/testdata/vision");
  size_t nb = 0;
  uint8_t *bytes = read_u8(DIR "img-a.decoded.u8", &nb);
  REQUIRE(bytes);
  vis_vlm_params vp = {.n_threads = 2, .max_tokens = 64};
  vis_vlm *v = NULL;
  REQUIRE(vis_vlm_open(tpath, mpath, &vp, &v) == 0);
  vis_image img = {.width = 100, .height = 80, .rgb = bytes};
  char *d = NULL;
  int rc = vis_describe_stream(v, &img, "What is in this picture?", cancel_on_first, v, &d);
  /* random weights may end at once; then the next call shows the cancel */
  if (rc == 0) {
    mem_free(d);
    d = NULL;
    vis_vlm_cancel(v);
  } else {
    CHECK_INT(rc, MIMIC_ECANCELLED);
    CHECK(d == NULL);
  }
  CHECK_INT(vis_describe(v, &img, "What is in this picture?", &d), MIMIC_ECANCELLED);
  CHECK(strstr(err_msg(), "cancelled") != NULL);
  CHECK(d == NULL);
  vis_vlm_cancel(NULL);
  vis_vlm_close(v);
  mem_free(bytes);
}

/* `mimic vision embed` from raw bytes and from the PNG writes the reference layout; a text model
 * given as the mmproj is refused with one sentence. */
TEST(test_cli_embed) {
  const char *bin = getenv("MIMIC_BIN");
  char mpath[512], upath[512], ppath[512];
  if (!bin || !test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", mpath, sizeof mpath) ||
      !test_shared_path(DIR "img-a.decoded.u8", upath, sizeof upath) ||
      !test_shared_path(DIR "img-a.png", ppath, sizeof ppath))
    SKIP("no mimic binary or ../shared/testdata/vision");
  size_t nref = 0;
  float *ref = read_f32(DIR "ref-f32-img-a.imgembd.f32", &nref);
  REQUIRE(ref);
  const char *inputs[2] = {"--pixels", "--image"};
  for (int k = 0; k < 2; k++) {
    char out[300], cmd[2048];
    snprintf(out, sizeof out, "%s/cli%d.f32", g_tmp, k);
    snprintf(cmd, sizeof cmd,
             "'%s' vision embed --mmproj '%s' %s '%s' %s -t 2 --out '%s' 2>/dev/null", bin, mpath,
             inputs[k], k ? ppath : upath, k ? "" : "--width 100 --height 80", out);
    CHECK_INT(system(cmd), 0);
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(out, 1u << 20, &data, &len));
    CHECK_INT(len, nref * sizeof(float));
    if (data && len == nref * sizeof(float)) {
      double err = max_row_err((const float *)data, ref, nref / 256, 256);
      printf("     %s: worst row error %g\n", inputs[k], err);
      CHECK(err <= 2e-4);
    }
    mem_free(data);
  }
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' vision embed --mmproj '%s' --image '%s' 2>/dev/null", bin, ppath,
           ppath);
  CHECK(system(cmd) != 0);
  mem_free(ref);
}

/* A Q8_0 mmproj (quantized with mimic's own quantizer, as llama.cpp's q8_0 mmproj files are): fast
 * path against the scalar reference, and close to the F32 reference embeddings. */
TEST(test_q8_0) {
  char mpath[512], q8[300];
  size_t nb = 0, nref = 0;
  if (!test_shared_path(DIR "tiny-smolvlm-mmproj-f32.gguf", mpath, sizeof mpath))
    SKIP("no ../shared/testdata/vision");
  snprintf(q8, sizeof q8, "%s/q8.gguf", g_tmp);
  REQUIRE(gguf_quantize(mpath, q8, QP_Q8_0, NULL) == 0);
  vis_model *m = NULL;
  REQUIRE(vis_model_load(q8, &m) == 0);
  uint8_t *bytes = read_u8(DIR "img-a.decoded.u8", &nb);
  float *ref = read_f32(DIR "ref-f32-img-a.imgembd.f32", &nref);
  REQUIRE(bytes && ref);
  vis_image img = {.width = 100, .height = 80, .rgb = bytes};
  compute_pool *cpool = compute_pool_new(2);
  float *e = NULL;
  int rows = 0;
  vis_tiles t;
  CHECK_OK(vis_embed(m, cpool, &img, &e, &rows, &t));
  CHECK_INT((size_t)rows * 256, nref);
  if (e && (size_t)rows * 256 == nref) {
    double err = max_row_err(e, ref, (size_t)rows, 256);
    printf("     q8_0 mmproj against the F32 reference: worst row error %g\n", err);
    CHECK(err <= 3e-2);
    /* Activations are rounded to Q8_0 before each product, so one value that lands on the other
     * side of a rounding step (or of a step of the fp16 GELU table) in one path moves a tile by
     * ~1e-2; the others agree to ~1e-7. Most tiles must agree closely, all roughly. */
    float scalar[16 * 256];
    int close = 0;
    for (int i = 0; i < t.n_tiles; i++) {
      CHECK_OK(vis_encode_tile(m, NULL, VIS_PATH_SCALAR, t.pixels + (size_t)i * 3 * 64 * 64, scalar,
                               NULL, NULL));
      double fe = max_row_err(e + (size_t)i * 16 * 256, scalar, 16, 256);
      printf("     q8_0 fast vs scalar, tile %d: row error %g\n", i, fe);
      CHECK(fe <= 2e-2);
      if (fe <= 1e-5) close++;
    }
    CHECK(2 * close >= t.n_tiles);
  }
  vis_tiles_free(&t);
  mem_free(e);
  compute_pool_destroy(cpool);
  mem_free(bytes);
  mem_free(ref);
  vis_model_destroy(m);
}

int main(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/mimic_vision_test_%d", (int)getpid());
  if (fs_mkdirs(g_tmp)) return 1;
  RUN(test_hparams);
  RUN(test_pixels);
  RUN(test_trace);
  RUN(test_embeddings);
  RUN(test_fast_vs_scalar);
  RUN(test_q8_0);
  RUN(test_logits);
  RUN(test_refusals);
  RUN(test_describe);
  RUN(test_low_detail);
  RUN(test_cancel);
  RUN(test_cli_embed);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0) printf("could not remove %s\n", g_tmp);
  TEST_MAIN_END();
}
