/* The text side of a generation: token bytes go in, UTF-8-complete text comes out, and stop strings
 * are matched on the detokenized stream, across token boundaries. Text that might be the start of a
 * stop string is held back until it is known not to be, so a stop string (or part of one) is never
 * emitted. Byte-level tokens can split a character: the bytes go through the tokenizer's streaming
 * decoder (tokenizer.h), which holds incomplete sequences back and replaces bytes that can never
 * form a character by U+FFFD, so what is emitted is always valid UTF-8. Not here: token ids
 * (sampler.h). */
#ifndef MIMIC_LLM_STOP_H
#define MIMIC_LLM_STOP_H
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "llm/tokenizer.h"

#define LLM_STOP_MAX     16         /* stop strings per request */
#define LLM_STOP_MAX_LEN 256        /* bytes per stop string */
#define LLM_TEXT_MAX     (1u << 22) /* bytes of generated text kept per request (4 MiB) */

/* Receives each newly safe piece (valid UTF-8, n > 0, not NUL-terminated). Returning nonzero asks
 * the generation to stop (cancelled by the consumer). */
typedef int (*llm_emit_fn)(void *user, const char *text, size_t n);

typedef struct llm_stop {
  char *stops[LLM_STOP_MAX]; /* owned copies */
  size_t stop_len[LLM_STOP_MAX];
  size_t n_stops;
  tok_decoder dec; /* byte-level: holds an incomplete character back */
  buf pending;     /* held back: a possible stop-string prefix (complete characters) */
  buf text;        /* everything emitted so far (capped at LLM_TEXT_MAX) */
  int state;       /* 0 going on, 1 a stop string matched, < 0 the error that ended it */
} llm_stop;

/* Copies the stop strings (NULL and empty ones are ignored). MIMIC_ERANGE when there are more than
 * LLM_STOP_MAX or one is longer than LLM_STOP_MAX_LEN, MIMIC_EINVAL when one is not valid UTF-8,
 * MIMIC_ENOMEM. On failure s needs no llm_stop_free (calling it is harmless). */
int llm_stop_init(llm_stop *s, const char *const *stops, size_t n_stops) MIMIC_MUST;
void llm_stop_free(llm_stop *s);

/* Feeds the bytes of one token. Calls emit for the text that became safe. Returns 1 when a stop
 * string matched (the text before it was emitted; the stop string and anything after it never
 * are), 0 to go on, MIMIC_ECANCELLED when emit returned nonzero, MIMIC_ERANGE when the text passed
 * LLM_TEXT_MAX. After 1 or an error, further feeds do nothing and return the same kind of value. */
int llm_stop_feed(llm_stop *s, const char *bytes, size_t n, llm_emit_fn emit,
                  void *user) MIMIC_MUST;
/* The generation ended for another reason (end-of-generation token, length, cancel): emits the
 * held-back text; the bytes of a character the generation stopped inside are dropped. Returns 0
 * or as llm_stop_feed. */
int llm_stop_finish(llm_stop *s, llm_emit_fn emit, void *user) MIMIC_MUST;

/* Everything emitted so far (NUL-terminated, borrowed; "" when nothing). */
const char *llm_stop_text(const llm_stop *s, size_t *len);

#endif
