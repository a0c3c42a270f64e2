/* Loading an mmproj GGUF (general.architecture = clip): the hyper-parameters and every weight of
 * the vision encoder and projector, resolved over the mapped file and checked against the metadata.
 * Not here: what the weights compute (encoder.c). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "vision/vision_int.h"

static const char *mm_name(const vis_model *m) { return gguf_path(m->f); }

static int hp_int(vis_model *m, const char *key, bool required, int dflt, int lo, int hi,
                  int *out) {
  uint32_t v;
  int rc = gguf_get_u32(m->f, key, &v);
  if (rc == MIMIC_ENOTFOUND && !required) {
    *out = dflt;
    return 0;
  }
  if (rc == MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: the projector has no %s", mm_name(m), key);
  if (rc) return err_set(MIMIC_EFORMAT, "%s: %s is not an unsigned integer", mm_name(m), key);
  if ((int64_t)v < lo || (int64_t)v > hi)
    return err_set(MIMIC_ERANGE, "%s: %s = %u is outside %d..%d", mm_name(m), key, v, lo, hi);
  *out = (int)v;
  return 0;
}

/* Keeps a buffer converted at load, freed with the model. */
static void *own(vis_model *m, size_t bytes) {
  void *p = mem_alloc(bytes ? bytes : 1);
  if (!p) return NULL;
  m->owned = xrealloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *m->owned);
  m->owned[m->n_owned++] = p;
  return p;
}

static const char *shape_str(const gguf_tensor *t, char *b, size_t cap) {
  int o = snprintf(b, cap, "%lld", (long long)t->ne[0]);
  for (int d = 1; d < t->n_dims && o > 0 && (size_t)o < cap; d++)
    o += snprintf(b + o, cap - (size_t)o, "x%lld", (long long)t->ne[d]);
  return b;
}

/* A tensor with exactly n elements, in any float layout, as float. */
static int vec_get(vis_model *m, const char *name, int64_t n, const float **out) {
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) return err_set(MIMIC_EFORMAT, "%s: the projector has no tensor %s", mm_name(m), name);
  int64_t total = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
  if (total != n) {
    char s[64];
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is %s, expected %lld values", mm_name(m), name,
                   shape_str(t, s, sizeof s), (long long)n);
  }
  tensor_type_info ti = tensor_type_get(t->type);
  if (!ti.supported || n % ti.block)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot read here",
                   mm_name(m), name, ti.name ? ti.name : "unknown");
  if (t->type == TT_F32 && ((uintptr_t)t->data & 3) == 0) {
    *out = t->data;
    return 0;
  }
  float *f = own(m, (size_t)n * sizeof *f);
  if (!f) return err_set(MIMIC_ENOMEM, "%s: out of memory for %s", mm_name(m), name);
  quant_dequant_row(t->type, t->data, f, n);
  *out = f;
  return 0;
}

/* A weight matrix of `rows` outputs over `cols` inputs (ggml shape cols x rows). */
static int mat_get(vis_model *m, const char *name, int64_t cols, int64_t rows, const char *why,
                   qmat *out) {
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) return err_set(MIMIC_EFORMAT, "%s: the projector has no tensor %s", mm_name(m), name);
  if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows) {
    char s[64];
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is %s, but %s asks for %lldx%lld", mm_name(m),
                   name, shape_str(t, s, sizeof s), why, (long long)cols, (long long)rows);
  }
  tensor_type_info ti = tensor_type_get(t->type);
  if (!ti.supported || cols % ti.block)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   mm_name(m), name, ti.name ? ti.name : "unknown");
  out->type = t->type;
  out->rows = rows;
  out->cols = cols;
  out->data = t->data;
  out->row_bytes = tensor_row_bytes(t->type, cols);
  return 0;
}

