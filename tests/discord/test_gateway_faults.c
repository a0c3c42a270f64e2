/* The gateway against a hostile or failing double: every fatal close code stops cleanly with its
 * sentence; resumable codes resume, 4007/4009 start a new session; malformed JSON, non-gateway
 * payloads, invalid UTF-8 and oversized frames are logged and the connection continues or
 * resumes; repeated identify failures back off; an exhausted identify budget waits offline. */
#include "gw_double.h"
#include "test.h"

TEST(fatal_close_codes_stop_with_a_sentence) {
  static const int codes[] = {4004, 4010, 4011, 4012, 4013, 4014};
  static const char *const words[] = {"token",   "shard",   "sharding",
                                      "version", "intents", "MESSAGE CONTENT"};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char scen[256];
    snprintf(
        scen, sizeof scen,
        "{'connections':[[{'hello':1000},{'expect':'identify'},{'close':%d,'reason':'nope'}]]}",
        codes[i]);
    RIG_START(r, scen, i % 2 == 1, (void)0);
    discord_event *ev = rig_wait(&r, DISCORD_EV_STOPPED, GW_WAIT_MS);
    /* rig_wait returns NULL for STOPPED when another type is asked; here it is the one asked. */
    REQUIRE(ev);
    CHECK(ev->u.stopped.fatal);
    CHECK_INT(ev->u.stopped.close_code, codes[i]);
    CHECK(strstr(ev->u.stopped.message, words[i]) != NULL);
    CHECK(strchr(ev->u.stopped.message, '\n') == NULL);
    discord_event_free(ev);
    CHECK_INT(gateway_get_stats(r.gw).state, GATEWAY_STOPPED);
    json_t *log = gwd_log(&r.d);
    CHECK_INT(gwd_count_in(log, "connect", -1, -1), 1); /* never reconnected */
    CHECK_INT(gwd_count_in(log, "recv", 2, -1), 1);
    json_decref(log);
    rig_end(&r);
  }
}

TEST(resumable_and_new_session_close_codes) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'K'}},{'"
            "close':4000}],"
            "[{'hello':1000},{'expect':'resume'},{'resumed':true},{'close':4009}],"
            "[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'L'}},{'close':4007}],"
            "[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'M'}}]]}",
            false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "K");
  discord_event_free(ev);
  ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "L");
  discord_event_free(ev);
  ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "M");
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "recv", 6, 1), 1); /* 4000: resume */
  CHECK_INT(gwd_count_in(log, "recv", 2, 2), 1); /* 4009: new session */
  CHECK_INT(gwd_count_in(log, "recv", 2, 3), 1); /* 4007: new session */
  CHECK_INT(gwd_count_in(log, "recv", 6, -1), 1);
  json_decref(log);
  rig_end(&r);
}

TEST(malformed_payloads_are_skipped_and_the_connection_continues) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}},"
            "{'raw':'{not json'},{'raw':'[1,2,3]'},{'raw':'{\\'op\\':\\'zero\\'}'},"
            "{'raw':'{\\'op\\':0,\\'s\\':2,\\'t\\':\\'MESSAGE_CREATE\\',\\'d\\':[]}'},"
            "{'raw':'{\\'op\\':0,\\'s\\':3,\\'d\\':{}}'},"
            "{'raw':'{\\'op\\':0,\\'s\\':4,\\'t\\':\\'MESSAGE_CREATE\\',\\'d\\':{\\'content\\':\\'"
            "fine\\'}}'}]]}",
            false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_MESSAGE_CREATE, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.content, "fine");
  CHECK_INT(ev->seq, 4);
  discord_event_free(ev);
  gateway_stats st = gateway_get_stats(r.gw);
  CHECK_INT(st.malformed, 5);
  CHECK_INT(st.connects, 1);
  CHECK_INT(st.state, GATEWAY_READY);
  rig_end(&r);
}

TEST(invalid_utf8_text_frame_closes_1007_and_resumes) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'U'}},"
            "{'raw_hex':'7b226f70223a302c2264223a22ff227d'}],"
            "[{'hello':1000},{'expect':'resume'},{'resumed':true}]]}",
            false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  json_t *close = gwd_find(log, "close", -1, 0, 0);
  REQUIRE(close);
  CHECK_INT(jv_int(close, "code", 0), 1007);
  json_decref(log);
  rig_end(&r);
}

TEST(invalid_utf8_inside_compressed_json_is_skipped) {
  /* Inside zlib-stream the bytes are binary; Jansson rejects the invalid UTF-8 in the JSON. */
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}},"
            /* {"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"content":"<ff>"}} */
            "{'raw_compressed_hex':'"
            "7b226f70223a302c2273223a322c2274223a224d4553534147455f435245415445222c"
            "2264223a7b22636f6e74656e74223a22ff227d7d'},"
            "{'dispatch':'MESSAGE_CREATE','d':{'content':'ok {i}'}}]]}",
            true, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_MESSAGE_CREATE, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.content, "ok 2");
  discord_event_free(ev);
  gateway_stats st = gateway_get_stats(r.gw);
  CHECK_INT(st.malformed, 1);
  CHECK_INT(st.connects, 1); /* the inflate context is intact: the connection goes on */
  rig_end(&r);
}

TEST(oversized_frame_closes_1009_and_resumes) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'O'}},"
            "{'oversized':100000}],"
            "[{'hello':1000},{'expect':'resume'},{'resumed':true}]]}",
            false, o.max_frame = 65536;
            o.max_message = 65536);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  json_t *close = gwd_find(log, "close", -1, 0, 0);
  REQUIRE(close);
  CHECK_INT(jv_int(close, "code", 0), 1009);
  json_decref(log);
  rig_end(&r);
}

