/* Chat templates: turn a list of {role, name, content} messages into the prompt a chat model was
 * trained on. mimic does not run Jinja: it recognises the template family from
 * tokenizer.chat_template (ChatML for Qwen2, Llama-3's header format) and renders it in C, exactly
 * as llama.cpp's built-in fallbacks do.
 *
 * Safety: chat_encode turns the template's own markers into special tokens but encodes every
 * message's text with special-token parsing OFF, so a Discord user who types "<|im_end|>" gets
 * those characters as plain text, never an end of turn. Use chat_encode to build prompts;
 * chat_render's text is for logs and for backends that take text. Thread-safe (no state). */
#ifndef MIMIC_LLM_CHAT_H
#define MIMIC_LLM_CHAT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "llm/tokenizer.h"

typedef enum { CHAT_CHATML = 1, CHAT_LLAMA3 = 2 } chat_family;

#define CHAT_MAX_ROLE 32  /* bytes in a role name */
#define CHAT_MAX_NAME 128 /* bytes in a speaker name */

typedef struct chat_msg {
  const char *role;    /* "system", "user" or "assistant" (lowercase letters and '_' only) */
  const char *name;    /* speaker, or NULL; user turns render it as "name: content" */
  const char *content; /* the text, NUL-terminated; may be NULL (empty) */
} chat_msg;

/* Family of a tokenizer.chat_template: "<|im_start|>" -> ChatML; "<|start_header_id|>" -> Llama-3.
 * NULL or anything else -> ChatML, with a warning in the log. */
chat_family chat_detect(const char *tmpl);
const char *chat_family_name(chat_family f); /* "chatml", "llama3" */

/* Appends the rendered prompt to out: every message, then the assistant's header when
 * add_generation_prompt. Llama-3 trims each content's surrounding whitespace, as its template does.
 * Errors: MIMIC_EINVAL (a bad role or name, named in the message), MIMIC_ERANGE (out's cap). */
int chat_render(chat_family f, const chat_msg *msgs, size_t n, bool add_generation_prompt,
                buf *out) MIMIC_MUST;

/* Renders and tokenizes in one go (see the safety note above): the ids equal llama.cpp's for the
 * rendered text tokenized with special tokens parsed and BOS added when the vocabulary asks for it,
 * as long as no message contains special-token text. *ids: caller frees with mem_free.
 * Errors: as chat_render; MIMIC_EUNSUPPORTED when the vocabulary lacks the family's special tokens;
 * MIMIC_ERANGE when the prompt is over TOK_MAX_INPUT bytes. */
int chat_encode(const tokenizer *t, chat_family f, const chat_msg *msgs, size_t n,
                bool add_generation_prompt, int32_t **ids, size_t *n_ids) MIMIC_MUST;

#endif
