/* `mimic embed`: sentence embeddings of texts (or of token ids) with a BERT-family encoder, written
 * as raw little-endian float32, one row per input, so they can be compared with llama.cpp's
 * llama-embedding or fed to other tools. Not here: the encoder (embed/). */
#include <stdio.h>
#include <string.h>

#include "base/fs.h"
#include "base/str.h"
#include "cli/flags.h"
#include "embed/embed.h"

#define EMBED_FILE_MAX (1u << 30) /* --file: bytes read at most */
#define EMBED_MAX_IDS  65536      /* --tokens: ids at most */

/* "101, 2054,102" -> ids. Returns 0, or 2 after printing why not. */
static int parse_ids(const cli_spec *spec, const char *s, int32_t **out, size_t *n) {
  size_t cap = 16, k = 0;
  int32_t *ids = mem_alloc(cap * sizeof *ids);
  if (!ids) return cli_usage_error(spec, "out of memory");
  const char *p = s;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    char tmp[32];
    size_t len = strcspn(p, " ,");
    int64_t v;
    if (len >= sizeof tmp || (memcpy(tmp, p, len), tmp[len] = 0, str_to_i64(tmp, &v)) || v < 0 ||
        v > INT32_MAX || k == EMBED_MAX_IDS) {
      mem_free(ids);
      return cli_usage_error(spec,
                             "--tokens takes up to %d token ids separated by commas, not '%.*s'",
                             EMBED_MAX_IDS, (int)(len > 40 ? 40 : len), p);
    }
    if (k == cap) {
      cap *= 2;
      int32_t *g = mem_realloc(ids, cap * sizeof *ids);
      if (!g) {
        mem_free(ids);
        return cli_usage_error(spec, "out of memory");
      }
      ids = g;
    }
    ids[k++] = (int32_t)v;
    p += len;
  }
  if (!k) {
    mem_free(ids);
    return cli_usage_error(spec, "--tokens needs at least one token id");
  }
  *out = ids;
  *n = k;
  return 0;
}

/* Splits data in place into lines (\n or \r\n); a final newline does not start another line. */
static size_t split_lines(char *data, size_t len, const char ***lines) {
  size_t n = 0, cap = 0;
  const char **v = NULL;
  char *p = data, *end = data + len;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    if (e > p && e[-1] == '\r') e[-1] = 0;
    *e = 0;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      v = xrealloc(v, cap * sizeof *v);
    }
    v[n++] = p;
    p = nl ? nl + 1 : end;
  }
  *lines = v;
  return n;
}

int cmd_embed(int argc, char **argv) {
  const char *model = NULL, *text = NULL, *tokens = NULL, *file = NULL, *out = NULL;
  bool no_norm = false;
  int threads = 0, batch = 0, status = 1;
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &model,
       .meta = "M.gguf",
       .help = "the sentence encoder (bert: bge-small/base/large, all-MiniLM)",
       .key = CLI_KEY(CFG_EMBED_MODEL)},
      {.name = "text", .type = CLI_STR, .dest = &text, .meta = "T", .help = "one text to embed"},
      {.name = "tokens",
       .type = CLI_STR,
       .dest = &tokens,
       .meta = "1,2,3",
       .help = "token ids, taken as given (no [CLS]/[SEP] added)"},
      {.name = "file",
       .type = CLI_PATH,
       .dest = &file,
       .meta = "F",
       .help = "one text per line ('-' for standard input)"},
      {.name = "no-normalize",
       .type = CLI_BOOL,
       .dest = &no_norm,
       .help = "write the pooled vectors as they are (no L2 normalisation)"},
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &out,
       .meta = "F.f32",
       .help = "where the float32 rows go (one per input)"},
      {.name = "batch",
       .type = CLI_INT,
       .dest = &batch,
       .meta = "N",
       .help = "texts evaluated together (default 64)",
       .min = 1,
       .max = 65536},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "embed",
      .summary = "Writes sentence embeddings as raw float32, one row of the encoder's width per "
                 "input\n(--text: one row; --file: one per line; --tokens: the ids as given), "
                 "L2-normalised unless\n--no-normalize.",
      .example = "embed --model models/bge-small-en-v1.5-f16.gguf --text 'hello there' --out "
                 "hello.f32\nembed --file messages.txt --out messages.f32",
      .config = true,
      .opts = opts};
  cli_args a;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  embed_model *m = NULL;
  char *data = NULL;
  const char **lines = NULL;
  int32_t *ids = NULL;
  float *vec = NULL;
  size_t n_in = 0, n_ids = 0;
  if (!model || !*model) {
    status = cli_usage_error(&spec, "needs --model (or embed.model in the configuration)");
    goto out;
  }
  if ((text != NULL) + (tokens != NULL) + (file != NULL) != 1) {
    status = cli_usage_error(&spec, "needs exactly one of --text, --tokens or --file");
    goto out;
  }
  if (!out) {
    status = cli_usage_error(&spec, "needs --out F.f32");
    goto out;
  }
  if (tokens && (status = parse_ids(&spec, tokens, &ids, &n_ids))) goto out;
  status = 1;
  if (file) {
    size_t len = 0;
    int rc;
    if (strcmp(file, "-") == 0) {
      rc = fs_read_stream(stdin, "standard input", EMBED_FILE_MAX, &data, &len);
    } else {
      rc = fs_read_file(file, EMBED_FILE_MAX, &data, &len);
    }
    if (rc) {
      cli_error("embed: %s", err_msg());
      goto out;
    }
    n_in = split_lines(data, len, &lines);
    if (!n_in) {
      cli_error("embed: %s has no lines to embed", file);
      goto out;
    }
  } else if (text) {
    n_in = 1;
    lines = xalloc(sizeof *lines);
    lines[0] = text;
  }
  embed_opts eo = {.threads = threads, .max_batch = batch};
  if (!(m = embed_open(model, &eo))) {
    cli_error("embed: %s", err_msg());
    goto out;
  }
  size_t rows = ids ? 1 : n_in, d = (size_t)embed_dim(m);
  vec = mem_calloc(rows * d, sizeof *vec);
  if (!vec) {
    cli_error("embed: out of memory for %zu vectors", rows);
    goto out;
  }
  int rc =
      ids ? embed_tokens(m, ids, n_ids, !no_norm, vec) : embed_texts(m, lines, n_in, !no_norm, vec);
  if (rc || (rc = fs_write_atomic(out, vec, rows * d * sizeof *vec))) {
    cli_error("embed: %s", err_msg());
    goto out;
  }
  fprintf(stderr, "embed: %zu vector%s of %zu floats (%s) -> %s\n", rows, rows == 1 ? "" : "s", d,
          embed_name(m), out);
  status = 0;
out:
  embed_close(m);
  mem_free(vec);
  mem_free(ids);
  mem_free(lines);
  mem_free(data);
  cfg_destroy(c);
  return status;
}
