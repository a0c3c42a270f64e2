/* Scenes (bot/scenario.c, `!scenario`): at most one per channel, with its premise, the personas
 * that play it in turn, and whose turn is next, kept in the store so a scene survives a restart.
 * What was said in a scene is in the messages table like everything else; this is only the scene's
 * own state. Threads: as store.h (one connection per thread). */
#ifndef MIMIC_STORE_SCENARIO_H
#define MIMIC_STORE_SCENARIO_H
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_SCENE_PREMISE_MAX 1500 /* bytes of a premise */
#define STORE_SCENE_CAST_MAX    8    /* personas in one scene */

typedef struct store_scene {
  uint64_t channel_id;
  uint64_t guild_id;
  char premise[STORE_SCENE_PREMISE_MAX + 1];
  int64_t cast[STORE_SCENE_CAST_MAX]; /* persona ids, in speaking order */
  size_t n_cast;                      /* 1..STORE_SCENE_CAST_MAX */
  size_t next;                        /* index in cast of whose turn it is */
  int64_t lines;                      /* lines the cast has spoken */
  uint64_t started_by;                /* the user who started it */
  uint64_t start_message_id;          /* the command that started it: the scene is what follows */
  int64_t started_ms, updated_ms;
} store_scene;

/* Starts (or replaces) the scene of sc->channel_id (next is taken modulo the cast). Errors:
 * MIMIC_EINVAL (no channel, no cast or more than STORE_SCENE_CAST_MAX, a premise empty or over
 * STORE_SCENE_PREMISE_MAX), MIMIC_EDB. */
int store_scene_put(store *s, const store_scene *sc) MIMIC_MUST;
/* The scene of channel_id into out: 0, or MIMIC_ENOTFOUND (no message) when none runs there. */
int store_scene_get(store *s, uint64_t channel_id, store_scene *out) MIMIC_MUST;
/* Records a line spoken by persona_id: lines + 1, and the turn passes to the persona after it in
 * the cast (after the current one when persona_id is not in the cast). Absent is not an error. */
int store_scene_spoke(store *s, uint64_t channel_id, int64_t persona_id, int64_t at_ms) MIMIC_MUST;
/* Ends the scene of channel_id. Absent is not an error. */
int store_scene_end(store *s, uint64_t channel_id) MIMIC_MUST;

#endif
