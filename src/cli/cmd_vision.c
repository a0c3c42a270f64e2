/* `mimic vision embed` (an image's projected embeddings as raw float32, to compare with llama.cpp)
 * and `mimic vision describe` (a VLM's description of an image). Images come from a file (PNG,
 * JPEG, WebP, GIF) or, for checks against other engines' decoders, as raw RGB bytes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/fs.h"
#include "cli/flags.h"
#include "vision/image.h"
#include "vision/vision.h"

typedef struct img_opts {
  const char *image, *pixels;
  int width, height;
} img_opts;

#define IMG_OPTS(o)                                                                                \
  {.name = "image",                                                                                \
   .short_name = 'i',                                                                              \
   .type = CLI_PATH,                                                                               \
   .dest = &(o).image,                                                                             \
   .meta = "F",                                                                                    \
   .help = "the image (PNG, JPEG, WebP or GIF)"},                                                  \
      {.name = "pixels",                                                                           \
       .type = CLI_PATH,                                                                           \
       .dest = &(o).pixels,                                                                        \
       .meta = "F.u8",                                                                             \
       .help = "raw RGB bytes instead (row-major, 3 per pixel), with --width and --height"},       \
      {.name = "width",                                                                            \
       .type = CLI_INT,                                                                            \
       .dest = &(o).width,                                                                         \
       .meta = "W",                                                                                \
       .help = "width of --pixels",                                                                \
       .min = 1,                                                                                   \
       .max = VIS_MAX_SIDE},                                                                       \
  {                                                                                                \
    .name = "height", .type = CLI_INT, .dest = &(o).height, .meta = "H",                           \
    .help = "height of --pixels", .min = 1, .max = VIS_MAX_SIDE                                    \
  }

/* Reads the image named by o into *img (caller frees with vis_image_free). Returns 0, or 1 after
 * printing why, or 2 after a usage error. */
static int image_read(const cli_spec *spec, const img_opts *o, vis_image *img) {
  memset(img, 0, sizeof *img);
  if (!o->image == !o->pixels) return cli_usage_error(spec, "needs one of --image or --pixels");
  if (o->image) {
    if (vis_image_load(o->image, NULL, img)) {
      cli_error("%s", err_msg());
      return 1;
    }
    return 0;
  }
  if (o->width <= 0 || o->height <= 0)
    return cli_usage_error(spec, "--pixels needs --width and --height");
  size_t want = (size_t)o->width * (size_t)o->height * 3, n = 0;
  char *data = NULL;
  if (fs_read_file(o->pixels, want + 1, &data, &n)) {
    cli_error("%s", err_msg());
    return 1;
  }
  if (n != want) {
    cli_error("%s holds %zu bytes, but %dx%d RGB is %zu", o->pixels, n, o->width, o->height, want);
    mem_free(data);
    return 1;
  }
  img->rgb = (uint8_t *)data;
  img->width = o->width;
  img->height = o->height;
  return 0;
}

static int vision_embed_cmd(int argc, char **argv) {
  const char *mmproj = NULL, *out_path = NULL;
  img_opts io = {0};
  int threads = 0;
  const cli_opt opts[] = {{.name = "mmproj",
                           .type = CLI_PATH,
                           .dest = &mmproj,
                           .meta = "P.gguf",
                           .help = "the vision projector (required)"},
                          IMG_OPTS(io),
                          {.name = "out",
                           .short_name = 'o',
                           .type = CLI_PATH,
                           .dest = &out_path,
                           .meta = "F.f32",
                           .help = "write the rows as raw float32 (else a summary is printed)"},
                          CLI_OPT_THREADS(&threads),
                          {0}};
  const cli_spec spec = {
      .name = "vision embed",
      .summary = "Encodes an image with an mmproj and writes its projected embeddings: one row of "
                 "the text\nmodel's width per image token, every tile in prompt order (slices row "
                 "by row, then the\noverview), as raw float32 (llama.cpp's layout).",
      .example = "vision embed --mmproj models/mmproj.gguf --image cat.png --out /tmp/cat.f32",
      .opts = opts};
  cli_args a;
  int prc = cli_parse(&spec, argc, argv, &a);
  if (prc) return prc == CLI_HELP ? 0 : prc;
  if (!mmproj) return cli_usage_error(&spec, "needs --mmproj");
  vis_image img;
  int st = image_read(&spec, &io, &img);
  if (st) return st;
  int status = 1, rows = 0;
  vis_model *m = NULL;
  compute_pool *cpool = NULL;
  float *embd = NULL;
  vis_tiles tiles = {0};
  FILE *f = NULL;
  if (vis_model_load(mmproj, &m)) goto out;
  cpool = compute_pool_new(threads);
  if (vis_embed(m, cpool, &img, &embd, &rows, &tiles)) goto out;
  size_t width = (size_t)vis_model_hparams(m)->proj_dim, count = (size_t)rows * width;
  if (out_path) {
    f = fopen(out_path, "wb");
    if (!f || fwrite(embd, sizeof *embd, count, f) != count || fclose(f) != 0) {
      f = NULL;
      err_set(MIMIC_EIO, "%s: cannot write: %s", out_path, strerror(errno));
      goto out;
    }
    f = NULL;
    fprintf(stderr,
            "mimic: wrote %d rows of %zu floats to %s (%d tiles: %dx%d slices + overview)\n", rows,
            width, out_path, tiles.n_tiles, tiles.rows, tiles.cols);
  } else {
    printf("image %dx%d: %d tiles (%d rows x %d cols of slices, then the overview), %d rows of "
           "%zu floats\n",
           img.width, img.height, tiles.n_tiles, tiles.rows, tiles.cols, rows, width);
    printf("row 0 begins: %g %g %g %g\n", (double)embd[0], (double)embd[1], (double)embd[2],
           (double)embd[3]);
  }
  status = 0;
out:
  if (status) cli_error("%s", err_msg());
  if (f) fclose(f);
  mem_free(embd);
  vis_tiles_free(&tiles);
  compute_pool_destroy(cpool);
  vis_model_destroy(m);
  vis_image_free(&img);
  return status;
}

