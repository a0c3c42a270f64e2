/* Allocation-failure tests for the gateway's message parser (events.c): each dispatch kind is
 * parsed, JSON included (Jansson's allocations routed through mem_*), under every failure point;
 * a failure must give an error and no event, never a half-built one or a leak. */
#include "discord/discord_int.h"
#include "test.h"

typedef struct ev_case {
  const char *t, *json;
} ev_case;

static int parse_one(void *ctx) {
  const ev_case *c = ctx;
  json_t *d = jv_parse(c->json, strlen(c->json), "event");
  if (!d) return MIMIC_EFORMAT; /* jv_parse reports out-of-memory as a parse error */
  discord_event *ev = (discord_event *)1;
  int rc = discord__event_parse(c->t, d, 9, &ev);
  json_decref(d);
  if (rc) return ev == NULL ? rc : MIMIC_EINVAL; /* no event on failure */
  if (!ev) return MIMIC_EINVAL;
  if (ev->seq != 9) rc = MIMIC_EINVAL;
  if (ev->type == DISCORD_EV_MESSAGE_CREATE &&
      (strcmp(ev->u.message.content, "hello <@43>") || ev->u.message.n_mentions != 1 ||
       ev->u.message.n_attachments != 1 ||
       strcmp(ev->u.message.attachments[0].url, "https://cdn/x")))
    rc = MIMIC_EINVAL;
  discord_event_free(ev);
  return rc;
}

static const ev_case cases[] = {
    {"MESSAGE_CREATE",
     "{\"id\":\"11\",\"channel_id\":\"200\",\"guild_id\":\"300\",\"author\":{\"id\":\"42\","
     "\"username\":\"ana\",\"global_name\":\"Ana\"},\"member\":{\"nick\":\"annie\",\"roles\":["
     "\"7\","
     "\"8\"]},\"content\":\"hello <@43>\",\"timestamp\":\"2026-11-21T10:00:00.123000+00:00\","
     "\"mentions\":[{\"id\":\"43\",\"username\":\"bo\"}],\"mention_roles\":[\"9\"],"
     "\"attachments\":[{\"id\":\"5\",\"url\":\"https://cdn/x\",\"filename\":\"x.png\"}],"
     "\"embeds\":[{\"title\":\"T\",\"fields\":[{\"name\":\"n\",\"value\":\"v\"}]}],"
     "\"message_reference\":{\"message_id\":\"99\"},\"referenced_message\":{\"id\":\"99\","
     "\"author\":{\"id\":\"43\"}}}"},
    {"READY", "{\"v\":10,\"user\":{\"id\":\"1\",\"username\":\"mimic\",\"bot\":true},"
              "\"session_id\":\"abc\",\"resume_gateway_url\":\"wss://x\",\"shard\":[0,1],"
              "\"guilds\":[{\"id\":\"300\",\"unavailable\":true}]}"},
    {"GUILD_CREATE", "{\"id\":\"300\",\"name\":\"Club\",\"channels\":[{\"id\":\"1\",\"type\":0,"
                     "\"name\":\"general\"}],\"threads\":[{\"id\":\"3\",\"type\":11,"
                     "\"parent_id\":\"1\"}]}"},
    {"MESSAGE_DELETE_BULK", "{\"ids\":[\"1\",\"2\"],\"channel_id\":\"5\"}"},
    {"MESSAGE_REACTION_ADD", "{\"user_id\":\"42\",\"channel_id\":\"1\",\"message_id\":\"9\","
                             "\"emoji\":{\"id\":null,\"name\":\"x\"},\"member\":{\"user\":{"
                             "\"id\":\"42\"}}}"},
    {"INTERACTION_CREATE",
     "{\"id\":\"1\",\"application_id\":\"2\",\"type\":2,\"token\":\"tok\",\"data\":{\"name\":"
     "\"mimic\",\"options\":[{\"name\":\"p\",\"type\":1,\"options\":[{\"name\":\"n\",\"type\":4,"
     "\"value\":7}]}]}}"},
};

TEST(every_dispatch_kind_under_oom) {
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (parse_one((void *)&cases[i]) != 0)
      TEST_FAIL_("%s does not parse: %s", cases[i].t, err_msg());
    if (test_oom_loop(cases[i].t, parse_one, (void *)&cases[i], 100000) <= 0)
      TEST_FAIL_("%s: allocation-failure runs broke the contract", cases[i].t);
  }
}

static int stopped(void *ctx) {
  (void)ctx;
  discord_event *ev = discord__event_stopped(4004, true, "authentication failed");
  if (!ev) return MIMIC_ENOMEM;
  int rc = strcmp(ev->u.stopped.message, "authentication failed") ? MIMIC_EINVAL : 0;
  discord_event_free(ev);
  return rc;
}

TEST(stopped_event_under_oom) { CHECK_OOM(stopped, NULL); }

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  json_set_alloc_funcs(mem_alloc, mem_free);
  RUN(every_dispatch_kind_under_oom);
  RUN(stopped_event_under_oom);
  TEST_MAIN_END();
}
