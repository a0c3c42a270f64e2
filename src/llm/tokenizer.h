/* The tokenizer: text <-> token ids for the vocabularies stored in GGUF files, producing the same
 * ids as llama.cpp. Three families: byte-level BPE ("gpt2": Qwen2, Llama-3, GPT-2 with their regex
 * pre-tokenizers), SentencePiece-style ("llama": score-ranked merges, byte fallback, the leading
 * space), and WordPiece ("bert", for bge). Plus a streaming decoder that only ever emits complete,
 * valid UTF-8. Not here: chat templates (chat.h) or the model itself.
 *
 * Thread-safety: a tokenizer is immutable after tok_load/tok_new; any number of threads may encode
 * and decode with it at once (each call uses its own scratch memory). A tok_decoder belongs to one
 * thread (one generation stream). */
#ifndef MIMIC_LLM_TOKENIZER_H
#define MIMIC_LLM_TOKENIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct gguf_file gguf_file;
typedef struct tokenizer tokenizer;

#define TOK_NULL            (-1)        /* "no such token" (absent bos/eot, lookups that fail) */
#define TOK_MAX_VOCAB       (1 << 22)   /* tokens in one vocabulary */
#define TOK_MAX_TOKEN_BYTES 4096        /* bytes in one token's text */
#define TOK_MAX_INPUT       (64u << 20) /* bytes of text in one tok_encode call */

/* Vocabulary families (tokenizer.ggml.model). */
typedef enum { TOK_SPM = 1, TOK_BPE = 2, TOK_WPM = 3 } tok_kind;

/* Token types as stored in tokenizer.ggml.token_type. */
typedef enum {
  TOK_T_NORMAL = 1,
  TOK_T_UNKNOWN = 2,
  TOK_T_CONTROL = 3,
  TOK_T_USER_DEFINED = 4,
  TOK_T_UNUSED = 5,
  TOK_T_BYTE = 6
} tok_type;

/* Loads the vocabulary of a GGUF file: tokenizer.ggml.model/pre/tokens/scores/token_type/merges,
 * the bos/eos/eot/eom/unk/sep/padding ids, add_bos_token/add_eos_token/add_space_prefix and
 * tokenizer.chat_template. Everything needed is copied, so f may be closed afterwards.
 * Errors (message names the file and key): MIMIC_ENOTFOUND (no tokenizer.ggml.model/tokens),
 * MIMIC_EUNSUPPORTED (a model other than gpt2/llama/bert, or an unknown tokenizer.ggml.pre, named
 * in the message), MIMIC_EFORMAT (lengths disagree, ids out of range), MIMIC_ERANGE (over the
 * caps). Caller destroys. */
int tok_load(const gguf_file *f, tokenizer **out) MIMIC_MUST;

/* A vocabulary described in memory: what tok_load reads from GGUF. Used by tok_load itself, by
 * tests and by the fuzz target. Call tok_spec_init first: it sets every id to TOK_NULL and every
 * tri-state flag to -1 ("the model's default"). Strings are borrowed during tok_new only. */
typedef struct tok_str {
  const char *ptr; /* not necessarily NUL-terminated */
  size_t len;
} tok_str;

typedef struct tok_spec {
  const char *model;     /* "gpt2", "llama" or "bert" */
  const char *pre;       /* tokenizer.ggml.pre; NULL or "default" = the model's default */
  const char *name;      /* general.name (llama.cpp keys a phi-3 quirk on it); may be NULL */
  const tok_str *tokens; /* n_tokens entries */
  size_t n_tokens;
  const float *scores;   /* NULL = all 0 */
  const int32_t *types;  /* tok_type per token; NULL = all TOK_T_NORMAL */
  const tok_str *merges; /* BPE merges "A B", rank = index; required for gpt2 */
  size_t n_merges;
  int32_t bos, eos, eot, eom, unk, sep, pad; /* TOK_NULL = absent / model default */
  int add_bos, add_eos, add_space_prefix;    /* -1 = model default, else 0/1 */
  int lowercase, strip_accents;              /* WordPiece normalizer; -1 = default (true) */
  const char *chat_template;                 /* may be NULL */
} tok_spec;

void tok_spec_init(tok_spec *s);
/* Builds a tokenizer from spec (copies everything). Errors as tok_load. Caller destroys. */
int tok_new(const tok_spec *spec, tokenizer **out) MIMIC_MUST;
void tok_destroy(tokenizer *t); /* accepts NULL */

/* Encodes text[0..len) (len <= TOK_MAX_INPUT) into *ids (caller frees with mem_free; *ids may be
 * NULL when *n is 0).
 * add_bos: add the framing the vocabulary asks for, as llama.cpp's add_special does: BOS when
 *   add_bos_token is on (llama/SPM, Llama-3; not Qwen2), EOS when add_eos_token is on, and
 *   [CLS] ... [SEP] for WordPiece.
 * parse_special: match control tokens (<|im_start|>, <s>, ...) written in the text. Keep it false
 * for anything a user typed, so nobody can inject <|im_end|>. User-defined tokens of the vocabulary
 *   (added tokens that are not special) are matched either way, as llama.cpp does.
 * Invalid UTF-8 is tolerated: each bad byte is treated as U+FFFD (BPE, WordPiece) or goes through
 * byte fallback (SPM). Errors: MIMIC_ERANGE (len over the cap), MIMIC_ENOMEM. Thread-safe. */
int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
               int32_t **ids, size_t *n) MIMIC_MUST;