static int print_piece(void *user, const char *text, size_t len) {
  (void)user;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0;
}

static int vision_describe_cmd(int argc, char **argv) {
  const char *model = NULL, *mmproj = NULL, *prompt = NULL;
  img_opts io = {0};
  int threads = 0, max_tokens = 160;
  float temp = 0.0f;
  uint64_t seed = 0;
  bool low_detail = false;
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &model,
       .meta = "M.gguf",
       .help = "the text model (required)"},
      {.name = "mmproj",
       .type = CLI_PATH,
       .dest = &mmproj,
       .meta = "P.gguf",
       .help = "its vision projector (required)"},
      IMG_OPTS(io),
      {.name = "prompt",
       .short_name = 'p',
       .type = CLI_STR,
       .dest = &prompt,
       .meta = "TEXT",
       .help = "what to ask about the image (default: Describe this image.)"},
      {.name = "max-tokens",
       .short_name = 'n',
       .type = CLI_INT,
       .dest = &max_tokens,
       .meta = "N",
       .help = "longest answer in tokens (default 160)",
       .min = 1,
       .max = 8192},
      {.name = "temp",
       .type = CLI_FLOAT,
       .dest = &temp,
       .meta = "T",
       .help = "sampling temperature (default 0: greedy)",
       .min = 0,
       .max = 10},
      {.name = "seed", .type = CLI_U64, .dest = &seed, .meta = "S", .help = "seed for --temp"},
      {.name = "low-detail",
       .type = CLI_BOOL,
       .dest = &low_detail,
       .help = "the overview tile only (about 17x faster for SmolVLM, less fine detail; the bot: "
               "vision.low_detail)"},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "vision describe",
      .summary = "Generates a text model's answer about an image (SmolVLM / idefics3: a text "
                 "model GGUF plus\nits mmproj GGUF), in the family's chat format.",
      .example = "vision describe -m models/SmolVLM-256M-Instruct-Q8_0.gguf --mmproj "
                 "models/mmproj-SmolVLM-256M-Instruct-Q8_0.gguf --image cat.jpg -p \"What is "
                 "this?\"",
      .opts = opts};
  cli_args a;
  int prc = cli_parse(&spec, argc, argv, &a);
  if (prc) return prc == CLI_HELP ? 0 : prc;
  if (!model || !mmproj) return cli_usage_error(&spec, "needs --model and --mmproj");
  vis_image img;
  int st = image_read(&spec, &io, &img);
  if (st) return st;
  int status = 1;
  vis_vlm *v = NULL;
  char *text = NULL;
  vis_vlm_params vp = {.n_threads = threads,
                       .max_tokens = max_tokens,
                       .temp = temp,
                       .seed = seed,
                       .low_detail = low_detail};
  if (vis_vlm_open(model, mmproj, &vp, &v)) goto out;
  if (vis_describe_stream(v, &img, prompt, print_piece, NULL, &text)) goto out;
  printf("\n");
  status = 0;
out:
  if (status) cli_error("%s", err_msg());
  mem_free(text);
  vis_vlm_close(v);
  vis_image_free(&img);
  return status;
}

int cmd_vision(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"embed", vision_embed_cmd, "an image's projected embeddings as raw float32"},
      {"describe", vision_describe_cmd, "a vision-language model's answer about an image"},
      {0}};
  static const cli_spec spec = {.name = "vision",
                                .args = "embed | describe",
                                .summary = "Run a vision-language model's image side.",
                                .example = "vision describe -m M.gguf --mmproj P.gguf --image F",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
