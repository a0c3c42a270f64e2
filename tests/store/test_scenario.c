/* Tests for the scenes table (store/scenario.h): a scene put, read back exactly, advanced by the
 * persona that spoke (the turn passes to the one after it), replaced, ended; bad scenes refused
 * with one sentence; a broken cast list refused rather than half-read. */
#include "base/base.h"
#include "store/scenario.h"
#include "store/store.h"
#include "test.h"

static store_scene scene(uint64_t channel) {
  store_scene sc = {.channel_id = channel, .guild_id = 1, .n_cast = 3, .started_by = 9};
  sc.cast[0] = 4;
  sc.cast[1] = 7;
  sc.cast[2] = 2;
  sc.start_message_id = 555;
  sc.started_ms = sc.updated_ms = 1000;
  str_lcpy(sc.premise, "The ship lands in a potato field", sizeof sc.premise);
  return sc;
}

TEST(put_get_spoke_end) {
  store *s = NULL;
  CHECK_OK(store_open(":memory:", &s));
  store_scene sc = scene(100), got;
  CHECK_INT(store_scene_get(s, 100, &got), MIMIC_ENOTFOUND);
  CHECK_OK(store_scene_put(s, &sc));
  CHECK_OK(store_scene_get(s, 100, &got));
  CHECK_INT(got.guild_id, 1);
  CHECK_STR(got.premise, "The ship lands in a potato field");
  CHECK_INT(got.n_cast, 3);
  CHECK_INT(got.cast[0], 4);
  CHECK_INT(got.cast[1], 7);
  CHECK_INT(got.cast[2], 2);
  CHECK_INT(got.next, 0);
  CHECK_INT(got.lines, 0);
  CHECK_INT(got.started_by, 9);
  CHECK_INT(got.start_message_id, 555);
  CHECK_INT(got.started_ms, 1000);
  /* 4 spoke: 7's turn; 2 spoke out of turn: back to 4; someone not in the cast: the next one */
  CHECK_OK(store_scene_spoke(s, 100, 4, 2000));
  CHECK_OK(store_scene_get(s, 100, &got));
  CHECK_INT(got.next, 1);
  CHECK_INT(got.lines, 1);
  CHECK_INT(got.updated_ms, 2000);
  CHECK_OK(store_scene_spoke(s, 100, 2, 3000));
  CHECK_OK(store_scene_get(s, 100, &got));
  CHECK_INT(got.next, 0);
  CHECK_INT(got.lines, 2);
  CHECK_OK(store_scene_spoke(s, 100, 99, 3000));
  CHECK_OK(store_scene_get(s, 100, &got));
  CHECK_INT(got.next, 1);
  /* another channel is untouched; absent is no error */
  CHECK_OK(store_scene_spoke(s, 200, 4, 3000));
  CHECK_INT(store_scene_get(s, 200, &got), MIMIC_ENOTFOUND);
  /* replaced, then ended */
  sc.n_cast = 1;
  str_lcpy(sc.premise, "Another night", sizeof sc.premise);
  CHECK_OK(store_scene_put(s, &sc));
  CHECK_OK(store_scene_get(s, 100, &got));
  CHECK_STR(got.premise, "Another night");
  CHECK_INT(got.n_cast, 1);
  CHECK_INT(got.lines, 0);
  CHECK_OK(store_scene_end(s, 100));
  CHECK_INT(store_scene_get(s, 100, &got), MIMIC_ENOTFOUND);
  CHECK_OK(store_scene_end(s, 100));
  store_close(s);
}

TEST(bad_scenes_are_refused) {
  store *s = NULL;
  CHECK_OK(store_open(":memory:", &s));
  store_scene sc = scene(100), got;
  sc.n_cast = 0;
  CHECK_INT(store_scene_put(s, &sc), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "1 to 8 personas") != NULL);
  sc = scene(100);
  sc.premise[0] = 0;
  CHECK_INT(store_scene_put(s, &sc), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "premise") != NULL);
  sc = scene(0);
  CHECK_INT(store_scene_put(s, &sc), MIMIC_EINVAL);
  sc = scene(100);
  sc.cast[1] = 0;
  CHECK_INT(store_scene_put(s, &sc), MIMIC_EINVAL);
  err_clear();
  /* a row whose cast does not read */
  CHECK_OK(store_exec(s, "INSERT INTO scenes VALUES (300, 1, 'p', '4,x', 0, 0, 9, 1, 1, 1)"));
  CHECK_INT(store_scene_get(s, 300, &got), MIMIC_EDB);
  CHECK(strstr(err_msg(), "broken cast list") != NULL);
  err_clear();
  store_close(s);
}

int main(void) {
  RUN(put_get_spoke_end);
  RUN(bad_scenes_are_refused);
  TEST_MAIN_END();
}
