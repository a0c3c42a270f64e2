/* Tokenizer throughput: MB/s of encoding (and decoding) a generated chat-like corpus with the
 * qwen2-pre-tokenizer BPE vocabulary and the llama SentencePiece vocabulary from ../shared, plus
 * one pathological input (a 100 KB word with no merges to stop at). Run on demand:
 *   cmake --build build --target bench && MIMIC_SHARED=../shared build/bench_tokenizer */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

static const char *const lines[] = {
    "lmaooo that game last night was wild \xf0\x9f\x92\x80\xf0\x9f\x92\x80\n",
    "nah bro u dont get it, the ranked queue is cooked rn\n",
    "<@123456789012345678> u up? we need a 5th for the raid\n",
    "ok but who ate the last slice of pizza \xf0\x9f\x8d\x95 i want names\n",
    "gg ez no re \xf0\x9f\x98\x82\xf0\x9f\x98\x82\n",
    "https://example.com/clips/abc123?t=42 watch this\n",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83"
    "\x88 mixed in, 3.14159 and 1,000,000\n",
    "I'm gonna be honest u're kinda right ngl, shouldn't've doubted\n",
};

static void bench_vocab(const char *shared, const char *name, const buf *corpus) {
  char path[1024];
  snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-%s.gguf", shared, name);
  gguf_file *f = NULL;
  tokenizer *t = NULL;
  uint64_t t0 = clock_mono_ns();
  if (gguf_open(path, &f) || tok_load(f, &t)) {
    printf("%s: %s\n", name, err_msg());
    gguf_close(f);
    return;
  }
  gguf_close(f);
  double load_ms = (double)(clock_mono_ns() - t0) / 1e6;
  int32_t *ids = NULL;
  size_t n = 0;
  int reps = 5;
  t0 = clock_mono_ns();
  for (int r = 0; r < reps; r++) {
    mem_free(ids);
    if (tok_encode(t, corpus->data, corpus->len, false, false, &ids, &n)) {
      printf("%s: %s\n", name, err_msg());
      return;
    }
  }
  double enc_s = (double)(clock_mono_ns() - t0) / 1e9 / reps;
  char *text = NULL;
  size_t len = 0;
  t0 = clock_mono_ns();
  for (int r = 0; r < reps; r++) {
    mem_free(text);
    if (tok_decode_all(t, ids, n, TOK_DEC_STRIP_SPACE, &text, &len)) return;
  }
  double dec_s = (double)(clock_mono_ns() - t0) / 1e9 / reps;
  /* Pathological: one 100 KB word. */
  buf w;
  buf_init(&w, 0);
  for (int i = 0; i < 100000; i++)
    if (buf_putc(&w, (char)('a' + (i * 7) % 26))) return;
  int32_t *wids = NULL;
  size_t wn = 0;
  t0 = clock_mono_ns();
  if (tok_encode(t, w.data, w.len, false, false, &wids, &wn)) return;
  double word_ms = (double)(clock_mono_ns() - t0) / 1e6;
  double mb = (double)corpus->len / 1e6;
  printf(
      "%-20s load %6.1f ms | encode %6.2f MB/s (%zu tokens, %.2f bytes/token) | decode %7.1f MB/s "
      "| 100 KB word %6.1f ms%s\n",
      name, load_ms, mb / enc_s, n, (double)corpus->len / (double)n, mb / dec_s, word_ms,
      len == corpus->len ? "" : " (round trip differs)");
  buf_free(&w);
  mem_free(wids);
  mem_free(ids);
  mem_free(text);
  tok_destroy(t);
}

int main(void) {
  const char *shared = getenv("MIMIC_SHARED");
  if (!shared) shared = "../shared";
  log_set_level(LOG_ERROR);
  buf corpus;
  buf_init(&corpus, 0);
  uint32_t x = 1;
  while (corpus.len < (2u << 20)) {
    x = x * 1103515245u + 12345u;
    if (buf_puts(&corpus, lines[(x >> 16) % (sizeof lines / sizeof lines[0])])) return 1;
  }
  printf("corpus: %.2f MB of chat-like lines\n", (double)corpus.len / 1e6);
  bench_vocab(shared, "gpt-2-pre-qwen2", &corpus);
  bench_vocab(shared, "gpt-2-pre-llama-bpe", &corpus);
  bench_vocab(shared, "llama-spm", &corpus);
  bench_vocab(shared, "bert-bge", &corpus);
  buf_free(&corpus);
  return 0;
}