/* Vocabulary facts. Ids are TOK_NULL when the vocabulary has none. */
int32_t tok_n_vocab(const tokenizer *t);
tok_kind tok_model(const tokenizer *t);
const char *tok_pre_name(const tokenizer *t); /* pre-tokenizer in use ("qwen2", "gpt-2", ...) */
int32_t tok_bos(const tokenizer *t);          /* [CLS] for WordPiece */
int32_t tok_eos(const tokenizer *t);
int32_t tok_eot(const tokenizer *t); /* end of turn (<|im_end|>, <|eot_id|>), else TOK_NULL */
int32_t tok_unk(const tokenizer *t);
int32_t tok_sep(const tokenizer *t); /* [SEP] for WordPiece */
int32_t tok_pad(const tokenizer *t);
bool tok_adds_bos(const tokenizer *t); /* does add_bos=true prepend a BOS? */
/* End of generation: eos, eot, eom, and every token whose text is one of <|im_end|>, <|eot_id|>,
 * <|endoftext|>, <|end|>, <|eom_id|>, <|end_of_text|>, <end_of_turn>, </s>-as-eos ... */
bool tok_is_eog(const tokenizer *t, int32_t id);
/* Control and unknown tokens (<|im_start|>, <s>, <unk>): the decoder renders them only when asked
 * (TOK_DEC_SPECIAL), and tok_encode matches them in text only with parse_special. */
bool tok_is_control(const tokenizer *t, int32_t id);
tok_type tok_token_type(const tokenizer *t, int32_t id); /* 0 for an id out of range */
/* The token's text exactly as stored in the vocabulary ("Ġhello", "▁hello", "<0x0A>"),
 * NUL-terminated; NULL for an id out of range. Borrowed for the tokenizer's lifetime. */
const char *tok_token_text(const tokenizer *t, int32_t id);
/* The bytes this token stands for when decoded ("Ġhello" -> " hello", "<0x0A>" -> "\n", control
 * tokens -> their text). Not NUL-terminated, may be a partial UTF-8 sequence; NULL for a bad id. */
const char *tok_token_bytes(const tokenizer *t, int32_t id, size_t *len);
/* Exact vocabulary lookup: the id whose text is s[0..len), or TOK_NULL. */
int32_t tok_find(const tokenizer *t, const char *s, size_t len);
/* tokenizer.chat_template, or NULL when the file has none. Borrowed. */
const char *tok_chat_template(const tokenizer *t);

/* ---- Decoding -------------------------------------------------------------------------------- */
enum {
  TOK_DEC_SPECIAL = 1,     /* render control tokens as their text (default: render nothing) */
  TOK_DEC_STRIP_SPACE = 2, /* drop the one leading space an SPM/WordPiece encoder adds to the text
                              (use when decoding a whole encoded text, not a continuation) */
  TOK_DEC_DROP_INVALID = 4 /* drop byte sequences that can never be UTF-8 instead of writing U+FFFD
                              for them: for generated text, where a byte-level model's stray bytes
                              are noise, not data a reader should see as a replacement character */
};

/* Streaming detokenizer: feed ids one at a time, get text as soon as it is complete UTF-8. Bytes of
 * a character split across tokens are held back until the character completes; sequences that can
 * never complete are replaced by U+FFFD (or dropped, with TOK_DEC_DROP_INVALID), so what comes out
 * is always valid UTF-8. Plain struct:
 * keep it on the stack, no cleanup needed. */
typedef struct tok_decoder {
  const tokenizer *tok;
  unsigned flags;
  bool started;          /* a non-empty piece was seen (for TOK_DEC_STRIP_SPACE) */
  unsigned char pend[4]; /* held-back bytes of an incomplete character */
  uint8_t npend, need;   /* bytes held, bytes the character needs in all */
} tok_decoder;

/* t may be NULL for a byte-level decoder (tok_decoder_push_bytes only). */
void tok_decoder_init(tok_decoder *d, const tokenizer *t, unsigned flags);
/* Appends the text that id completes to out. Errors: MIMIC_EINVAL (id out of range; nothing
 * appended), MIMIC_ERANGE (out's cap reached). */
int tok_decoder_push(tok_decoder *d, int32_t id, buf *out) MIMIC_MUST;
/* The same over raw bytes, for text that arrives as bytes rather than ids: the pieces of generated
 * tokens (llm_lm.piece in the engine) and whatever feeds a stop-string stream (stop.h). Every path
 * that turns generated tokens into text goes through here, so none can emit half a character.
 * Errors: MIMIC_ERANGE (out's cap reached). */
int tok_decoder_push_bytes(tok_decoder *d, const char *bytes, size_t n, buf *out) MIMIC_MUST;
/* Bytes of an incomplete character held back (0 to 3). */
size_t tok_decoder_pending(const tok_decoder *d);
/* End of a generation: forgets the held-back bytes of an incomplete character (the generation
 * stopped inside it, so it can never complete; a reply is better without a U+FFFD for it).
 * Returns how many bytes were dropped. */
size_t tok_decoder_drop(tok_decoder *d);
/* End of a whole text (tok_decode_all): a held-back incomplete character becomes U+FFFD. */
int tok_decoder_flush(tok_decoder *d, buf *out) MIMIC_MUST;
/* Decodes ids[0..n) at once; *text is NUL-terminated, caller frees with mem_free. */
int tok_decode_all(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                   size_t *len) MIMIC_MUST;

#endif
