/* `mimic logits`: runs the model over given token ids and writes the raw float32 logits, one row of
 * n_vocab per position (the layout of llama.cpp's reference files), so mimic can be compared with
 * other engines from the shell. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/lora.h"
#include "llm/model.h"

#define LOGITS_MAX_TOKENS 65536 /* ids accepted on the command line or from a file */
#define LOGITS_MAX_FILE   (1u << 20)

/* Parses ids separated by commas and/or whitespace. */
static int parse_ids(const char *s, int32_t **ids, int *n) {
  *ids = NULL;
  *n = 0;
  int cap = 0;
  char num[32];
  while (*s) {
    while (*s == ',' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    if (!*s) break;
    size_t len = strcspn(s, ", \t\r\n");
    if (len >= sizeof num) return err_set(MIMIC_EINVAL, "token id '%.20s...' is too long", s);
    memcpy(num, s, len);
    num[len] = '\0';
    int64_t v;
    if (str_to_i64(num, &v) || v < 0 || v > INT32_MAX)
      return err_set(MIMIC_EINVAL, "'%s' is not a token id", num);
    if (*n == LOGITS_MAX_TOKENS)
      return err_set(MIMIC_ERANGE, "more than %d token ids", LOGITS_MAX_TOKENS);
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      *ids = xrealloc(*ids, (size_t)cap * sizeof **ids);
    }
    (*ids)[(*n)++] = (int32_t)v;
    s += len;
  }
  if (*n == 0) return err_set(MIMIC_EINVAL, "no token ids given");
  return 0;
}

int cmd_logits(int argc, char **argv) {
  const char *model_path = NULL, *lora_path = NULL, *tokens = NULL, *tokens_file = NULL,
             *out_path = NULL;
  double scale = 1.0;
  int threads = 0;
  bool last = false;
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &model_path,
       .meta = "M.gguf",
       .help = "the model (required)"},
      {.name = "lora",
       .type = CLI_PATH,
       .dest = &lora_path,
       .meta = "A.gguf",
       .help = "a LoRA adapter applied over it"},
      {.name = "lora-scale",
       .type = CLI_DOUBLE,
       .dest = &scale,
       .meta = "S",
       .help = "the adapter's strength (default 1)",
       .min = -16,
       .max = 16},
      {.name = "tokens",
       .type = CLI_STR,
       .dest = &tokens,
       .meta = "1,2,3",
       .help = "token ids, separated by commas or spaces"},
      {.name = "tokens-file",
       .type = CLI_PATH,
       .dest = &tokens_file,
       .meta = "F",
       .help = "read the token ids from a file"},
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &out_path,
       .meta = "F.f32",
       .help = "where the logits go (required)"},
      {.name = "last", .type = CLI_BOOL, .dest = &last, .help = "only the last position's row"},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "logits",
      .summary = "Runs the model over token ids and writes the raw float32 logits, one row of "
                 "n_vocab per\nposition (the layout of llama.cpp's reference files).",
      .example = "logits --model models/base.gguf --tokens 9707,1879 --out /tmp/l.f32",
      .opts = opts};
  cli_args a;
  int prc = cli_parse(&spec, argc, argv, &a);
  if (prc) return prc == CLI_HELP ? 0 : prc;
  if (!model_path || !out_path || (!tokens == !tokens_file))
    return cli_usage_error(&spec, "needs --model, --out and one of --tokens or --tokens-file");

  int status = 1;
  int32_t *ids = NULL;
  int n = 0;
  llm_model *m = NULL;
  llm_lora *l = NULL;
  llm_ctx *c = NULL;
  compute_pool *cpool = NULL;
  float *logits = NULL;
  FILE *f = NULL;
  char *text = NULL;
  size_t text_len = 0;
  if (tokens_file && fs_read_file(tokens_file, LOGITS_MAX_FILE, &text, &text_len)) goto out;
  if (parse_ids(tokens ? tokens : text, &ids, &n)) goto out;
  if (llm_model_load(model_path, &m)) goto out;
  if (lora_path && llm_lora_load(m, lora_path, &l)) goto out;
  cpool = compute_pool_new(threads);
  llm_ctx_params cp = {.n_ctx = n, .n_slots = 1, .n_batch = n < 512 ? n : 512, .pool = cpool};
  if (llm_ctx_new(m, &cp, &c)) goto out;
  size_t V = (size_t)llm_model_hparams(m)->n_vocab;
  size_t rows = last ? 1 : (size_t)n;
  logits = mem_alloc(rows * V * sizeof *logits);
  if (!logits) {
    err_set(MIMIC_ENOMEM, "no memory for %zu x %zu logits", rows, V);
    goto out;
  }
  if (llm_forward(c, 0, ids, n, 0, l, (float)scale, logits,
                  last ? LLM_LOGITS_LAST : LLM_LOGITS_ALL))
    goto out;
  f = fopen(out_path, "wb");
  if (!f || fwrite(logits, sizeof *logits, rows * V, f) != rows * V || fclose(f) != 0) {
    f = NULL;
    err_set(MIMIC_EIO, "%s: cannot write: %s", out_path, strerror(errno));
    goto out;
  }
  f = NULL;
  fprintf(stderr, "mimic: wrote %zu rows of %zu logits to %s\n", rows, V, out_path);
  status = 0;
out:
  if (status) cli_error("%s", err_msg());
  if (f) fclose(f);
  mem_free(text);
  mem_free(logits);
  mem_free(ids);
  llm_ctx_destroy(c);
  compute_pool_destroy(cpool);
  llm_lora_destroy(l);
  llm_model_destroy(m);
  return status;
}