static int load_hparams(vis_model *m) {
  vis_hparams *hp = &m->hp;
  int rc;
  char *arch = gguf_get_str_dup(m->f, "general.architecture");
  if (!arch || strcmp(arch, "clip") != 0) {
    rc = err_set(MIMIC_EUNSUPPORTED,
                 "%s: general.architecture is '%s', not 'clip': this is not a vision projector "
                 "(mmproj) file",
                 mm_name(m), arch ? arch : "(none)");
    mem_free(arch);
    return rc;
  }
  mem_free(arch);
  char *proj = gguf_get_str_dup(m->f, "clip.projector_type");
  if (!proj || strcmp(proj, "idefics3") != 0) {
    rc = err_set(MIMIC_EUNSUPPORTED,
                 "%s: projector type '%s' is not supported; mimic runs idefics3 projectors "
                 "(SmolVLM, Idefics3)",
                 mm_name(m), proj ? proj : "(none)");
    mem_free(proj);
    return rc;
  }
  snprintf(hp->projector, sizeof hp->projector, "%s", proj);
  mem_free(proj);
  bool has_vision = false;
  if (gguf_get_bool(m->f, "clip.has_vision_encoder", &has_vision) || !has_vision)
    return err_set(MIMIC_EUNSUPPORTED, "%s: the projector has no vision encoder", mm_name(m));
  if ((rc = hp_int(m, "clip.vision.image_size", true, 0, 1, VIS_MAX_IMAGE_SIZE, &hp->image_size)) ||
      (rc = hp_int(m, "clip.vision.patch_size", true, 0, 1, VIS_MAX_IMAGE_SIZE, &hp->patch_size)) ||
      (rc = hp_int(m, "clip.vision.embedding_length", true, 0, 1, VIS_MAX_EMBD, &hp->n_embd)) ||
      (rc = hp_int(m, "clip.vision.feed_forward_length", true, 0, 1, VIS_MAX_FF, &hp->n_ff)) ||
      (rc = hp_int(m, "clip.vision.block_count", true, 0, 1, VIS_MAX_LAYERS, &hp->n_layer)) ||
      (rc = hp_int(m, "clip.vision.attention.head_count", true, 0, 1, VIS_MAX_EMBD, &hp->n_head)) ||
      (rc = hp_int(m, "clip.vision.projection_dim", true, 0, 1, 1 << 20, &hp->proj_dim)) ||
      (rc = hp_int(m, "clip.vision.projector.scale_factor", false, 1, 1, 64, &hp->scale_factor)) ||
      (rc = hp_int(m, "clip.vision.preproc_image_size", false, 0, 0, VIS_MAX_PREPROC,
                   &hp->preproc_size)))
    return rc;
  if (gguf_get_f32(m->f, "clip.vision.attention.layer_norm_epsilon", &hp->eps) || !(hp->eps > 0) ||
      hp->eps > 1)
    return err_set(MIMIC_EFORMAT,
                   "%s: clip.vision.attention.layer_norm_epsilon is missing or not in (0, 1]",
                   mm_name(m));
  bool gelu = false;
  int grc = gguf_get_bool(m->f, "clip.use_gelu", &gelu);
  if (grc && grc != MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: clip.use_gelu is not a boolean", mm_name(m));
  hp->gelu_tanh = gelu;
  static const char *const keys[2] = {"clip.vision.image_mean", "clip.vision.image_std"};
  float *dst[2] = {hp->mean, hp->std};
  for (int i = 0; i < 2; i++) {
    gguf_vtype et;
    uint64_t cnt;
    if (gguf_get_arr(m->f, keys[i], &et, &cnt) || cnt != 3 ||
        gguf_arr_f32(m->f, keys[i], dst[i], 3))
      return err_set(MIMIC_EFORMAT, "%s: %s must be an array of 3 numbers", mm_name(m), keys[i]);
  }
  for (int c = 0; c < 3; c++)
    if (!(hp->std[c] > 0))
      return err_set(MIMIC_EFORMAT, "%s: clip.vision.image_std[%d] is not positive", mm_name(m), c);
  int side = hp->image_size / hp->patch_size;
  if (hp->image_size % hp->patch_size)
    return err_set(MIMIC_EFORMAT, "%s: image_size %d is not a multiple of patch_size %d",
                   mm_name(m), hp->image_size, hp->patch_size);
  if (side % hp->scale_factor)
    return err_set(MIMIC_EFORMAT,
                   "%s: %d patches per side do not divide by the pixel-shuffle scale factor %d",
                   mm_name(m), side, hp->scale_factor);
  if (hp->n_embd % hp->n_head)
    return err_set(MIMIC_EFORMAT, "%s: embedding_length %d does not divide into %d heads",
                   mm_name(m), hp->n_embd, hp->n_head);
  if ((int64_t)hp->n_embd * hp->scale_factor * hp->scale_factor > VIS_MAX_EMBD * 16)
    return err_set(MIMIC_ERANGE, "%s: the pixel-shuffled width is over the cap", mm_name(m));
  hp->n_patches = side * side;
  hp->n_tile_rows = hp->n_patches / (hp->scale_factor * hp->scale_factor);
  return 0;
}

static int load_weights(vis_model *m) {
  const vis_hparams *hp = &m->hp;
  int rc;
  int64_t E = hp->n_embd, P = hp->patch_size, K = 3 * P * P;
  /* Patch embedding: ggml shape P x P x 3 x E, i.e. one row of [c][ky][kx] per output. */
  const gguf_tensor *t = gguf_tensor_find(m->f, "v.patch_embd.weight");
  if (!t)
    return err_set(MIMIC_EFORMAT, "%s: the projector has no tensor v.patch_embd.weight",
                   mm_name(m));
  if (t->ne[0] != P || t->ne[1] != P || t->ne[2] != 3 || t->ne[3] != E) {
    char s[64];
    return err_set(MIMIC_EFORMAT,
                   "%s: tensor v.patch_embd.weight is %s, but patch_size %lld and "
                   "embedding_length %lld ask for %lldx%lldx3x%lld",
                   mm_name(m), shape_str(t, s, sizeof s), (long long)P, (long long)E, (long long)P,
                   (long long)P, (long long)E);
  }
  tensor_type_info ti = tensor_type_get(t->type);
  if (!ti.supported || (K * E) % ti.block)
    return err_set(MIMIC_EUNSUPPORTED, "%s: v.patch_embd.weight has type %s", mm_name(m),
                   ti.name ? ti.name : "unknown");
  {
    /* llama.cpp's convolution goes through an F16 im2col: the kernel is rounded to fp16. */
    float *tmp = mem_alloc((size_t)(K * E) * sizeof *tmp);
    uint16_t *h = own(m, (size_t)(K * E) * sizeof *h);
    if (!tmp || !h) {
      mem_free(tmp);
      return err_set(MIMIC_ENOMEM, "%s: out of memory for the patch embedding", mm_name(m));
    }
    quant_dequant_row(t->type, t->data, tmp, K * E);
    rc = quant_row(TT_F16, tmp, h, K * E);
    mem_free(tmp);
    if (rc) return rc;
    m->patch = (qmat){
        .type = TT_F16, .rows = E, .cols = K, .data = h, .row_bytes = tensor_row_bytes(TT_F16, K)};
  }
  if ((rc = vec_get(m, "v.patch_embd.bias", E, &m->patch_b)) ||
      (rc = vec_get(m, "v.position_embd.weight", E * hp->n_patches, &m->pos)))
    return rc;
  const gguf_tensor *pt = gguf_tensor_find(m->f, "v.position_embd.weight");
  if (pt->ne[0] != E) {
    char s[64];
    return err_set(MIMIC_EFORMAT, "%s: tensor v.position_embd.weight is %s, expected %lldx%d",
                   mm_name(m), shape_str(pt, s, sizeof s), (long long)E, hp->n_patches);
  }
  m->layers = xcalloc((size_t)hp->n_layer, sizeof *m->layers);
  char name[GGUF_MAX_NAME];
  for (int il = 0; il < hp->n_layer; il++) {
    vis_layer *L = &m->layers[il];
#define VEC(field, suffix, n)                                                                      \
  do {                                                                                             \
    snprintf(name, sizeof name, "v.blk.%d.%s", il, suffix);                                        \
    if ((rc = vec_get(m, name, n, &L->field))) return rc;                                          \
  } while (0)
#define MAT(field, suffix, cols, rows, why)                                                        \
  do {                                                                                             \
    snprintf(name, sizeof name, "v.blk.%d.%s", il, suffix);                                        \
    if ((rc = mat_get(m, name, cols, rows, why, &L->field))) return rc;                            \
  } while (0)
    VEC(ln1_w, "ln1.weight", E);
    VEC(ln1_b, "ln1.bias", E);
    VEC(ln2_w, "ln2.weight", E);
    VEC(ln2_b, "ln2.bias", E);
    MAT(q, "attn_q.weight", E, E, "embedding_length");
    MAT(k, "attn_k.weight", E, E, "embedding_length");
    MAT(v, "attn_v.weight", E, E, "embedding_length");
    MAT(o, "attn_out.weight", E, E, "embedding_length");
    VEC(q_b, "attn_q.bias", E);
    VEC(k_b, "attn_k.bias", E);
    VEC(v_b, "attn_v.bias", E);
    VEC(o_b, "attn_out.bias", E);
    /* llama.cpp swaps ffn_up and ffn_down for idefics3 when ffn_down's input width is the
     * embedding width (files converted with the two names exchanged); mimic does the same. */
    const char *up = "ffn_up", *down = "ffn_down";
    snprintf(name, sizeof name, "v.blk.%d.ffn_down.weight", il);
    const gguf_tensor *dt = gguf_tensor_find(m->f, name);
    if (dt && dt->ne[0] == E) {
      up = "ffn_down";
      down = "ffn_up";
    }
    char sfx[32];
    snprintf(sfx, sizeof sfx, "%s.weight", up);
    MAT(up, sfx, E, hp->n_ff, "embedding_length x feed_forward_length");
    snprintf(sfx, sizeof sfx, "%s.bias", up);
    VEC(up_b, sfx, hp->n_ff);
    snprintf(sfx, sizeof sfx, "%s.weight", down);
    MAT(down, sfx, hp->n_ff, E, "feed_forward_length x embedding_length");
    snprintf(sfx, sizeof sfx, "%s.bias", down);
    VEC(down_b, sfx, E);
#undef VEC
#undef MAT
  }
  if ((rc = vec_get(m, "v.post_ln.weight", E, &m->post_w)) ||
      (rc = vec_get(m, "v.post_ln.bias", E, &m->post_b)))
    return rc;
  int64_t in = E * hp->scale_factor * hp->scale_factor;
  if ((rc = mat_get(m, "mm.model.fc.weight", in, hp->proj_dim,
                    "embedding_length x scale_factor^2 by projection_dim", &m->fc)))
    return rc;
  return 0;
}

static int load(const char *path, const void *data, size_t n, vis_model **out) {
  *out = NULL;
  vis_model *m = xcalloc(1, sizeof *m);
  int rc = data ? gguf_open_memory(data, n, path, &m->f) : gguf_open(path, &m->f);
  if (!rc) rc = load_hparams(m);
  if (!rc) rc = load_weights(m);
  if (rc) {
    vis_model_destroy(m);
    return rc;
  }
  *out = m;
  return 0;
}

int vis_model_load(const char *path, vis_model **out) { return load(path, NULL, 0, out); }

int vis__model_load_memory(const void *data, size_t n, const char *name, vis_model **out) {
  return load(name, data, n, out);
}

void vis_model_destroy(vis_model *m) {
  if (!m) return;
  for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
  mem_free(m->owned);
  mem_free(m->layers);
  gguf_close(m->f);
  mem_free(m);
}

const vis_hparams *vis_model_hparams(const vis_model *m) { return &m->hp; }

int vis_model_check_text(const vis_model *m, const llm_model *text) {
  const llm_hparams *th = llm_model_hparams(text);
  if (th->n_embd != m->hp.proj_dim)
    return err_set(MIMIC_EINVAL,
                   "%s makes image rows of %d values but the text model %s is %d wide: the "
                   "projector does not belong to this model",
                   mm_name(m), m->hp.proj_dim, gguf_path(llm_model_gguf(text)), th->n_embd);
  return 0;
}
