/* `mimic tokenize`: prints the token ids a model's vocabulary gives for a text, one line, separated
 * by single spaces (no BOS/EOS, special tokens not parsed: the convention of the reference .out
 * files), so mimic's tokenizer can be compared with llama.cpp's by hand. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

int cmd_tokenize(int argc, char **argv) {
  const char *model = NULL, *text = NULL, *file = NULL;
  bool parse_special = false, add_bos = false;
  int status = 1;
  gguf_file *f = NULL;
  tokenizer *t = NULL;
  int32_t *ids = NULL;
  size_t n = 0;
  buf in;
  buf_init(&in, TOK_MAX_INPUT);
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &model,
       .meta = "M.gguf",
       .help = "the model whose vocabulary is used"},
      {.name = "text", .type = CLI_STR, .dest = &text, .meta = "T", .help = "the text to tokenize"},
      {.name = "file",
       .type = CLI_PATH,
       .dest = &file,
       .meta = "F",
       .help = "read the text from a file ('-' for standard input)"},
      {.name = "parse-special",
       .type = CLI_BOOL,
       .dest = &parse_special,
       .help = "match control tokens written in the text (<|im_start|>, <s>, ...)"},
      {.name = "bos",
       .type = CLI_BOOL,
       .dest = &add_bos,
       .help = "add the framing the vocabulary asks for (BOS, [CLS]/[SEP], EOS)"},
      {0}};
  const cli_spec spec = {
      .name = "tokenize",
      .summary = "Prints the token ids a model's vocabulary gives for a text, separated by spaces "
                 "(no BOS/EOS,\nspecial tokens not parsed unless asked), to compare with "
                 "llama.cpp by hand.",
      .example = "tokenize --model models/base.gguf --text 'hello there'",
      .config = true,
      .opts = opts};
  cli_args a;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) {
    buf_free(&in);
    return status;
  }
  status = 1;
  if (!model || (!text) == (!file)) {
    status = cli_usage_error(&spec, "needs --model and one of --text or --file");
    goto out;
  }
  if (file) {
    FILE *fp = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!fp) {
      cli_error("tokenize: cannot open %s", file);
      goto out;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = fs_read_stream(fp, file, TOK_MAX_INPUT, &data, &len);
    if (fp != stdin) fclose(fp);
    if (!rc) rc = buf_append(&in, data, len);
    mem_free(data);
    if (rc) {
      cli_error("tokenize: %s", err_msg());
      goto out;
    }
  } else if (buf_puts(&in, text)) {
    cli_error("tokenize: %s", err_msg());
    goto out;
  }
  if (gguf_open(model, &f) || tok_load(f, &t)) {
    cli_error("tokenize: %s", err_msg());
    goto out;
  }
  if (tok_encode(t, in.data ? in.data : "", in.len, add_bos, parse_special, &ids, &n)) {
    cli_error("tokenize: %s", err_msg());
    goto out;
  }
  for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
  printf("\n");
  status = 0;
out:
  mem_free(ids);
  tok_destroy(t);
  gguf_close(f);
  buf_free(&in);
  cfg_destroy(c);
  return status;
}
