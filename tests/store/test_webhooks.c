/* Persona webhooks, persona message records and DM choices in the store (store/webhooks.h). */
#include <string.h>

#include "base/base.h"
#include "store/webhooks.h"
#include "test.h"

static store *open_mem(void) {
  store *s = NULL;
  if (store_open(":memory:", &s)) return NULL;
  return s;
}

typedef struct walk {
  int n;
  store_hook last;
} walk;

static int count(const store_hook *h, void *user) {
  walk *w = user;
  w->n++;
  w->last = *h;
  return 0;
}

TEST(webhooks_are_saved_moved_used_and_forgotten) {
  store *s = open_mem();
  REQUIRE(s);
  store_hook h = {.channel_id = 11, .webhook_id = 500, .uses = 0, .last_used_ms = 1};
  str_lcpy(h.token, "secret-token-abc", sizeof h.token);
  CHECK_OK(store_hook_put(s, &h));
  CHECK(store_hook_is_ours(s, 500));
  CHECK(!store_hook_is_ours(s, 501));
  /* the same key again: replaced, not doubled */
  h.webhook_id = 501;
  CHECK_OK(store_hook_put(s, &h));
  CHECK(!store_hook_is_ours(s, 500));
  /* an avatar webhook beside it */
  store_hook a = h;
  a.webhook_id = 502;
  str_lcpy(a.key, "0123abcd", sizeof a.key);
  CHECK_OK(store_hook_put(s, &a));
  CHECK_OK(store_hook_used(s, 502, 7, 99));
  walk w = {0};
  CHECK_OK(store_hook_each(s, count, &w));
  CHECK_INT(w.n, 2);
  CHECK_STR(w.last.key, "0123abcd");
  CHECK_INT(w.last.uses, 7);
  CHECK_INT(w.last.last_used_ms, 99);
  CHECK_STR(w.last.token, "secret-token-abc");
  CHECK_OK(store_hook_delete(s, 502));
  CHECK_OK(store_hook_delete(s, 502));
  memset(&w, 0, sizeof w);
  CHECK_OK(store_hook_each(s, count, &w));
  CHECK_INT(w.n, 1);
  store_hook bad = {.channel_id = 11};
  CHECK_INT(store_hook_put(s, &bad), MIMIC_EINVAL);
  store_close(s);
}

TEST(persona_messages_and_dm_choices) {
  store *s = open_mem();
  REQUIRE(s);
  int64_t pid = 0;
  CHECK_INT(store_persona_msg_get(s, 9000, &pid), MIMIC_ENOTFOUND);
  CHECK_OK(store_persona_msg_put(s, 9000, 11, 3, 501, 1000));
  CHECK_OK(store_persona_msg_put(s, 9001, 11, 4, 0, 5000));
  CHECK_OK(store_persona_msg_get(s, 9000, &pid));
  CHECK_INT(pid, 3);
  int64_t n = 0;
  CHECK_OK(store_persona_msg_prune(s, 2000, &n));
  CHECK_INT(n, 1);
  CHECK_INT(store_persona_msg_get(s, 9000, &pid), MIMIC_ENOTFOUND);
  CHECK_OK(store_persona_msg_delete(s, 9001));
  CHECK_INT(store_persona_msg_get(s, 9001, &pid), MIMIC_ENOTFOUND);
  CHECK_INT(store_persona_msg_put(s, 1, 1, 0, 0, 0), MIMIC_EINVAL);

  CHECK_INT(store_dm_choice_get(s, 42), 0);
  CHECK_OK(store_dm_choice_set(s, 42, 5, 1));
  CHECK_INT(store_dm_choice_get(s, 42), 5);
  CHECK_OK(store_dm_choice_set(s, 42, 6, 2));
  CHECK_INT(store_dm_choice_get(s, 42), 6);
  CHECK_OK(store_dm_choice_set(s, 42, 0, 3));
  CHECK_INT(store_dm_choice_get(s, 42), 0);
  store_close(s);
}

int main(void) {
  RUN(webhooks_are_saved_moved_used_and_forgotten);
  RUN(persona_messages_and_dm_choices);
  TEST_MAIN_END();
}