TEST(repeated_identify_failures_back_off) {
  /* Four connections fail before READY; the fifth succeeds. */
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'invalid_session':false}],"
            "[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'ready':{}}]]}",
            false, o.backoff_base_ms = 80;
            o.backoff_max_ms = 1000; o.identify_window_ms = 100; o.limit.total = 1000;
            o.limit.remaining = 50; o.limit.max_concurrency = 1; o.limit.reset_after_ms = 3600000);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "recv", 2, -1), 5);
  /* A retry after the f-th failure waits at least base * 2^(f-1) / 2 (the jitter's lower bound),
   * and identifies are never closer than the max_concurrency window. The third connection ends
   * with op 9, which Discord asked for: it is not a failure and waits only the op 9 wait. */
  static const int failures_before[5] = {0, 1, 2, 0, 3};
  for (int k = 1; k < 5; k++) {
    json_t *prev_close = gwd_find(log, "close", -1, k - 1, 0);
    json_t *conn = gwd_find(log, "connect", -1, k, 0);
    REQUIRE(prev_close && conn);
    int64_t gap = jv_int(conn, "ms", 0) - jv_int(prev_close, "ms", 0);
    int f = failures_before[k];
    int64_t floor_ms = f ? (80LL << (f - 1)) / 2 : 0;
    if (floor_ms > 500) floor_ms = 500;
    CHECK(gap >=
          floor_ms - 5); /* 5 ms: the double's clock and mimic's loop clock differ slightly */
    int64_t idgap = jv_int(gwd_find(log, "recv", 2, k, 0), "ms", 0) -
                    jv_int(gwd_find(log, "recv", 2, k - 1, 0), "ms", 0);
    CHECK(idgap >= 100 - 5);
  }
  json_decref(log);
  CHECK_INT(gateway_get_stats(r.gw).identify_remaining, 45);
  rig_end(&r);
}

TEST(op9_after_an_outage_waits_what_it_says_and_ready_resets_the_backoff) {
  /* Three failed connections raise the backoff (the next one would wait >= 800 ms); then the
   * server answers with op 9, and the new session starts after the op 9 wait (50-100 ms), not the
   * backoff. After READY a drop reconnects at once: READY reset the failure count. */
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'close':4000}],"
            "[{'hello':1000},{'expect':'identify'},{'invalid_session':false}],"
            "[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'R'}},{'close':4000}],"
            "[{'hello':1000},{'expect':'resume'},{'resumed':true}]]}",
            false, o.backoff_base_ms = 400;
            o.backoff_max_ms = 4000; o.identify_window_ms = 10);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  json_t *close3 = gwd_find(log, "close", -1, 3, 0), *conn4 = gwd_find(log, "connect", -1, 4, 0);
  json_t *close4 = gwd_find(log, "close", -1, 4, 0), *conn5 = gwd_find(log, "connect", -1, 5, 0);
  json_t *op9 = gwd_find(log, "sent", 9, 3, 0);
  REQUIRE(close3 && conn4 && close4 && conn5 && op9);
  /* The lower bound is measured from the op 9 the double sent (stamped before it left, so the
   * client cannot have waited less than this gap shows, however slowly the double logs); the close
   * the double logs afterwards can be stamped late on a loaded machine. */
  int64_t after_op9 = jv_int(conn4, "ms", 0) - jv_int(op9, "ms", 0);
  int64_t after_ready = jv_int(conn5, "ms", 0) - jv_int(close4, "ms", 0);
  CHECK(after_op9 >= 50 - 5);
  CHECK(jv_int(conn4, "ms", 0) - jv_int(close3, "ms", 0) < 800); /* the backoff: >= 800 ms */
  CHECK(after_ready < 200); /* no backoff at all: READY reset it (a failure would be >= 200) */
  json_decref(log);
  rig_end(&r);
}

TEST(exhausted_identify_budget_waits_offline) {
  RIG_START(r, "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}}]]}", false,
            o.limit.total = 1000;
            o.limit.remaining = 0; o.limit.reset_after_ms = 3600000; o.limit.max_concurrency = 1);
  uint64_t deadline = clock_mono_ms() + 5000;
  while (gateway_get_stats(r.gw).state != GATEWAY_BACKOFF && clock_mono_ms() < deadline)
    clock_sleep_ms(5);
  CHECK_INT(gateway_get_stats(r.gw).state, GATEWAY_BACKOFF);
  CHECK(gateway_next_event(r.gw, 200) == NULL);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "connect", -1, -1), 0);
  json_decref(log);
  /* Stopping while waiting is immediate and clean. */
  gateway_stop(r.gw);
  discord_event *ev = rig_wait(&r, DISCORD_EV_STOPPED, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK(!ev->u.stopped.fatal);
  discord_event_free(ev);
  rig_end(&r);
}

TEST(hello_never_comes) {
  RIG_START(r,
            "{'connections':[[{'wait':5000}],[{'hello':1000},{'expect':'identify'},{'ready':{}}]]}",
            false, o.hello_timeout_ms = 200);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "connect", -1, -1), 2);
  json_decref(log);
  rig_end(&r);
}

int main(void) {
  log_set_level(getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
  RUN(fatal_close_codes_stop_with_a_sentence);
  RUN(resumable_and_new_session_close_codes);
  RUN(malformed_payloads_are_skipped_and_the_connection_continues);
  RUN(invalid_utf8_text_frame_closes_1007_and_resumes);
  RUN(invalid_utf8_inside_compressed_json_is_skipped);
  RUN(oversized_frame_closes_1009_and_resumes);
  RUN(repeated_identify_failures_back_off);
  RUN(op9_after_an_outage_waits_what_it_says_and_ready_resets_the_backoff);
  RUN(exhausted_identify_budget_waits_offline);
  RUN(hello_never_comes);
  TEST_MAIN_END();
}
