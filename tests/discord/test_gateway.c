/* The gateway against the Node double, the happy and the reconnecting paths: identify and READY,
 * dispatches in order, zlib-stream (split, packed, fragmented), heartbeats and zombie detection,
 * drop mid-stream and resume without losing or repeating an event, op 7, op 9 both ways, presence,
 * a slow consumer that must not delay heartbeats, and a clean stop. Scenarios are written with '
 * for " to stay readable. */
#include "gw_double.h"
#include "test.h"

static const char *MSG =
    "'d':{'id':'{i}00','channel_id':'200','guild_id':'300','content':'message {i}',"
    "'author':{'id':'42','username':'ana'}}";

TEST(identify_ready_and_dispatch_order) {
  char scen[2048];
  snprintf(scen, sizeof scen,
           "{'connections':[[{'hello':150},{'expect':'identify'},{'ready':{'session_id':'S1'}},"
           "{'dispatch':'GUILD_CREATE','d':{'id':'300','name':'Club','channels':[{'id':'200','name'"
           ":'general'}]}},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':5},{'dispatch':'PRESENCE_UPDATE','d':{}},"
           "{'dispatch':'MESSAGE_REACTION_ADD','d':{'user_id':'42','message_id':'300','emoji':{'"
           "name':'x'}}},"
           "{'wait_heartbeats':2}]]}",
           MSG);
  RIG_START(r, scen, false, o.shard_count = 2; o.shard_id = 1; o.activity = "learning");
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "S1");
  CHECK_STR(ev->u.ready.user.username, "mimic");
  CHECK_INT(ev->seq, 1);
  discord_event_free(ev);
  ev = gateway_next_event(r.gw, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_GUILD_CREATE);
  CHECK_INT(ev->u.guild.n_channels, 1);
  CHECK_INT(ev->shard_id, 1);
  discord_event_free(ev);
  for (int i = 0; i < 5; i++) {
    ev = gateway_next_event(r.gw, GW_WAIT_MS);
    REQUIRE(ev);
    CHECK_INT(ev->type, DISCORD_EV_MESSAGE_CREATE);
    CHECK_INT(ev->seq, 3 + i);
    char want[32];
    snprintf(want, sizeof want, "message %d", 3 + i);
    CHECK_STR(ev->u.message.content, want);
    discord_event_free(ev);
  }
  /* PRESENCE_UPDATE is not a mimic event: skipped, the reaction follows with its own seq. */
  ev = gateway_next_event(r.gw, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_REACTION_ADD);
  CHECK_INT(ev->seq, 9);
  discord_event_free(ev);

  CHECK(gwd_wait(&r.d, "recv", 1, 0, 2, GW_WAIT_MS) >= 2);
  json_t *log = gwd_log(&r.d);
  json_t *conn = gwd_find(log, "connect", -1, 0, 0);
  REQUIRE(conn);
  CHECK_STR(jv_str(conn, "path", ""), "/?v=10&encoding=json");
  json_t *id = gwd_find(log, "recv", 2, 0, 0);
  REQUIRE(id);
  json_t *d = json_object_get(id, "d");
  CHECK_STR(jv_str(d, "token", ""), TEST_TOKEN);
  CHECK_INT(jv_int(d, "intents", 0), 37377);
  json_t *props = json_object_get(d, "properties");
  CHECK_STR(jv_str(props, "os", ""), "linux");
  CHECK_STR(jv_str(props, "browser", ""), "mimic");
  CHECK_STR(jv_str(props, "device", ""), "mimic");
  json_t *shard = json_object_get(d, "shard");
  CHECK(json_array_size(shard) == 2 && json_integer_value(json_array_get(shard, 0)) == 1 &&
        json_integer_value(json_array_get(shard, 1)) == 2);
  json_t *pres = json_object_get(d, "presence");
  CHECK_STR(jv_str(pres, "status", ""), "online");
  CHECK_STR(jv_str(json_array_get(json_object_get(pres, "activities"), 0), "state", ""),
            "learning");
  /* Heartbeats carry the last sequence number (the first may precede READY: then null or 1). */
  json_t *hb = gwd_find(log, "recv", 1, 0, 1);
  REQUIRE(hb);
  CHECK(json_is_integer(json_object_get(hb, "d")) || json_is_null(json_object_get(hb, "d")));
  json_decref(log);
  gateway_stats st = gateway_get_stats(r.gw);
  CHECK_INT(st.identifies, 1);
  CHECK(st.acks >= 1);
  CHECK_INT(st.malformed, 0);
  CHECK_INT(st.state, GATEWAY_READY);
  rig_end(&r);
}

