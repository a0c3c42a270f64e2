/* The Discord client's consumer side: a wake-up (an engine completion) makes a waiting
 * discord_client_next_event return at once without an event, and is never queued as one. */
#include <pthread.h>

#include "base/base.h"
#include "discord/client.h"
#include "test.h"

static void *wake_later(void *arg) {
  discord_client_wake(arg); /* before or during the wait: either way it must return */
  return NULL;
}

TEST(wake_returns_a_waiting_consumer_at_once) {
  cfg *c = cfg_new();
  discord_client *dc = NULL;
  CHECK_OK(discord_client_new(c, "test-token-0123456789", &dc));
  REQUIRE(dc);
  /* A wake-up before the wait: the next wait returns at once, once. */
  discord_client_wake(dc);
  uint64_t t0 = clock_mono_ms();
  CHECK(discord_client_next_event(dc, 10000) == NULL);
  CHECK(clock_mono_ms() - t0 < 5000);
  t0 = clock_mono_ms();
  CHECK(discord_client_next_event(dc, 100) == NULL); /* consumed: this one times out */
  CHECK(clock_mono_ms() - t0 >= 100 - 5);
  /* A wake-up from another thread during a wait without a deadline. */
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, wake_later, dc) == 0);
  t0 = clock_mono_ms();
  CHECK(discord_client_next_event(dc, -1) == NULL);
  CHECK(clock_mono_ms() - t0 < 5000);
  pthread_join(th, NULL);
  /* Many wake-ups are one: they never fill the event queue. */
  for (int i = 0; i < 20000; i++) discord_client_wake(dc);
  CHECK(discord_client_next_event(dc, 0) == NULL);
  CHECK(discord_client_next_event(dc, 0) == NULL);
  discord_client_destroy(dc);
  cfg_destroy(c);
}

int main(void) {
  RUN(wake_returns_a_waiting_consumer_at_once);
  TEST_MAIN_END();
}
