/* Vision throughput: image -> embeddings and image -> first token of the description, on random
 * weights at SmolVLM's real shapes (SigLIP base patch16/512 with the idefics3 projector, scale 4,
 * slicing to 2048; text SmolLM2-135M for 256M, SmolLM2-360M for 500M), written with mimic's GGUF
 * writer; the encoder's matrix work as a share of the machine's measured FMA peak; the process's
 * peak memory. The tokenizer (with SmolVLM's image tokens) is copied from the tiny reference pair
 * in
 * ../shared/testdata/vision, padded to SmolVLM's 49,280 tokens.
 *
 * usage: bench_vision [--size tiny|256m|500m] [--threads N] [--side S] [--type f16|q8_0|f32]
 *                     [--low-detail] [--profile] [--reps N] [--dir D] [--shared PATH]
 *   --side: the square test image's side (default 512; the decoder caps: 6324, 40 MP).
 *   --low-detail: the overview tile alone (vision.low_detail), not the slices.
 *   --reps: timed runs of each measure, the best taken (default 2; 5 for tiny).
 *   --profile: also where the time goes: preprocessing, each encoder phase, and the rest of the
 *   way to the first token (the prompt with the image through the text model).
 * The first run of a size writes the model files to --dir (default /tmp) and reuses them after;
 * take figures from a second run, so the peak RSS does not count the writer. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/base.h"
#include "base/clock.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "llm/quantize.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

typedef struct shape {
  const char *name;
  int image, patch, embd, ff, layers, heads, scale, preproc;
  int t_width, t_layers, t_heads, t_kv, t_ff;
} shape;

static const shape shapes[] = {
    {"tiny", 64, 8, 64, 128, 2, 4, 2, 160, 256, 2, 4, 2, 512},
    {"256m", 512, 16, 768, 3072, 12, 12, 4, 2048, 576, 30, 9, 3, 1536},
    {"500m", 512, 16, 768, 3072, 12, 12, 4, 2048, 960, 32, 15, 5, 2560},
};

static double now_ms(void) { return (double)clock_mono_ns() / 1e6; }
static double cpu_ms(void) { /* the process's CPU time, all threads */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int add(gguf_writer *w, const char *name, tensor_type type, int n_dims, const int64_t *ne,
               float amp, float base) {
  int64_t n =
      ne[0] * (n_dims > 1 ? ne[1] : 1) * (n_dims > 2 ? ne[2] : 1) * (n_dims > 3 ? ne[3] : 1);
  float *f = xalloc((size_t)n * sizeof *f);
  for (int64_t i = 0; i < n; i++) f[i] = base + amp * frand();
  if (type == TT_F32) return gguf_add_tensor_take(w, name, TT_F32, n_dims, ne, f);
  size_t bytes = tensor_row_bytes(type, ne[0]) * (size_t)(n / ne[0]);
  void *q = xalloc(bytes);
  int rc = 0;
  for (int64_t r = 0; r < n / ne[0] && !rc; r++)
    rc = quant_row(type, f + r * ne[0], (char *)q + (size_t)r * tensor_row_bytes(type, ne[0]),
                   ne[0]);
  mem_free(f);
  if (rc) {
    mem_free(q);
    return rc;
  }
  return gguf_add_tensor_take(w, name, type, n_dims, ne, q);
}

/* slices false: without clip.vision.preproc_image_size, so llama.cpp encodes the overview tile
 * alone (what --low-detail measures in mimic). */