TEST(zlib_stream_split_packed_fragmented) {
  char scen[2048];
  snprintf(scen, sizeof scen,
           "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':2,'split':4},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':3,'pack':true},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':2,'fragment':3},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':1}]]}",
           MSG, MSG, MSG, MSG);
  RIG_START(r, scen, true, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  for (int i = 0; i < 8; i++) {
    ev = gateway_next_event(r.gw, GW_WAIT_MS);
    REQUIRE(ev);
    CHECK_INT(ev->type, DISCORD_EV_MESSAGE_CREATE);
    CHECK_INT(ev->seq, 2 + i);
    char want[32];
    snprintf(want, sizeof want, "message %d", 2 + i);
    CHECK_STR(ev->u.message.content, want);
    discord_event_free(ev);
  }
  json_t *log = gwd_log(&r.d);
  CHECK_STR(jv_str(gwd_find(log, "connect", -1, 0, 0), "path", ""),
            "/?v=10&encoding=json&compress=zlib-stream");
  json_decref(log);
  CHECK_INT(gateway_get_stats(r.gw).malformed, 0);
  rig_end(&r);
}

TEST(zombie_connection_resumes) {
  RIG_START(r,
            "{'connections':[[{'hello':100},{'expect':'identify'},{'ready':{'session_id':'Z'}},"
            "{'dispatch':'MESSAGE_CREATE','d':{'content':'a'}},{'stop_acking':true}],"
            "[{'hello':100},{'expect':'resume'},{'resumed':true},{'dispatch':'MESSAGE_CREATE','d':{"
            "'content':'b'}}]]}",
            false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  ev = rig_wait(&r, DISCORD_EV_MESSAGE_CREATE, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.content, "b");
  discord_event_free(ev);
  CHECK(gateway_get_stats(r.gw).zombies >= 1);
  json_t *log = gwd_log(&r.d);
  json_t *close = gwd_find(log, "close", -1, 0, 0);
  REQUIRE(close);
  int code = (int)jv_int(close, "code", 0);
  CHECK(code != 1000 && code != 1001); /* the session must stay resumable */
  json_t *res = gwd_find(log, "recv", 6, 1, 0);
  REQUIRE(res);
  CHECK_STR(jv_str(json_object_get(res, "d"), "session_id", ""), "Z");
  CHECK_INT(jv_int(json_object_get(res, "d"), "seq", -1), 2);
  CHECK_INT(gwd_count_in(log, "recv", 2, -1), 1); /* resumed, never re-identified */
  json_decref(log);
  rig_end(&r);
}

TEST(drop_mid_stream_resumes_without_loss_or_repeat) {
  RIG_START(
      r,
      "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'D','resume_"
      "path':'/resume'}},"
      "{'dispatch':'MESSAGE_CREATE','d':{'content':'m{i}'},'count':3},"
      "{'dispatch':'MESSAGE_CREATE','d':{'content':'m{i}'},'count':2,'lost':true},{'drop':true}],"
      "[{'hello':1000},{'expect':'resume'},{'resumed':true},"
      "{'dispatch':'MESSAGE_CREATE','d':{'content':'m{i}'},'count':2}]]}",
      true, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  /* seq 2..6 before RESUMED (3 live + 2 replayed), RESUMED is 7, then 8..9. */
  int64_t want = 2;
  bool resumed = false;
  for (int i = 0; i < 8; i++) {
    ev = gateway_next_event(r.gw, GW_WAIT_MS);
    REQUIRE(ev);
    CHECK_INT(ev->seq, want);
    want++;
    if (ev->type == DISCORD_EV_RESUMED) {
      resumed = true;
      CHECK_INT(ev->seq, 7);
    } else {
      CHECK_INT(ev->type, DISCORD_EV_MESSAGE_CREATE);
      char s[16];
      snprintf(s, sizeof s, "m%lld", (long long)ev->seq);
      CHECK_STR(ev->u.message.content, s);
    }
    discord_event_free(ev);
  }
  CHECK(resumed);
  json_t *log = gwd_log(&r.d);
  CHECK(str_starts_with(jv_str(gwd_find(log, "connect", -1, 1, 0), "path", ""),
                        "/resume?v=10&encoding=json"));
  CHECK_INT(jv_int(json_object_get(gwd_find(log, "recv", 6, 1, 0), "d"), "seq", -1), 4);
  json_decref(log);
  rig_end(&r);
}

TEST(op7_reconnect_resumes) {
  RIG_START(
      r,
      "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}},"
      "{'dispatch':'MESSAGE_CREATE','d':{'content':'x'}},{'reconnect':true},{'wait_close':true}],"
      "[{'hello':1000},{'expect':'resume'},{'resumed':true}]]}",
      false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_INT(ev->seq, 3);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  json_t *close = gwd_find(log, "close", -1, 0, 0);
  REQUIRE(close);
  CHECK(jv_int(close, "code", 0) != 1000);
  CHECK_INT(jv_int(json_object_get(gwd_find(log, "recv", 6, 1, 0), "d"), "seq", -1), 2);
  json_decref(log);
  rig_end(&r);
}

TEST(op9_not_resumable_waits_then_identifies) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'A'}},"
            "{'invalid_session':false}],"
            "[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'B'}}]]}",
            false, o.invalid_session_min_ms = 300;
            o.invalid_session_max_ms = 400);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "A");
  discord_event_free(ev);
  ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK_STR(ev->u.ready.session_id, "B");
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "recv", 2, -1), 2);
  CHECK_INT(gwd_count_in(log, "recv", 6, -1), 0);
  /* The documented wait before identifying again (here shortened to 300-400 ms) is a lower bound.
   */
  json_t *sent9 = NULL;
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) if (jv_int(e, "op", -1) == 9 &&
                                    !strcmp(jv_str(e, "ev", ""), "sent")) sent9 = e;
  json_t *id2 = gwd_find(log, "recv", 2, 1, 0);
  REQUIRE(sent9 && id2);
  CHECK(jv_int(id2, "ms", 0) - jv_int(sent9, "ms", 0) >= 300);
  json_decref(log);
  rig_end(&r);
}

