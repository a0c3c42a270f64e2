/* The vision encoder and projector of small vision-language models as llama.cpp ships them (a
 * text model GGUF plus an "mmproj" GGUF): loading the projector file, preprocessing an RGB image
 * into tiles exactly as llama.cpp's mtmd does, the SigLIP encoder and idefics3 pixel-shuffle
 * projector on llm's kernels and thread pool, the image's place in the prompt, and a small
 * "describe this image" API for the bot. Images come in as image.h's vis_image (RGB8, borrowed by
 * every call here). Not here: decoding image files (image.h) or fetching them.
 *
 * Families: idefics3 (SmolVLM, Idefics3). Other projector types are refused by name.
 *
 * Threads: a loaded vis_model is read-only and may be shared by any number of threads; each
 * encoding call uses the compute_pool it is given (one caller per pool). A vis_vlm serialises
 * its own callers. */
#ifndef MIMIC_VISION_VISION_H
#define MIMIC_VISION_VISION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "llm/compute_pool.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "vision/image.h"

/* Caps on what an mmproj file may ask for, so a hostile file cannot make mimic allocate without
 * bound: a tile side, the embedding width, layers, and the slicing size (which bounds the tiles
 * per image to (VIS_MAX_PREPROC / image_size)^2 + 1). */
#define VIS_MAX_IMAGE_SIZE 2048
#define VIS_MAX_EMBD       16384
#define VIS_MAX_FF         65536
#define VIS_MAX_LAYERS     256
#define VIS_MAX_PREPROC    8192
/* Largest input image side accepted by preprocessing (decoders cap pixels before this). */
#define VIS_MAX_SIDE 32768

typedef struct vis_hparams {
  char projector[32]; /* clip.projector_type: "idefics3" */
  int image_size;     /* tile side in pixels (clip.vision.image_size) */
  int patch_size;
  int n_embd; /* encoder width */
  int n_ff;
  int n_layer;
  int n_head;
  int proj_dim;     /* width of the projected rows: the text model's n_embd */
  int scale_factor; /* pixel-shuffle factor */
  int preproc_size; /* clip.vision.preproc_image_size: the longest edge before slicing; 0 = none */
  int n_patches;    /* (image_size / patch_size)^2 */
  int n_tile_rows;  /* projected rows per tile: n_patches / scale_factor^2 */
  float eps;        /* layer-norm epsilon */
  float mean[3], std[3];
  bool gelu_tanh; /* clip.use_gelu: tanh GELU; false = GELU-quick (x * sigmoid(1.702 x)) */
} vis_hparams;

typedef struct vis_model vis_model;

/* Opens an mmproj GGUF (mmap, read-only) and resolves every weight, checking the metadata and each
 * tensor's shape against it. Errors, each one sentence naming the file: MIMIC_EUNSUPPORTED
 * (general.architecture is not clip, a projector type other than idefics3, named; a tensor type
 * mimic cannot compute with), MIMIC_EFORMAT (a missing key or tensor, a shape that disagrees with
 * the metadata, named), MIMIC_ERANGE (over the caps above). Caller destroys. */
int vis_model_load(const char *path, vis_model **out) MIMIC_MUST;
void vis_model_destroy(vis_model *m); /* accepts NULL */
const vis_hparams *vis_model_hparams(const vis_model *m);
/* Checks that the projector feeds this text model (proj_dim == the text model's width).
 * MIMIC_EINVAL with one sentence naming both files otherwise. */
int vis_model_check_text(const vis_model *m, const llm_model *text) MIMIC_MUST;

/* ---- Preprocessing ---------------------------------------------------------------------------
 * As llama.cpp's idefics3 preprocessor: the image is resized (bicubic, aspect kept, padded black)
 * to a grid of image_size tiles whose longest side is at most preproc_size, cut into rows x cols
 * slices, and followed by an overview (the whole image stretched bilinearly to one tile);
 * normalised with the file's mean/std. Without preproc_size there is only the overview. */
typedef struct vis_tiles {
  int rows, cols; /* slice grid (0 x 0 when not sliced) */
  int n_tiles;    /* rows * cols + 1 (the overview is last) */
  int size;       /* tile side */
  float *pixels;  /* n_tiles planar [3][size][size] floats, in prompt order; owned */
} vis_tiles;

/* Fills *out (caller frees with vis_tiles_free). Errors: MIMIC_EINVAL (an empty image or one
 * with a side over VIS_MAX_SIDE), MIMIC_ENOMEM. */
int vis_preprocess(const vis_model *m, const vis_image *img, vis_tiles *out) MIMIC_MUST;
void vis_tiles_free(vis_tiles *t); /* accepts NULL and a zeroed struct */

/* ---- Encoder ---------------------------------------------------------------------------------
 * One tile (planar [3][size][size] floats) in, n_tile_rows rows of proj_dim floats out. The fast
 * path runs the matrix work through qmat_mul on the pool; the scalar path is the reference kept
 * forever (plain loops over dequantized weights, one thread), which tests compare it with. Both
 * round what llama.cpp rounds (the convolution's inputs to fp16, GELU through an fp16 table,
 * activations meeting an F16 weight to fp16). */
typedef enum { VIS_PATH_FAST = 0, VIS_PATH_SCALAR = 1 } vis_path;

/* Called with each intermediate tensor of a tile: "patch_bias", "pos_embed", "layer_out-N",
 * "norm_b" (rows x width) and "pixel_shuffle"; names as in llama.cpp's trace. */
typedef void (*vis_trace_fn)(void *user, const char *name, const float *data, int rows, int width);

