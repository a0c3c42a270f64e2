/* `mimic tokenize`: prints the token ids a model's vocabulary gives for a text, one line, separated
 * by single spaces (no BOS/EOS, special tokens not parsed: the convention of the reference .out
 * files), so mimic's tokenizer can be compared with llama.cpp's by hand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

static const char usage[] =
    "usage: mimic tokenize --model M.gguf (--text T | --file F) [--parse-special] [--bos]\n"
    "  --text T          the text to tokenize\n"
    "  --file F          read the text from a file ('-' for standard input)\n"
    "  --parse-special   match control tokens written in the text (<|im_start|>, <s>, ...)\n"
    "  --bos             add the framing the vocabulary asks for (BOS, [CLS]/[SEP], EOS)";

/* Reads all of fp into a capped buffer. */
static int read_all(FILE *fp, const char *name, buf *b) {
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    if (buf_append(b, chunk, n)) return err_prefix(MIMIC_ERANGE, "%s", name);
  if (ferror(fp)) return err_set(MIMIC_EIO, "%s: read error", name);
  return 0;
}

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
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  for (int i = 1; i < argc; i++) {
    bool has_val = i + 1 < argc;
    if (strcmp(argv[i], "--model") == 0 && has_val)
      model = argv[++i];
    else if (strcmp(argv[i], "--text") == 0 && has_val)
      text = argv[++i];
    else if (strcmp(argv[i], "--file") == 0 && has_val)
      file = argv[++i];
    else if (strcmp(argv[i], "--parse-special") == 0)
      parse_special = true;
    else if (strcmp(argv[i], "--bos") == 0)
      add_bos = true;
    else {
      cli_error("tokenize: unexpected argument '%s'\n%s", argv[i], usage);
      status = 2;
      goto out;
    }
  }
  if (!model || (!text) == (!file)) {
    cli_error("tokenize: needs --model and one of --text or --file\n%s", usage);
    status = 2;
    goto out;
  }
  if (file) {
    FILE *fp = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!fp) {
      cli_error("tokenize: cannot open %s", file);
      goto out;
    }
    int rc = read_all(fp, file, &in);
    if (fp != stdin) fclose(fp);
    if (rc) {
      cli_error("tokenize: %s (the cap is %u bytes)", err_msg(), TOK_MAX_INPUT);
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
