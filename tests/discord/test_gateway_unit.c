/* Pure parts of the gateway: the outgoing rate limiter (injected clock), the close-code table and
 * option validation. No network. */
#include "discord/discord_int.h"
#include "test.h"

TEST(rate_limit_keeps_heartbeat_reserve) {
  gw_ratelimit r;
  gw__rl_reset(&r);
  uint64_t t = 1000000;
  int sent = 0;
  while (gw__rl_wait(&r, t, false) == 0) {
    gw__rl_record(&r, t + (uint64_t)sent); /* one per ms */
    sent++;
  }
  CHECK_INT(sent, GATEWAY_SEND_LIMIT - GATEWAY_HEARTBEAT_RESERVE);
  /* Heartbeats still fit, up to the hard limit. */
  int hb = 0;
  while (gw__rl_wait(&r, t + 200, true) == 0) {
    gw__rl_record(&r, t + 200);
    hb++;
  }
  CHECK_INT(hb, GATEWAY_HEARTBEAT_RESERVE);
  /* The next normal send waits until the (n - budget)th oldest send leaves the 60 s window. */
  uint64_t w = gw__rl_wait(&r, t + 300, false);
  CHECK_INT(w, (t + GATEWAY_HEARTBEAT_RESERVE) + GATEWAY_SEND_WINDOW_MS - (t + 300));
  CHECK_INT(gw__rl_wait(&r, t + 300, true), t + GATEWAY_SEND_WINDOW_MS - (t + 300));
  /* Never more than 120 in any 60 s window, whatever the pattern. */
  CHECK_INT(gw__rl_wait(&r, t + GATEWAY_SEND_WINDOW_MS + 200, false), 0);
  gw__rl_reset(&r);
  CHECK_INT(gw__rl_wait(&r, t, false), 0);
}

TEST(rate_limit_sliding_window_property) {
  gw_ratelimit r;
  gw__rl_reset(&r);
  uint64_t times[2000];
  int n = 0;
  uint64_t now = 0, seed = 12345;
  while (n < 2000 && now < 600000) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    bool hb = (seed >> 60) == 0;
    now += (seed >> 33) % 700;
    uint64_t w = gw__rl_wait(&r, now, hb);
    if (w) now += w;
    CHECK_INT(gw__rl_wait(&r, now, hb), 0);
    gw__rl_record(&r, now);
    times[n++] = now;
  }
  for (int i = 0; i + GATEWAY_SEND_LIMIT < n; i++)
    CHECK(times[i + GATEWAY_SEND_LIMIT] - times[i] >= GATEWAY_SEND_WINDOW_MS);
}

TEST(close_code_table) {
  int fatal[] = {4004, 4010, 4011, 4012, 4013, 4014};
  for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
    bool rc = true;
    const char *t = gateway_close_text(fatal[i], &rc);
    CHECK(!rc);
    CHECK(strlen(t) > 40);
  }
  int again[] = {4000, 4001, 4002, 4003, 4005, 4007, 4008, 4009, 1000, 1001, 1006, 4999};
  for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
    bool rc = false;
    gateway_close_text(again[i], &rc);
    CHECK(rc);
  }
  CHECK(strstr(gateway_close_text(4014, NULL), "MESSAGE CONTENT INTENT") != NULL);
  CHECK(strstr(gateway_close_text(4004, NULL), "Developer Portal") != NULL);
  CHECK_STR(gateway_state_name(GATEWAY_READY), "READY");
}

TEST(options_validated) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  gateway *gw = NULL;
  gateway_options o = {.url = "wss://gateway.discord.gg", .token = "tok-0123456789"};
  o.shard_id = 2;
  o.shard_count = 2;
  CHECK_INT(gateway_new(&loop, &o, &gw), MIMIC_EINVAL);
  o.shard_id = 0;
  o.status = "busy";
  CHECK_INT(gateway_new(&loop, &o, &gw), MIMIC_EINVAL);
  o.status = NULL;
  o.url = "https://gateway.discord.gg";
  CHECK_INT(gateway_new(&loop, &o, &gw), MIMIC_EINVAL);
  o.url = "wss://gateway.discord.gg";
  o.token = "";
  CHECK_INT(gateway_new(&loop, &o, &gw), MIMIC_EINVAL);
  o.token = "tok-0123456789";
  CHECK_OK(gateway_new(&loop, &o, &gw));
  REQUIRE(gw);
  CHECK_INT(gateway_get_stats(gw).state, GATEWAY_IDLE);
  CHECK_INT(gateway_get_stats(gw).identify_remaining, 1000);
  gateway_destroy(gw); /* never started: closes its handles itself */
  CHECK_INT(uv_loop_close(&loop), 0);
}

TEST(plain_ws_to_remote_host_is_fatal) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  gateway *gw = NULL;
  gateway_options o = {.url = "ws://192.0.2.7:80", .token = "tok-0123456789"};
  CHECK_OK(gateway_new(&loop, &o, &gw));
  CHECK_OK(gateway_start(gw));
  uv_run(&loop, UV_RUN_DEFAULT);
  discord_event *ev = gateway_next_event(gw, 0);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_STOPPED);
  CHECK(ev->u.stopped.fatal);
  CHECK(strstr(ev->u.stopped.message, "wss://") != NULL);
  discord_event_free(ev);
  gateway_destroy(gw);
  CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(rate_limit_keeps_heartbeat_reserve);
  RUN(rate_limit_sliding_window_property);
  RUN(close_code_table);
  RUN(options_validated);
  RUN(plain_ws_to_remote_host_is_fatal);
  TEST_MAIN_END();
}