static int write_mmproj(const shape *s, tensor_type mt, const char *path, bool slices) {
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "clip");
  gguf_set_str(w, "clip.projector_type", "idefics3");
  gguf_set_bool(w, "clip.has_vision_encoder", true);
  gguf_set_bool(w, "clip.use_gelu", true);
  gguf_set_u32(w, "clip.vision.image_size", (uint32_t)s->image);
  gguf_set_u32(w, "clip.vision.patch_size", (uint32_t)s->patch);
  gguf_set_u32(w, "clip.vision.embedding_length", (uint32_t)s->embd);
  gguf_set_u32(w, "clip.vision.feed_forward_length", (uint32_t)s->ff);
  gguf_set_u32(w, "clip.vision.block_count", (uint32_t)s->layers);
  gguf_set_u32(w, "clip.vision.attention.head_count", (uint32_t)s->heads);
  gguf_set_f32(w, "clip.vision.attention.layer_norm_epsilon", 1e-6f);
  gguf_set_u32(w, "clip.vision.projection_dim", (uint32_t)s->t_width);
  gguf_set_u32(w, "clip.vision.projector.scale_factor", (uint32_t)s->scale);
  if (slices) gguf_set_u32(w, "clip.vision.preproc_image_size", (uint32_t)s->preproc);
  const float half[3] = {0.5f, 0.5f, 0.5f};
  gguf_set_arr_f32(w, "clip.vision.image_mean", half, 3);
  gguf_set_arr_f32(w, "clip.vision.image_std", half, 3);
  int64_t E = s->embd, side = s->image / s->patch;
  int rc = 0;
  int64_t pe[4] = {s->patch, s->patch, 3, E}, e1[1] = {E}, pos[2] = {E, side * side};
  rc = add(w, "v.patch_embd.weight", TT_F32, 4, pe, 0.02f, 0);
  if (!rc) rc = add(w, "v.patch_embd.bias", TT_F32, 1, e1, 0.02f, 0);
  if (!rc) rc = add(w, "v.position_embd.weight", TT_F32, 2, pos, 0.02f, 0);
  char name[128];
  for (int il = 0; il < s->layers && !rc; il++) {
    static const char *const mats[4] = {"attn_q", "attn_k", "attn_v", "attn_out"};
    int64_t ee[2] = {E, E}, up[2] = {E, s->ff}, down[2] = {s->ff, E}, f1[1] = {s->ff};
    for (int k = 0; k < 4 && !rc; k++) {
      snprintf(name, sizeof name, "v.blk.%d.%s.weight", il, mats[k]);
      rc = add(w, name, mt, 2, ee, 0.05f, 0);
      snprintf(name, sizeof name, "v.blk.%d.%s.bias", il, mats[k]);
      if (!rc) rc = add(w, name, TT_F32, 1, e1, 0.02f, 0);
    }
    static const char *const norms[2] = {"ln1", "ln2"};
    for (int k = 0; k < 2 && !rc; k++) {
      snprintf(name, sizeof name, "v.blk.%d.%s.weight", il, norms[k]);
      rc = add(w, name, TT_F32, 1, e1, 0.0f, 1.0f);
      snprintf(name, sizeof name, "v.blk.%d.%s.bias", il, norms[k]);
      if (!rc) rc = add(w, name, TT_F32, 1, e1, 0.02f, 0);
    }
    snprintf(name, sizeof name, "v.blk.%d.ffn_up.weight", il);
    if (!rc) rc = add(w, name, mt, 2, up, 0.05f, 0);
    snprintf(name, sizeof name, "v.blk.%d.ffn_up.bias", il);
    if (!rc) rc = add(w, name, TT_F32, 1, f1, 0.02f, 0);
    snprintf(name, sizeof name, "v.blk.%d.ffn_down.weight", il);
    if (!rc) rc = add(w, name, mt, 2, down, 0.03f, 0);
    snprintf(name, sizeof name, "v.blk.%d.ffn_down.bias", il);
    if (!rc) rc = add(w, name, TT_F32, 1, e1, 0.02f, 0);
  }
  int64_t fc[2] = {E * s->scale * s->scale, s->t_width};
  if (!rc) rc = add(w, "v.post_ln.weight", TT_F32, 1, e1, 0.0f, 1.0f);
  if (!rc) rc = add(w, "v.post_ln.bias", TT_F32, 1, e1, 0.02f, 0);
  if (!rc) rc = add(w, "mm.model.fc.weight", mt, 2, fc, 0.02f, 0);
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  return rc;
}

/* The measured FMA peak of one thread, in GFLOP/s: ten independent vector chains. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Ten named accumulators: an array of them went to the stack, and the loop measured store
 * forwarding (about a quarter of the real peak). */
