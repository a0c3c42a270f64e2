/* The built-in byte-level vocabulary of from-scratch models: GPT-2-style byte-level BPE ("gpt2",
 * pre-tokenizer "qwen2") with the 256 byte tokens, a short fixed list of merges for frequent
 * English pairs (the format requires at least one merge; a few also shorten sequences), and the
 * ChatML specials <|endoftext|>, <|im_start|>, <|im_end|>. Any text encodes (every byte has a
 * token), so nothing a user writes is ever out of vocabulary. Written into the exported GGUF with a
 * ChatML chat_template, so mimic's tokenizer and llama.cpp load it like any Qwen2-style vocabulary.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/utf8.h"
#include "llm/chat.h"
#include "llm/gguf.h"
#include "train/train_int.h"

/* Merges in rank order, written with GPT-2's byte symbols ("Ġ" is the space). */
static const char *const merges[] = {
    "Ġ t", "h e",   "Ġ a",  "i n",  "e r", "o n", "Ġ s",   "r e",  "Ġ w", "o u", "a n", "Ġ b",
    "Ġ i", "Ġ m",   "Ġ c",  "Ġ o",  "Ġ h", "Ġ f", "Ġ d",   "Ġ l",  "Ġ y", "Ġ n", "Ġ g", "Ġ p",
    "i s", "i t",   "a t",  "o r",  "e s", "e n", "Ġt he", "in g", "l l", "o o", "Ġ I", "a r",
    "l o", "Ġy ou", "Ġa n", "Ġ th", "e d", "Ġ e", "Ġ u",   "a l",  "o w"};
#define N_MERGES (sizeof merges / sizeof merges[0])

static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
#define N_SPECIALS 3

struct train_vocab {
  char *text[256 + N_MERGES + N_SPECIALS];
  int32_t types[256 + N_MERGES + N_SPECIALS];
  int n;
};

int train__vocab_size(void) { return 256 + (int)N_MERGES + N_SPECIALS; }

static void vocab_build(struct train_vocab *v) {
  int k = 0;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = printable ? (uint32_t)b : 0x100u + (uint32_t)k++;
    char tmp[5] = {0};
    int n = utf8_encode(cp, tmp);
    v->text[b] = mem_strndup(tmp, (size_t)n);
    v->types[b] = 1;
  }
  int n = 256;
  for (size_t i = 0; i < N_MERGES; i++) {
    const char *sp = strchr(merges[i] + 1, ' ');
    size_t a = (size_t)(sp - merges[i]);
    char *t = xalloc(strlen(merges[i]));
    memcpy(t, merges[i], a);
    memcpy(t + a, sp + 1, strlen(sp + 1) + 1);
    v->text[n] = t;
    v->types[n++] = 1;
  }
  for (int i = 0; i < N_SPECIALS; i++) {
    v->text[n] = xstrdup(specials[i]);
    v->types[n++] = 3; /* CONTROL */
  }
  v->n = n;
}

static void vocab_free(struct train_vocab *v) {
  for (int i = 0; i < v->n; i++) mem_free(v->text[i]);
}

int train__vocab_builtin(tokenizer **out) {
  struct train_vocab v;
  vocab_build(&v);
  tok_str toks[256 + N_MERGES + N_SPECIALS], mr[N_MERGES];
  for (int i = 0; i < v.n; i++) toks[i] = (tok_str){v.text[i], strlen(v.text[i])};
  for (size_t i = 0; i < N_MERGES; i++) mr[i] = (tok_str){merges[i], strlen(merges[i])};
  tok_spec sp;
  tok_spec_init(&sp);
  sp.model = "gpt2";
  sp.pre = "qwen2";
  sp.name = "mimic byte-level";
  sp.tokens = toks;
  sp.n_tokens = (size_t)v.n;
  sp.types = v.types;
  sp.merges = mr;
  sp.n_merges = N_MERGES;
  sp.bos = 256 + (int32_t)N_MERGES;     /* <|endoftext|> */
  sp.eos = 256 + (int32_t)N_MERGES + 2; /* <|im_end|> */
  sp.pad = 256 + (int32_t)N_MERGES;
  sp.add_bos = 0;
  sp.chat_template = chat_jinja(CHAT_CHATML);
  int rc = tok_new(&sp, out);
  vocab_free(&v);
  return rc;
}

void train__vocab_write(gguf_writer *w) {
  struct train_vocab v;
  vocab_build(&v);
  gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
  gguf_set_str(w, "tokenizer.ggml.pre", "qwen2");
  gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.text, (uint64_t)v.n);
  gguf_set_arr_i32(w, "tokenizer.ggml.token_type", v.types, (uint64_t)v.n);
  gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, N_MERGES);
  gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 256 + (uint32_t)N_MERGES);
  gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 256 + (uint32_t)N_MERGES + 2);
  gguf_set_u32(w, "tokenizer.ggml.padding_token_id", 256 + (uint32_t)N_MERGES);
  gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false);
  gguf_set_str(w, "tokenizer.chat_template", chat_jinja(CHAT_CHATML));
  vocab_free(&v);
}