TEST(op9_resumable_resumes) {
  RIG_START(r,
            "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{'session_id':'R'}},"
            "{'invalid_session':true}],"
            "[{'hello':1000},{'expect':'resume'},{'resumed':true}]]}",
            false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_RESUMED, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  json_t *log = gwd_log(&r.d);
  CHECK_INT(gwd_count_in(log, "recv", 2, -1), 1);
  CHECK_STR(jv_str(json_object_get(gwd_find(log, "recv", 6, 1, 0), "d"), "session_id", ""), "R");
  json_decref(log);
  rig_end(&r);
}

TEST(heartbeat_request_answered_and_slow_consumer_does_not_delay_heartbeats) {
  char scen[1024];
  snprintf(scen, sizeof scen,
           "{'connections':[[{'hello':100},{'expect':'identify'},{'ready':{}},"
           "{'dispatch':'MESSAGE_CREATE',%s,'count':40},{'heartbeat_request':true},"
           "{'expect':'heartbeat'},{'wait_heartbeats':6}]]}",
           MSG);
  RIG_START(r, scen, false, (void)0);
  /* The consumer takes nothing until the double has seen six heartbeats. */
  CHECK(gwd_wait(&r.d, "recv", 1, 0, 6, GW_WAIT_MS) >= 6);
  gateway_stats st = gateway_get_stats(r.gw);
  CHECK_INT(st.zombies, 0);
  CHECK(st.acks >= 5);
  CHECK_INT(st.events, 41);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  for (int i = 0; i < 40; i++) {
    ev = gateway_next_event(r.gw, GW_WAIT_MS);
    REQUIRE(ev);
    CHECK_INT(ev->seq, 2 + i);
    discord_event_free(ev);
  }
  json_t *log = gwd_log(&r.d);
  /* After the server's op 1, a heartbeat came back. */
  json_t *op1 = NULL;
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) if (jv_int(e, "op", -1) == 1 &&
                                    !strcmp(jv_str(e, "ev", ""), "sent")) op1 = e;
  REQUIRE(op1);
  bool answered = false;
  json_array_foreach(log, i, e) if (!strcmp(jv_str(e, "ev", ""), "recv") &&
                                    jv_int(e, "op", -1) == 1 &&
                                    jv_int(e, "ms", 0) >= jv_int(op1, "ms", 0)) answered = true;
  CHECK(answered);
  json_decref(log);
  rig_end(&r);
}