#define PEAK_CHAINS(T, FMA, SET)                                                                   \
  T m = SET(0.999999f), c = SET(1e-7f), a0 = SET(0), a1 = SET(1), a2 = SET(2), a3 = SET(3),        \
    a4 = SET(4), a5 = SET(5), a6 = SET(6), a7 = SET(7), a8 = SET(8), a9 = SET(9);                  \
  double t0 = now_ms();                                                                            \
  for (long i = 0; i < iters; i++) {                                                               \
    a0 = FMA(a0, m, c);                                                                            \
    a1 = FMA(a1, m, c);                                                                            \
    a2 = FMA(a2, m, c);                                                                            \
    a3 = FMA(a3, m, c);                                                                            \
    a4 = FMA(a4, m, c);                                                                            \
    a5 = FMA(a5, m, c);                                                                            \
    a6 = FMA(a6, m, c);                                                                            \
    a7 = FMA(a7, m, c);                                                                            \
    a8 = FMA(a8, m, c);                                                                            \
    a9 = FMA(a9, m, c);                                                                            \
  }                                                                                                \
  double ms = now_ms() - t0;                                                                       \
  T s = a0;                                                                                        \
  s = FMA(a1, m, s);                                                                               \
  s = FMA(a2, m, s);                                                                               \
  s = FMA(a3, m, s);                                                                               \
  s = FMA(a4, m, s);                                                                               \
  s = FMA(a5, m, s);                                                                               \
  s = FMA(a6, m, s);                                                                               \
  s = FMA(a7, m, s);                                                                               \
  s = FMA(a8, m, s);                                                                               \
  s = FMA(a9, m, s)
__attribute__((target("avx512f"))) static double peak_avx512(long iters) {
  PEAK_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps);
  float out[16];
  _mm512_storeu_ps(out, s);
  if (out[0] == 12345.0f) printf(" ");
  return (double)iters * 10 * 16 * 2 / (ms / 1e3) / 1e9;
}
__attribute__((target("avx2,fma"))) static double peak_avx2(long iters) {
  PEAK_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps);
  float out[8];
  _mm256_storeu_ps(out, s);
  if (out[0] == 12345.0f) printf(" ");
  return (double)iters * 10 * 8 * 2 / (ms / 1e3) / 1e9;
}
#undef PEAK_CHAINS
#endif
static double peak_gflops_1t(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f")) return peak_avx512(20000000);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return peak_avx2(20000000);
#endif
  return 0;
}

static long maxrss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

