/* Fuzz target for the tokenizer: any byte string, encoded with or without special-token parsing and
 * framing, must give in-range ids whose decoding is valid UTF-8; valid UTF-8 without special tokens
 * must round-trip exactly through byte-level BPE. Uses the qwen2-pre-tokenizer GPT-2 vocabulary
 * from
 * ../shared when present, else a small vocabulary written with gguf_writer and read back. The first
 * input byte picks the options. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer *tok;

static tokenizer *from_file(const char *path) {
  gguf_file *f = NULL;
  tokenizer *t = NULL;
  if (gguf_open(path, &f) == 0 && tok_load(f, &t) != 0) t = NULL;
  gguf_close(f);
  return t;
}

/* GPT-2's byte -> printable code point map, from its definition. */
static void byte_char(int b, char out[3]) {
  int k = 0;
  uint32_t cp = 0;
  for (int i = 0; i <= b; i++) {
    int printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE;
    cp = printable ? (uint32_t)i : 0x100u + (uint32_t)k++;
  }
  char tmp[4];
  int n = utf8_encode(cp, tmp);
  memcpy(out, tmp, (size_t)n);
  out[n] = 0;
}

static tokenizer *tiny_vocab(void) {
  static char chars[256][3];
  const char *toks[256 + 8];
  int32_t types[256 + 8];
  const char *merges[] = {"\xc4\xa0 t", "h e",           "\xc4\xa0t he", "l o",
                          "lo l",       "\xf0\x9f \x92", "i n"};
  const char *merged[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "lo", "lol", "\xf0\x9f\x92", "in"};
  size_t n = 0;
  for (int b = 0; b < 256; b++) {
    byte_char(b, chars[b]);
    types[n] = TOK_T_NORMAL;
    toks[n++] = chars[b];
  }
  for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
    types[n] = TOK_T_NORMAL;
    toks[n++] = merged[i];
  }
  types[n] = TOK_T_CONTROL;
  toks[n++] = "<|im_start|>";
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "qwen2");
  gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
  gguf_set_str(w, "tokenizer.ggml.pre", "qwen2");
  gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
  gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, n);
  gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, sizeof merges / sizeof merges[0]);
  char path[] = "/tmp/mimic-fuzz-tok-XXXXXX";
  int fd = mkstemp(path);
  tokenizer *t = NULL;
  if (fd >= 0) {
    close(fd);
    if (gguf_writer_save(w, path) == 0) t = from_file(path);
    unlink(path);
  }
  gguf_writer_destroy(w);
  return t;
}

static void init(void) {
  char path[1024];
  const char *rel = "testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf";
  const char *env = getenv("MIMIC_SHARED");
  if (env) {
    snprintf(path, sizeof path, "%s/%s", env, rel);
    tok = from_file(path);
  }
  if (!tok) { /* the source tree's sibling ../shared, found from this file's path */
    const char *src = __FILE__;
    const char *cut = strstr(src, "/tests/fuzz/");
    if (cut) {
      snprintf(path, sizeof path, "%.*s/../shared/%s", (int)(cut - src), src, rel);
      if (access(path, R_OK) == 0) tok = from_file(path);
    }
  }
  if (!tok) tok = tiny_vocab();
  if (!tok) {
    fprintf(stderr, "fuzz_tokenizer: no vocabulary: %s\n", err_msg());
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!tok) init();
  if (size == 0) return 0;
  bool parse_special = data[0] & 1, add_bos = data[0] & 2;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  int32_t *ids = NULL;
  size_t n = 0;
  if (tok_encode(tok, text, len, add_bos, parse_special, &ids, &n) != 0) abort();
  if (len > 0 && n == 0) abort();
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= tok_n_vocab(tok)) abort();
  /* Streaming: the output must be valid UTF-8 after every token. */
  tok_decoder d;
  tok_decoder_init(&d, tok, parse_special ? TOK_DEC_SPECIAL : 0);
  buf out;
  buf_init(&out, 0);
  for (size_t i = 0; i < n; i++) {
    if (tok_decoder_push(&d, ids[i], &out) != 0) abort();
    if (!utf8_valid(out.data ? out.data : "", out.len)) abort();
  }
  if (tok_decoder_flush(&d, &out) != 0 || !utf8_valid(out.data ? out.data : "", out.len)) abort();
  if (!parse_special && utf8_valid(text, len) &&
      (out.len != len || (len && memcmp(out.data, text, len) != 0)))
    abort();
  buf_free(&out);
  mem_free(ids);
  return 0;
}
