/* Chat templates: turn a list of {role, name, content} messages into the prompt a chat model was
 * trained on. The one place in mimic that writes a chat format: training, prompting, evaluation
 * and the bot all render through here. mimic does not run Jinja: it recognises the template family
 * from tokenizer.chat_template (or, without one, from the vocabulary's special tokens) and renders
 * it in C, as llama.cpp's built-in fallbacks do. Families: ChatML (Qwen2), Llama-3, Llama-2 and
 * Mistral ([INST]), Gemma (<start_of_turn>), Phi-3 (<|user|>) and a plain "role: text" rendering
 * for vocabularies with none of them.
 *
 * Safety: chat_encode turns the template's own markers into special tokens but encodes every
 * message's text with special-token parsing OFF, so a Discord user who types "<|im_end|>" gets
 * those characters as plain text, never an end of turn. Use chat_encode to build prompts;
 * chat_render's text is for logs, datasets and for backends that take text. Thread-safe (no
 * state). */
#ifndef MIMIC_LLM_CHAT_H
#define MIMIC_LLM_CHAT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "llm/tokenizer.h"

typedef enum {
  CHAT_CHATML = 1,  /* <|im_start|>role\n...<|im_end|>\n */
  CHAT_LLAMA3 = 2,  /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
  CHAT_LLAMA2 = 3,  /* <s>[INST] <<SYS>>\n...\n<</SYS>>\n\nuser [/INST] reply </s> */
  CHAT_MISTRAL = 4, /* [INST] user [/INST]reply</s> (no <<SYS>>: system text opens the turn) */
  CHAT_GEMMA = 5,   /* <start_of_turn>user\n...<end_of_turn>\n, assistant is "model" */
  CHAT_PHI3 = 6,    /* <|user|>\n...<|end|>\n */
  CHAT_PLAIN = 7    /* role: text\n; assistant turns end with the vocabulary's EOS token */
} chat_family;

#define CHAT_MAX_ROLE 32  /* bytes in a role name */
#define CHAT_MAX_NAME 128 /* bytes in a speaker name */

typedef struct chat_msg {
  const char *role;    /* "system", "user" or "assistant" (lowercase letters and '_' only) */
  const char *name;    /* speaker, or NULL; user turns render it as "name: content" */
  const char *content; /* the text, NUL-terminated; may be NULL (empty) */
} chat_msg;

/* Family of a tokenizer.chat_template string, by the markers it writes: "<|im_start|>" -> ChatML,
 * "<|start_header_id|>" -> Llama-3, "<start_of_turn>" -> Gemma, "<|user|>" -> Phi-3, "[INST]" ->
 * Llama-2 when it has "<<SYS>>", else Mistral. NULL or anything else -> CHAT_PLAIN. No logging. */
chat_family chat_detect(const char *tmpl);

/* Does t's vocabulary hold every special token family f needs (plain needs none)? */
bool chat_supported(const tokenizer *t, chat_family f);

/* The family to use with t: its chat_template's family when the vocabulary has that family's
 * tokens; else the first family whose special tokens the vocabulary holds (ChatML, Llama-3, Gemma,
 * Phi-3); else CHAT_PLAIN. Logs the choice and why at info level ("chat template: llama3 (from
 * tokenizer.chat_template)"); *why (may be NULL) gets the reason, a static string. */
chat_family chat_choose(const tokenizer *t, const char **why);

/* The Jinja text of f's template, as Hugging Face and llama.cpp read tokenizer.chat_template, for
 * the vocabularies mimic writes itself (ChatML); NULL for the families it never writes. */
const char *chat_jinja(chat_family f);

/* "chatml", "llama3", "llama2", "mistral", "gemma", "phi3", "plain"; "?" for a bad value. */
const char *chat_family_name(chat_family f);

/* Appends the rendered prompt to out: every message, then the assistant's header when
 * add_generation_prompt (Llama-2/Mistral have none: the user turn's [/INST] is the prompt). The
 * BOS token chat_encode puts first is not written; Llama-3, Gemma and Llama-2 trim each content's
 * surrounding whitespace, as their templates do. Errors: MIMIC_EINVAL (a bad role or name, named
 * in the message), MIMIC_ERANGE (out's cap). */
int chat_render(chat_family f, const chat_msg *msgs, size_t n, bool add_generation_prompt,
                buf *out) MIMIC_MUST;

/* Renders and tokenizes in one go (see the safety note above). For ChatML and Llama-3 the ids equal
 * llama.cpp's for the rendered text tokenized with special tokens parsed and BOS added when the
 * vocabulary asks for it, as long as no message contains special-token text; the other families
 * encode the text before and after each generation point separately, so that a conversation's
 * prompt always tokenizes as a prefix of the whole. *ids: caller frees with mem_free.
 * Errors: as chat_render; MIMIC_EUNSUPPORTED when the vocabulary lacks the family's special tokens
 * (named); MIMIC_ERANGE when the prompt is over TOK_MAX_INPUT bytes. */
int chat_encode(const tokenizer *t, chat_family f, const chat_msg *msgs, size_t n,
                bool add_generation_prompt, int32_t **ids, size_t *n_ids) MIMIC_MUST;

#endif