int main(int argc, char **argv) {
  const char *size = "tiny", *dir = "/tmp", *shared = getenv("MIMIC_SHARED"), *type = "f16";
  int threads = 2, img_side = 512, reps = 0;
  bool low = false, profile = false;
  for (int i = 1; i < argc; i += 2) {
    int64_t v = 0;
    if (!strcmp(argv[i], "--low-detail")) {
      low = true;
      i--;
    } else if (!strcmp(argv[i], "--profile")) {
      profile = true;
      i--;
    } else if (i + 1 >= argc) {
      fprintf(stderr, "bench_vision: %s needs a value\n", argv[i]);
      return 2;
    } else if (!strcmp(argv[i], "--size"))
      size = argv[i + 1];
    else if (!strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!strcmp(argv[i], "--shared"))
      shared = argv[i + 1];
    else if (!strcmp(argv[i], "--type"))
      type = argv[i + 1];
    else if (!strcmp(argv[i], "--threads") && !str_to_i64(argv[i + 1], &v))
      threads = (int)v;
    else if (!strcmp(argv[i], "--side") && !str_to_i64(argv[i + 1], &v))
      img_side = (int)v;
    else if (!strcmp(argv[i], "--reps") && !str_to_i64(argv[i + 1], &v) && v >= 1 && v <= 100)
      reps = (int)v;
    else {
      fprintf(stderr, "usage: bench_vision [--size tiny|256m|500m] [--threads N] [--side S] "
                      "[--type f16|q8_0|f32] [--low-detail] [--profile] [--reps N] [--dir D] "
                      "[--shared PATH]\n");
      return 2;
    }
  }
  if (img_side < 1 || img_side > VIS_MAX_SIDE || threads < 1) {
    fprintf(stderr, "bench_vision: bad --side or --threads\n");
    return 2;
  }
  const shape *s = NULL;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (!strcmp(shapes[i].name, size)) s = &shapes[i];
  tensor_type mt = !strcmp(type, "q8_0") ? TT_Q8_0 : !strcmp(type, "f32") ? TT_F32 : TT_F16;
  if (!s) {
    fprintf(stderr, "bench_vision: --size is tiny, 256m or 500m\n");
    return 2;
  }
  char tok[512], text[512], mm[512];
  snprintf(tok, sizeof tok, "%s/testdata/vision/tiny-smolvlm-text-f32.gguf",
           shared ? shared : "../shared");
  snprintf(text, sizeof text, "%s/mimic-bench-vision-text-%s.gguf", dir, s->name);
  snprintf(mm, sizeof mm, "%s/mimic-bench-vision-mmproj-%s-%s.gguf", dir, s->name, type);
  compute_pool *cpool = compute_pool_new(threads);
  int rc = 0;
  FILE *probe = fopen(text, "rb");
  if (probe) {
    fclose(probe);
  } else {
    random_model_opts o = {.arch = "llama",
                           .width = s->t_width,
                           .layers = s->t_layers,
                           .heads = s->t_heads,
                           .kv_heads = s->t_kv,
                           .ff = s->t_ff,
                           .ctx = 8192,
                           .seed = 1,
                           .preset = QP_Q8_0,
                           .tokenizer_path = tok,
                           .vocab = strcmp(s->name, "tiny") ? 49280 : 0};
    fprintf(stderr, "writing %s ...\n", text);
    rc = gguf_make_random(&o, text, cpool);
  }
  probe = fopen(mm, "rb");
  if (probe) {
    fclose(probe);
  } else if (!rc) {
    fprintf(stderr, "writing %s ...\n", mm);
    rc = write_mmproj(s, mt, mm, true);
  }
  if (rc) {
    fprintf(stderr, "bench_vision: %s\n", err_msg());
    return 1;
  }
  long rss0 = maxrss_mb();

  /* A synthetic photo-like image: gradients and a few shapes. */
  size_t npx = (size_t)img_side * img_side;
  uint8_t *rgb = xalloc(npx * 3);
  for (int y = 0; y < img_side; y++)
    for (int x = 0; x < img_side; x++) {
      uint8_t *p = rgb + ((size_t)y * img_side + x) * 3;
      p[0] = (uint8_t)(x * 255 / img_side);
      p[1] = (uint8_t)(y * 255 / img_side);
      p[2] = (uint8_t)(((x / 37) ^ (y / 23)) & 1 ? 200 : 40);
    }
  vis_image img = {.width = img_side, .height = img_side, .rgb = rgb};

  /* The same files for llama.cpp's llama-mtmd-cli: the image as a binary PPM (stb_image reads it),
   * and for --low-detail an mmproj copy without slicing. */
  char ppm[600], mm1[600];
  snprintf(ppm, sizeof ppm, "%s/mimic-bench-vision-%d.ppm", dir, img_side);
  snprintf(mm1, sizeof mm1, "%s/mimic-bench-vision-mmproj-%s-%s-overview.gguf", dir, s->name, type);
  FILE *pf = fopen(ppm, "wb");
  if (pf) {
    fprintf(pf, "P6\n%d %d\n255\n", img_side, img_side);
    fwrite(rgb, 3, npx, pf);
    fclose(pf);
  }
  FILE *have = low ? fopen(mm1, "rb") : NULL;
  if (have) {
    fclose(have);
  } else if (low) {
    fprintf(stderr, "writing %s ...\n", mm1);
    rng = 0x9E3779B97F4A7C15ull; /* the same weights as the sliced file */
    if ((rc = write_mmproj(s, mt, mm1, false))) {
      fprintf(stderr, "bench_vision: %s\n", err_msg());
      return 1;
    }
  }

  vis_vlm *v = NULL;
  vis_vlm_params vp = {.n_threads = threads, .max_tokens = 1, .n_ctx = 4096, .low_detail = low};
  if ((rc = vis_vlm_open(text, mm, &vp, &v))) {
    fprintf(stderr, "bench_vision: %s\n", err_msg());
    return 1;
  }
  const vis_model *m = vis_vlm_mmproj(v);
  const vis_hparams *hp = vis_model_hparams(m);
  /* Warm-up (page in the weights), then the timed runs. */
  float *embd = NULL;
  int rows = 0;
  vis_tiles tiles = {0};
  rc = vis__embed(m, cpool, &img, !low, NULL, &embd, &rows, &tiles);
  mem_free(embd);
  embd = NULL;
  int n_tiles = tiles.n_tiles;
  vis_tiles_free(&tiles);
  double best_embed = 1e30, best_first = 1e30;
  if (reps < 1) reps = strcmp(s->name, "tiny") ? 2 : 5;
  for (int r = 0; r < reps && !rc; r++) {
    double t0 = now_ms();
    rc = vis__embed(m, cpool, &img, !low, NULL, &embd, &rows, NULL);
    double t = now_ms() - t0;
    mem_free(embd);
    embd = NULL;
    if (t < best_embed) best_embed = t;
  }
  for (int r = 0; r < reps && !rc; r++) {
    char *out = NULL;
    double t0 = now_ms();
    rc = vis_describe(v, &img, "Describe this image.", &out);
    double t = now_ms() - t0;
    mem_free(out);
    if (t < best_first) best_first = t;
  }
  if (rc) {
    fprintf(stderr, "bench_vision: %s\n", err_msg());
    return 1;
  }
  /* FLOPs of the encoder's matrix work for one tile. */
  double P = hp->n_patches, E = hp->n_embd, F = hp->n_ff, K = 3.0 * hp->patch_size * hp->patch_size;
  double R = hp->n_tile_rows, SE = E * hp->scale_factor * hp->scale_factor;
  double tile_flops = 2 * P * K * E +
                      hp->n_layer * (2 * P * E * E * 4 + 2 * P * E * F * 2 + 2 * 2 * P * P * E) +
                      2 * R * SE * hp->proj_dim;
  double flops = tile_flops * n_tiles;
  double peak1 = peak_gflops_1t(), peak = peak1 * threads;
  double gflops = flops / (best_embed / 1e3) / 1e9;
  printf("bench_vision: size %s, mmproj %s, %d threads, kernels %s, image %dx%d%s\n", s->name, type,
         threads, qmat_kernels_name(), img_side, img_side, low ? ", low detail" : "");
  printf("  tiles %d (%d rows each), %.1f GFLOP of encoder matrix work\n", n_tiles, hp->n_tile_rows,
         flops / 1e9);
  printf("  image -> embeddings:   %9.1f ms  (%.1f GFLOP/s; FMA peak %.1f GFLOP/s at %d threads: "
         "%.1f%% of the FLOP bound)\n",
         best_embed, gflops, peak, threads, peak > 0 ? 100 * gflops / peak : 0);
  printf("  image -> first token:  %9.1f ms\n", best_first);
  printf("  peak RSS: %ld MiB (%ld MiB after writing the models)\n", maxrss_mb(), rss0);
  printf("  llama.cpp on the same files (its encoder time: \"image slice encoded in\"):\n"
         "    $LLAMA_CPP_DIR/build/bin/llama-mtmd-cli -m %s --mmproj %s --image %s -p 'Describe "
         "this image.' -n 1 -t %d --temp 0 -fa off\n",
         text, low ? mm1 : mm, ppm, threads);
  if (profile) {
    /* One more run of each part, timed by phase (wall clock; the best runs above are the figures).
     */
    double sec[VIS_PROF_COUNT] = {0}, enc = 0;
    double t0 = cpu_ms();
    vis_tiles pt;
    if ((rc = vis__preprocess(m, &img, !low, &pt))) {
      fprintf(stderr, "bench_vision: %s\n", err_msg());
      return 1;
    }
    double pre = cpu_ms() - t0;
    vis_tiles_free(&pt);
    vis__profile(sec);
    t0 = cpu_ms();
    double w0 = now_ms();
    rc = vis__embed(m, cpool, &img, !low, NULL, &embd, &rows, NULL);
    double emb = cpu_ms() - t0, embw = now_ms() - w0;
    vis__profile(NULL);
    mem_free(embd);
    embd = NULL;
    for (int i = 0; i < VIS_PROF_COUNT; i++) enc += sec[i] * 1e3;
    printf("  profile (one more run; CPU ms of all threads, so about %d x the wall time when "
           "the machine is idle):\n",
           threads);
    printf("    %-22s %8.1f\n", "preprocessing", pre);
    for (int i = 0; i < VIS_PROF_COUNT; i++)
      printf("    %-22s %8.1f  (%4.1f%% of the encoder)\n", vis__prof_names[i], sec[i] * 1e3,
             enc > 0 ? 100 * sec[i] * 1e3 / enc : 0);
    printf("    %-22s %8.1f  (embedding total %.1f CPU ms, %.1f ms wall; the encoder's matrix work "
           "at %.1f GFLOP/s per core)\n",
           "encoder total", enc, emb, embw, flops / (emb / 1e3) / 1e9);
    char *desc = NULL;
    t0 = cpu_ms();
    rc = vis_describe(v, &img, "Describe this image.", &desc);
    double after = cpu_ms() - t0 - emb;
    mem_free(desc);
    printf("    %-22s %8.1f  (CPU ms of a description to its first token, less the embedding: the "
           "prompt through the text model)\n",
           "after the embeddings", after);
  }
  vis_vlm_close(v);
  compute_pool_destroy(cpool);
  mem_free(rgb);
  return 0;
}
