/* Who answers, among the personas: a pure decision over a compiled snapshot of the personas and
 * the facts of one message, so it is reproducible in tests and measurable in bench/. No I/O, no
 * store, no clock: the caller passes the time, the random generator, the message's embedding (or
 * none) and a callback telling when each persona last spoke. Whether the bot user (the default
 * persona) answers when no persona does is router.h's decision.
 *
 * The order, first stage first (a stage only adds personas not already chosen, until max_answer
 * are chosen):
 *   1. a reply to a persona's message        -> that persona
 *   2. a persona's name or alias addressed   -> it ("Glordon, ...", "@Glordon", "hey glordon",
 *      "... , glordon?"; a name merely mentioned mid-sentence does not count)
 *   3. the persona chosen in a DM            -> it
 *   4. keyword triggers (whole words, ASCII case ignored), then regex triggers (PCRE2, compiled
 *      once per snapshot)
 *   5. relevance: cosine similarity of the message's vector with each persona's vector above the
 *      threshold, best first (skipped when either side has no vector)
 *   6. freewill: a roll per persona in [0,1) below its freewill; more winners than places go to
 *      the quietest (who spoke longest ago)
 * In DMs only stages 1-3 apply. A persona never answers its own message, and only speaks in its
 * channels (a thread counts as its parent). Not thread-safe: one snapshot per thread, or a lock. */
#ifndef MIMIC_BOT_PERSONA_ROUTE_H
#define MIMIC_BOT_PERSONA_ROUTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

/* One persona as the router sees it; every pointer is borrowed for proute_set_new (copied). */
typedef struct proute_persona {
  int64_t id; /* > 0 */
  const char *name;
  const char *const *aliases;
  size_t n_aliases;
  const char *const *keywords;
  size_t n_keywords;
  const char *const *regexes; /* a pattern that does not compile is left out (logged once) */
  size_t n_regexes;
  const uint64_t *channels; /* where it may speak; n_channels 0: everywhere */
  size_t n_channels;
  double freewill;  /* 0..1 */
  const float *vec; /* its description and lore, embedded (dim floats); NULL: none */
} proute_persona;

typedef struct proute_set proute_set;

/* Compiles a snapshot of n personas with vectors of dim floats (0: no vectors). Never fails for
 * bad patterns (they are skipped); errors: MIMIC_EINVAL (an id <= 0 or a persona without a name).
 * *out: free with proute_set_destroy. */
int proute_set_new(const proute_persona *p, size_t n, int dim, proute_set **out) MIMIC_MUST;
void proute_set_destroy(proute_set *s); /* accepts NULL */
size_t proute_set_count(const proute_set *s);
int proute_set_dim(const proute_set *s);
/* The persona whose name or alias is name (ASCII case ignored): its id, or 0. */
int64_t proute_set_find(const proute_set *s, const char *name);
/* The name of persona id (borrowed from the set), or NULL. */
const char *proute_set_name(const proute_set *s, int64_t id);
/* Patterns left out because they did not compile. */
size_t proute_set_bad_patterns(const proute_set *s);

typedef enum proute_why {
  PROUTE_NONE = 0,
  PROUTE_REPLY,     /* a reply to its message */
  PROUTE_NAME,      /* addressed by name or alias */
  PROUTE_DM,        /* chosen in this DM */
  PROUTE_KEYWORD,   /* a keyword trigger */
  PROUTE_REGEX,     /* a regex trigger */
  PROUTE_RELEVANCE, /* the message is about what it knows */
  PROUTE_FREEWILL,  /* its freewill roll */
  PROUTE_SCENE      /* its turn in a scene (bot/scenario.c; never a routing decision) */
} proute_why;

/* "reply", "name", "dm", "keyword", "regex", "relevance", "freewill", "scene" ("none"). */
const char *proute_why_name(proute_why w);
/* Stages 1-3 are addressed: such an answer is never dropped for load. */
static inline bool proute_is_addressed(proute_why w) {
  return w == PROUTE_REPLY || w == PROUTE_NAME || w == PROUTE_DM;
}

typedef struct proute_msg {
  uint64_t channel_id, parent_id; /* parent_id: a thread's parent channel, else 0 */
  bool is_dm;
  const char *content;
  int64_t reply_to_persona;     /* the persona whose message this replies to; 0: none */
  int64_t dm_choice;            /* the persona chosen in this DM; 0: none */
  int64_t author_persona;       /* the persona that wrote this message; 0: a person or a bot */
  bool triggers_only_addressed; /* only stages 1-3 (a persona's or another bot's message) */
  const float *vec;             /* the message with its recent context, embedded; NULL: none */
  /* Or computed only when stage 5 is reached (an encoder run is costly): returns the vector
   * (borrowed, dim floats) or NULL; used when vec is NULL. NULL: none. */
  const float *(*vec_fn)(void *vec_user);
  void *vec_user;
  double relevance_threshold;
  int max_answer; /* most personas answering (>= 1) */
  /* When persona id last spoke in this channel (ms, any clock; smaller is quieter); NULL: all
   * equal. */
  int64_t (*last_spoke)(void *user, int64_t id);
  void *user;
} proute_msg;

typedef struct proute_pick {
  int64_t id;
  proute_why why;
  double score; /* relevance: the cosine; freewill: the roll; else 1 */
} proute_pick;

/* Decides who answers m: fills out with up to min(cap, m->max_answer) picks, in order, and returns
 * how many (0: no persona; the bot user's router decides). rng is drawn from only in stage 6. */
size_t proute_decide(const proute_set *s, const proute_msg *m, prng *rng, proute_pick *out,
                     size_t cap);

/* Whether the text addresses name (the rules of stage 2), ASCII case ignored. For tests and the
 * admin's help. */
bool proute_addressed(const char *text, const char *name);

#endif
