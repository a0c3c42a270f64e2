/* Prompt building: turns channel memory into the chat messages of one generation request — the
 * system prompt, the recent messages as turns with speaker names (the persona's own messages are
 * assistant turns, everyone else's user turns carrying `name`), and the message being answered
 * last — within a token budget, dropping the oldest context first. The engine renders the chat
 * template. Not here: which messages are remembered (memory.h) or whether to answer (router.h). */
#ifndef MIMIC_BOT_CONTEXT_H
#define MIMIC_BOT_CONTEXT_H
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "bot/memory.h"
#include "llm/backend.h"

#define CONTEXT_STOPS_MAX 8 /* "\nName:" stop strings, one per recent speaker */

/* Counts the tokens of a text; used for the budget. */
typedef int (*context_count_fn)(void *user, const char *text, size_t n);

typedef struct context_opts {
  const char *system_prompt; /* NULL or "" = no system turn */
  int max_messages;          /* most history turns (the current message not counted) */
  int budget_tokens;         /* most prompt tokens for everything together (>= 16) */
  context_count_fn count;    /* NULL = context_estimate_tokens */
  void *count_user;
  /* Background knowledge (World Info, lore, recalled messages; bot/knowledge.c), or NULL. It joins
   * the system turn after the system prompt, and is left out whole when it does not fit beside the
   * system prompt and the current message (history comes after it in priority). */
  const char *background;
} context_opts;

/* A built prompt. Owns every string it points to. */
typedef struct context {
  llm_message *msgs;
  size_t n;
  const char *stops[CONTEXT_STOPS_MAX]; /* "\nName:" for the speakers in the prompt */
  size_t n_stops;
  int tokens;              /* counted (or estimated) prompt tokens, template overhead included */
  size_t dropped;          /* history turns left out for the budget or max_messages */
  bool truncated;          /* the current message itself was cut to fit */
  bool background_dropped; /* the background did not fit and was left out */
  char **owned_;           /* private */
  size_t n_owned_;
} context;

/* A tokenizer-free estimate that errs high for chat text: one token per 3 bytes, rounded up (BPE
 * vocabularies average ~4 bytes per token on English, fewer on other scripts and emoji). */
int context_estimate_tokens(const char *text, size_t n);
/* Tokens a turn costs on top of its text (role header, end marker, "name: "). */
#define CONTEXT_TURN_OVERHEAD 5

/* Builds the prompt: hist (oldest first, borrowed) are the context turns; current is the message
 * answered (its id, when in hist, is not repeated). Everything is copied into out. Errors:
 * MIMIC_EINVAL when current is NULL or the budget is smaller than 16 tokens. out is zeroed first;
 * free it with context_free. */
int context_build(const context_opts *o, const memory_entry *const *hist, size_t n_hist,
                  const memory_entry *current, context *out) MIMIC_MUST;
void context_free(context *c); /* accepts a zeroed context */

#endif