/* Errors: MIMIC_ENOMEM only. out holds n_tile_rows * proj_dim floats. */
int vis_encode_tile(const vis_model *m, compute_pool *pool, vis_path path, const float *pixels,
                    float *out, vis_trace_fn trace, void *trace_user) MIMIC_MUST;

/* Preprocesses and encodes a whole image: *embd (caller frees with mem_free) gets *n_rows rows of
 * proj_dim floats, every tile's rows in prompt order (slices row by row, then the overview); *tiles
 * (may be NULL) receives the layout. Errors as vis_preprocess and vis_encode_tile. */
int vis_embed(const vis_model *m, compute_pool *pool, const vis_image *img, float **embd,
              int *n_rows, vis_tiles *tiles) MIMIC_MUST;

/* ---- The image in the prompt -----------------------------------------------------------------
 * The token layout of llama.cpp's idefics3 template (slices first, overview last):
 *   for each row R, col C: <fake_token_around_image> <row_R_col_C> [tile rows]; "\n" after every
 *   row but the last; then "\n\n" <fake_token_around_image> <global-img> [overview rows]
 *   <fake_token_around_image>.
 * The prompt is `before` (special tokens parsed, the vocabulary's BOS added when it asks for one),
 * the image, `user` (plain text: special-token text in it stays text) and `after` (special tokens
 * parsed). *ids (caller frees with mem_free) holds *n entries: a token id, or VIS_EMBD_ROW where
 * the next image row goes. Errors: MIMIC_EUNSUPPORTED when the vocabulary lacks one of the
 * layout's tokens (named), tokenizer errors. */
#define VIS_EMBD_ROW (-1)
int vis_prompt_tokens(const tokenizer *t, const vis_model *m, const vis_tiles *layout,
                      const char *before, const char *user, const char *after, int32_t **ids,
                      int *n) MIMIC_MUST;

/* The SmolVLM chat frame around an image and a user prompt for t's vocabulary: SmolVLM's own
 * ("<|im_start|>User:" ... "<end_of_utterance>\nAssistant:") when the vocabulary has
 * <end_of_utterance>, else the chat family's user turn and assistant header (chat.h). *before and
 * *after are malloc'd (caller frees with mem_free). */
int vis_prompt_frame(const tokenizer *t, char **before, char **after) MIMIC_MUST;

/* Evaluates a prompt of vis_prompt_tokens into slot `slot` of c from position 0: runs of token
 * ids through llm_forward, image rows (embd, in order, n_embd floats each) through
 * llm_forward_embd, as llama.cpp evaluates one chunk at a time. mode LLM_LOGITS_ALL fills n rows of
 * logits (every position), LLM_LOGITS_LAST the last position's row. Errors: as llm_forward;
 * MIMIC_EINVAL when the prompt has more image positions than embd rows. */
int vis_prompt_eval(llm_ctx *c, int slot, const int32_t *ids, int n, const float *embd,
                    int n_embd_rows, float *logits, llm_logits_mode mode) MIMIC_MUST;

/* ---- Describe an image: the API the bot calls ------------------------------------------------ */
typedef struct vis_vlm vis_vlm;

typedef struct vis_vlm_params {
  int n_threads;  /* compute threads; <= 0: one per core */
  int max_tokens; /* longest description in tokens; <= 0: 160 */
  float temp;     /* sampling temperature; <= 0: greedy (the default, reproducible) */
  uint64_t seed;  /* for temp > 0 */
  int n_ctx;      /* text context; <= 0: 4096 (an image is 17 x 64 rows at SmolVLM's shapes) */
  /* The overview tile only, never the slices (as a file without preproc_image_size): at
   * SmolVLM's shapes 1 tile instead of up to 17, so about 17x less encoder work and a 64-row
   * image in the prompt, at the cost of fine detail (small text). */
  bool low_detail;
} vis_vlm_params;

/* Loads a text model and its mmproj and checks that they are a pair. p may be NULL (defaults).
 * Errors: those of llm_model_load, tok_load, vis_model_load and vis_model_check_text.
 * Caller closes with vis_vlm_close, which releases all the memory. */
int vis_vlm_open(const char *model_path, const char *mmproj_path, const vis_vlm_params *p,
                 vis_vlm **out) MIMIC_MUST;
void vis_vlm_close(vis_vlm *v); /* accepts NULL */
const vis_model *vis_vlm_mmproj(const vis_vlm *v);
const llm_model *vis_vlm_text(const vis_vlm *v);

/* Makes the description running on v, and every later one, stop soon (between the encoder's
 * tiles, before the prompt, between tokens) and fail with MIMIC_ECANCELLED. Any thread, any time:
 * a bot shutting down calls it so that its worker is not held by a long encode. Accepts NULL. */
void vis_vlm_cancel(vis_vlm *v);

/* Token callback for vis_describe_stream: text is a complete UTF-8 piece; return nonzero to
 * stop. */
typedef int (*vis_piece_fn)(void *user, const char *text, size_t len);

/* Describes img: encodes it, builds the family's prompt with `prompt` as the user's words (NULL:
 * "Describe this image."), and generates until an end-of-generation token or max_tokens. *out
 * (caller frees with mem_free) is the description, trimmed. Thread-safe: calls on one vlm run one
 * at a time. Errors: those of vis_embed and the text model; MIMIC_ERANGE when the image's
 * tokens do not fit the context. */
int vis_describe(vis_vlm *v, const vis_image *img, const char *prompt, char **out) MIMIC_MUST;
/* Same, calling piece (may be NULL) with each piece of text as it is generated. */
int vis_describe_stream(vis_vlm *v, const vis_image *img, const char *prompt, vis_piece_fn piece,
                        void *user, char **out) MIMIC_MUST;

#endif