TEST(presence_update_and_clean_stop) {
  RIG_START(
      r,
      "{'connections':[[{'hello':1000},{'expect':'identify'},{'ready':{}},{'expect':'presence'}]]}",
      false, (void)0);
  discord_event *ev = rig_wait(&r, DISCORD_EV_READY, GW_WAIT_MS);
  REQUIRE(ev);
  discord_event_free(ev);
  CHECK_INT(gateway_update_presence(r.gw, "busy", NULL), MIMIC_EINVAL);
  CHECK_OK(gateway_update_presence(r.gw, "idle", "thinking"));
  CHECK(gwd_wait(&r.d, "recv", 3, 0, 1, GW_WAIT_MS) == 1);
  json_t *log = gwd_log(&r.d);
  json_t *d = json_object_get(gwd_find(log, "recv", 3, 0, 0), "d");
  CHECK_STR(jv_str(d, "status", ""), "idle");
  CHECK_STR(jv_str(json_array_get(json_object_get(d, "activities"), 0), "state", ""), "thinking");
  json_decref(log);
  gateway_stop(r.gw);
  ev = rig_wait(&r, DISCORD_EV_STOPPED, GW_WAIT_MS);
  REQUIRE(ev);
  CHECK(!ev->u.stopped.fatal);
  discord_event_free(ev);
  CHECK(gateway_next_event(r.gw, 100) == NULL); /* closed and drained */
  CHECK(gwd_wait(&r.d, "close", -1, 0, 1, GW_WAIT_MS) == 1);
  log = gwd_log(&r.d);
  CHECK_INT(jv_int(gwd_find(log, "close", -1, 0, 0), "code", 0), 1000);
  json_decref(log);
  CHECK_INT(gateway_get_stats(r.gw).state, GATEWAY_STOPPED);
  rig_end(&r);
}

int main(void) {
  log_set_level(getenv("TEST_LOG") ? LOG_DEBUG : LOG_WARN);
  RUN(identify_ready_and_dispatch_order);
  RUN(zlib_stream_split_packed_fragmented);
  RUN(zombie_connection_resumes);
  RUN(drop_mid_stream_resumes_without_loss_or_repeat);
  RUN(op7_reconnect_resumes);
  RUN(op9_not_resumable_waits_then_identifies);
  RUN(op9_resumable_resumes);
  RUN(heartbeat_request_answered_and_slow_consumer_does_not_delay_heartbeats);
  RUN(presence_update_and_clean_stop);
  TEST_MAIN_END();
}
