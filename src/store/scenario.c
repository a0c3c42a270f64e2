/* The scenes table (store/scenario.h): one row per channel with a scene running. The cast is kept
 * as a comma-separated list of persona ids, read back strictly (a row that does not parse is
 * refused, never half-read). Not here: who may start a scene or what the personas say
 * (bot/scenario.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "store/scenario.h"
#include "store/store_int.h"

static int check(const store_scene *sc) {
  if (!sc || !sc->channel_id) return err_set(MIMIC_EINVAL, "a scene needs a channel");
  if (sc->n_cast == 0 || sc->n_cast > STORE_SCENE_CAST_MAX)
    return err_set(MIMIC_EINVAL, "a scene needs 1 to %d personas", STORE_SCENE_CAST_MAX);
  size_t n = strnlen(sc->premise, sizeof sc->premise);
  if (n == 0 || n > STORE_SCENE_PREMISE_MAX)
    return err_set(MIMIC_EINVAL, "a scene needs a premise of 1 to %d bytes",
                   STORE_SCENE_PREMISE_MAX);
  for (size_t i = 0; i < sc->n_cast; i++)
    if (sc->cast[i] <= 0) return err_set(MIMIC_EINVAL, "a scene's cast holds persona ids");
  return 0;
}

int store_scene_put(store *s, const store_scene *sc) {
  int rc = check(sc);
  if (rc) return rc;
  char cast[STORE_SCENE_CAST_MAX * 21 + 1];
  size_t at = 0;
  for (size_t i = 0; i < sc->n_cast; i++)
    at += (size_t)snprintf(cast + at, sizeof cast - at, "%s%" PRId64, i ? "," : "", sc->cast[i]);
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "INSERT OR REPLACE INTO scenes(channel_id, guild_id, premise, cast_ids, next_idx, lines, "
          "started_by, start_message_id, started_ms, updated_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
          &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)sc->channel_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)sc->guild_id);
  store__bind_text(st, 3, sc->premise);
  store__bind_text(st, 4, cast);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)(sc->next % sc->n_cast));
  sqlite3_bind_int64(st, 6, sc->lines);
  sqlite3_bind_int64(st, 7, (sqlite3_int64)sc->started_by);
  sqlite3_bind_int64(st, 8, (sqlite3_int64)sc->start_message_id);
  sqlite3_bind_int64(st, 9, sc->started_ms);
  sqlite3_bind_int64(st, 10, sc->updated_ms);
  return store__step_done(s, st, "saving a scene");
}

/* "3,5,12" into ids; false when it is not such a list. */
static bool parse_cast(const char *p, store_scene *out) {
  out->n_cast = 0;
  while (*p) {
    if (out->n_cast == STORE_SCENE_CAST_MAX) return false;
    char num[24];
    size_t n = 0;
    while (*p && *p != ',' && n < sizeof num - 1) num[n++] = *p++;
    num[n] = 0;
    int64_t id;
    if (str_to_i64(num, &id) || id <= 0) {
      err_clear();
      return false;
    }
    out->cast[out->n_cast++] = id;
    if (*p == ',') p++;
  }
  return out->n_cast > 0;
}

int store_scene_get(store *s, uint64_t channel_id, store_scene *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "SELECT guild_id, premise, cast_ids, next_idx, lines, started_by, start_message_id, "
          "started_ms, updated_ms FROM scenes WHERE channel_id = ?1",
          &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)channel_id);
  int step = sqlite3_step(st);
  int rc = 0;
  if (step == SQLITE_ROW) {
    out->channel_id = channel_id;
    out->guild_id = store__col_id(st, 0);
    store__col_copy(st, 1, out->premise, sizeof out->premise);
    if (!parse_cast(store__col_text(st, 2), out))
      rc =
          err_set(MIMIC_EDB, "the scene of channel %" PRIu64 " has a broken cast list", channel_id);
    int64_t next = sqlite3_column_int64(st, 3);
    out->next = next > 0 && out->n_cast ? (size_t)next % out->n_cast : 0;
    out->lines = sqlite3_column_int64(st, 4);
    out->started_by = store__col_id(st, 5);
    out->start_message_id = store__col_id(st, 6);
    out->started_ms = sqlite3_column_int64(st, 7);
    out->updated_ms = sqlite3_column_int64(st, 8);
  } else if (step == SQLITE_DONE) {
    rc = MIMIC_ENOTFOUND;
  } else {
    rc = store_err(s, "reading a scene");
  }
  sqlite3_reset(st);
  return rc;
}

int store_scene_spoke(store *s, uint64_t channel_id, int64_t persona_id, int64_t at_ms) {
  store_scene sc;
  int rc = store_scene_get(s, channel_id, &sc);
  if (rc == MIMIC_ENOTFOUND) return 0;
  if (rc) return rc;
  size_t next = (sc.next + 1) % sc.n_cast;
  for (size_t i = 0; i < sc.n_cast; i++)
    if (sc.cast[i] == persona_id) next = (i + 1) % sc.n_cast;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE scenes SET lines = lines + 1, next_idx = ?2, updated_ms = ?3 "
                 "WHERE channel_id = ?1",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)channel_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)next);
  sqlite3_bind_int64(st, 3, at_ms);
  return store__step_done(s, st, "advancing a scene");
}

int store_scene_end(store *s, uint64_t channel_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM scenes WHERE channel_id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)channel_id);
  return store__step_done(s, st, "ending a scene");
}
