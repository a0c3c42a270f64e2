/* Tests for dispatch -> typed event parsing (events.c): realistic payloads, missing and mistyped
 * fields, hostile shapes, and the arena's allocation-failure path. */
#include "discord/discord_int.h"
#include "test.h"

static discord_event *parse(const char *t, const char *json, int64_t seq) {
  json_t *d = jv_parse(json, strlen(json), "test");
  if (!d) return NULL;
  discord_event *ev = NULL;
  int rc = discord__event_parse(t, d, seq, &ev);
  json_decref(d);
  if (rc) {
    printf("  parse failed: %s\n", err_msg());
    return NULL;
  }
  return ev;
}

TEST(message_create_full) {
  const char *j =
      "{\"id\":\"1100000000000000001\",\"channel_id\":\"200\",\"guild_id\":\"300\","
      "\"author\":{\"id\":\"42\",\"username\":\"ana\",\"global_name\":\"Ana\",\"discriminator\":"
      "\"0\","
      "\"bot\":false},\"member\":{\"nick\":\"annie\",\"roles\":[\"7\",\"8\"],"
      "\"joined_at\":\"2024-01-02T03:04:05.000000+00:00\"},"
      "\"content\":\"hello <@43> caf\\u00e9\",\"timestamp\":\"2026-11-21T10:00:00.123000+00:00\","
      "\"edited_timestamp\":null,\"type\":19,\"flags\":4,\"tts\":false,\"mention_everyone\":true,"
      "\"mentions\":[{\"id\":\"43\",\"username\":\"bo\"},{\"username\":\"noid\"}],"
      "\"mention_roles\":[\"9\"],"
      "\"attachments\":[{\"id\":\"5\",\"url\":\"https://cdn/x.png\",\"filename\":\"x.png\","
      "\"content_type\":\"image/"
      "png\",\"size\":1234,\"width\":640,\"height\":480,\"description\":\"a cat\"}],"
      "\"embeds\":[{\"title\":\"T\",\"description\":\"D\",\"footer\":{\"text\":\"F\"},"
      "\"fields\":[{\"name\":\"n\",\"value\":\"v\"}]}],"
      "\"message_reference\":{\"message_id\":\"99\",\"channel_id\":\"200\"},"
      "\"referenced_message\":{\"id\":\"99\",\"author\":{\"id\":\"43\"}},\"channel_type\":0}";
  discord_event *ev = parse("MESSAGE_CREATE", j, 17);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_MESSAGE_CREATE);
  CHECK_INT(ev->seq, 17);
  const discord_message *m = &ev->u.message;
  CHECK(m->id == 1100000000000000001ULL);
  CHECK(m->channel_id == 200 && m->guild_id == 300);
  CHECK(m->has_author && m->author.id == 42);
  CHECK_STR(m->author.username, "ana");
  CHECK_STR(m->author.global_name, "Ana");
  CHECK(m->has_member);
  CHECK_STR(m->member.nick, "annie");
  CHECK_INT(m->member.n_roles, 2);
  CHECK(m->member.roles[1] == 8);
  CHECK(m->member.joined_at_ms > 0);
  CHECK(m->has_content);
  CHECK_STR(m->content, "hello <@43> caf\xc3\xa9");
  CHECK_INT(m->timestamp_ms, 1795255200123LL);
  CHECK_INT(m->edited_ms, 0);
  CHECK_INT(m->type, 19);
  CHECK_INT(m->flags, 4);
  CHECK(m->mention_everyone);
  CHECK_INT(m->n_mentions, 1); /* the mention without an id is skipped */
  CHECK(m->mentions[0] == 43);
  CHECK_INT(m->n_mention_roles, 1);
  CHECK_INT(m->n_attachments, 1);
  CHECK_STR(m->attachments[0].filename, "x.png");
  CHECK_STR(m->attachments[0].content_type, "image/png");
  CHECK_INT(m->attachments[0].size, 1234);
  CHECK_INT(m->attachments[0].width, 640);
  CHECK_INT(m->attachments[0].height, 480);
  CHECK_STR(m->attachments[0].description, "a cat");
  CHECK_INT(m->n_embeds, 1);
  CHECK_STR(m->embeds[0].title, "T");
  CHECK_STR(m->embeds[0].footer_text, "F");
  CHECK_STR(m->embeds[0].author_name, "");
  CHECK_INT(m->embeds[0].n_fields, 1);
  CHECK_STR(m->embeds[0].fields[0].value, "v");
  CHECK(m->ref_message_id == 99 && m->ref_author_id == 43);
  CHECK_INT(m->channel_type, 0);
  discord_event_free(ev);
}

TEST(message_update_partial_and_mistyped) {
  /* Partial update; every field of the wrong type reads as absent. */
  discord_event *ev = parse("MESSAGE_UPDATE",
                            "{\"id\":\"5\",\"channel_id\":6,\"content\":12,\"author\":\"x\","
                            "\"mentions\":{},\"attachments\":[1,null,\"s\"],\"type\":1e40,"
                            "\"timestamp\":\"not a time\",\"guild_id\":\"-3\"}",
                            3);
  REQUIRE(ev);
  const discord_message *m = &ev->u.message;
  CHECK(m->id == 5 && m->channel_id == 6);
  CHECK(!m->has_content);
  CHECK_STR(m->content, "");
  CHECK(!m->has_author);
  CHECK_STR(m->author.username, "");
  CHECK_INT(m->n_mentions, 0);
  CHECK_INT(m->n_attachments, 3);
  CHECK_STR(m->attachments[1].url, "");
  CHECK_INT(m->timestamp_ms, 0);
  CHECK(m->guild_id == 0);
  CHECK_INT(m->channel_type, -1);
  discord_event_free(ev);
}

TEST(ready_and_resumed) {
  discord_event *ev = parse("READY",
                            "{\"v\":10,\"user\":{\"id\":\"1\",\"username\":\"mimic\",\"bot\":true},"
                            "\"session_id\":\"abc\",\"resume_gateway_url\":\"wss://r.example\","
                            "\"guilds\":[{\"id\":\"10\",\"unavailable\":true},{\"id\":\"11\"}],"
                            "\"shard\":[1,4],\"application\":{\"id\":\"77\"}}",
                            1);
  REQUIRE(ev);
  CHECK_INT(ev->u.ready.v, 10);
  CHECK(ev->u.ready.user.bot);
  CHECK_STR(ev->u.ready.session_id, "abc");
  CHECK_STR(ev->u.ready.resume_gateway_url, "wss://r.example");
  CHECK_INT(ev->u.ready.n_guild_ids, 2);
  CHECK_INT(ev->u.ready.shard_id, 1);
  CHECK_INT(ev->u.ready.shard_count, 4);
  CHECK(ev->u.ready.application_id == 77);
  discord_event_free(ev);
  ev = parse("READY", "{\"shard\":[5,4]}", 1); /* impossible shard ignored */
  REQUIRE(ev);
  CHECK_INT(ev->u.ready.shard_id, 0);
  CHECK_INT(ev->u.ready.shard_count, 1);
  discord_event_free(ev);
  json_t *null = json_null();
  discord_event *r = NULL;
  CHECK_OK(discord__event_parse("RESUMED", null, 9, &r));
  REQUIRE(r);
  CHECK_INT(r->type, DISCORD_EV_RESUMED);
  discord_event_free(r);
}

TEST(guild_channels_threads_reactions) {
  discord_event *ev = parse("GUILD_CREATE",
                            "{\"id\":\"300\",\"name\":\"Club\",\"member_count\":12,"
                            "\"channels\":[{\"id\":\"1\",\"type\":0,\"name\":\"general\"},"
                            "{\"id\":\"2\",\"type\":4,\"name\":\"cat\"}],"
                            "\"threads\":[{\"id\":\"3\",\"type\":11,\"parent_id\":\"1\","
                            "\"thread_metadata\":{\"archived\":false,\"locked\":true}}]}",
                            2);
  REQUIRE(ev);
  CHECK_STR(ev->u.guild.name, "Club");
  CHECK_INT(ev->u.guild.n_channels, 2);
  CHECK(ev->u.guild.channels[0].guild_id == 300); /* filled in from the guild */
  CHECK_STR(ev->u.guild.channels[1].name, "cat");
  CHECK_INT(ev->u.guild.n_threads, 1);
  CHECK(ev->u.guild.threads[0].is_thread && ev->u.guild.threads[0].locked);
  discord_event_free(ev);

  ev = parse("THREAD_CREATE", "{\"id\":\"4\",\"type\":12,\"owner_id\":\"42\",\"message_count\":3}",
             3);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_THREAD_CREATE);
  CHECK(ev->u.channel.is_thread && ev->u.channel.owner_id == 42);
  discord_event_free(ev);

  ev = parse(
      "MESSAGE_REACTION_ADD",
      "{\"user_id\":\"42\",\"channel_id\":\"1\",\"message_id\":\"9\",\"guild_id\":\"300\","
      "\"emoji\":{\"id\":null,\"name\":\"\\ud83d\\udc4d\"},\"burst\":true,"
      "\"member\":{\"user\":{\"id\":\"42\",\"username\":\"ana\"}},\"message_author_id\":\"43\"}",
      4);
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_REACTION_ADD);
  CHECK(ev->u.reaction.emoji.id == 0);
  CHECK_STR(ev->u.reaction.emoji.name, "\xf0\x9f\x91\x8d");
  CHECK(ev->u.reaction.burst && ev->u.reaction.has_member);
  CHECK_STR(ev->u.reaction.member_user.username, "ana");
  CHECK(ev->u.reaction.message_author_id == 43);
  discord_event_free(ev);

  ev = parse("MESSAGE_DELETE_BULK", "{\"ids\":[\"1\",\"2\",\"x\"],\"channel_id\":\"5\"}", 5);
  REQUIRE(ev);
  CHECK_INT(ev->u.del.n_ids, 2);
  discord_event_free(ev);
  ev = parse("MESSAGE_DELETE", "{\"id\":\"8\",\"channel_id\":\"5\"}", 6);
  REQUIRE(ev);
  CHECK_INT(ev->u.del.n_ids, 1);
  CHECK(ev->u.del.ids[0] == 8);
  discord_event_free(ev);
}

TEST(interaction_nested_options) {
  discord_event *ev = parse(
      "INTERACTION_CREATE",
      "{\"id\":\"1\",\"application_id\":\"2\",\"type\":2,\"token\":\"tok\",\"guild_id\":\"3\","
      "\"channel\":{\"id\":\"4\"},\"member\":{\"user\":{\"id\":\"42\",\"username\":\"ana\"},"
      "\"permissions\":\"2147483648\"},\"data\":{\"id\":\"5\",\"name\":\"mimic\",\"type\":1,"
      "\"options\":[{\"name\":\"persona\",\"type\":1,\"options\":[{\"name\":\"who\",\"type\":6,"
      "\"value\":\"43\"},{\"name\":\"n\",\"type\":4,\"value\":7},{\"name\":\"on\",\"type\":5,"
      "\"value\":true},{\"name\":\"t\",\"type\":10,\"value\":0.5}]}]},\"locale\":\"fr\"}",
      7);
  REQUIRE(ev);
  const discord_interaction *in = &ev->u.interaction;
  CHECK_STR(in->token, "tok");
  CHECK(in->channel_id == 4);
  CHECK(in->user.id == 42); /* member.user in guilds */
  CHECK(in->has_member && in->member.permissions == 2147483648ULL);
  CHECK_STR(in->command_name, "mimic");
  REQUIRE(in->n_options == 1);
  REQUIRE(in->options[0].n_options == 4);
  const discord_option *o = in->options[0].options;
  CHECK_STR(o[0].str, "43");
  CHECK_INT(o[0].i, 43);
  CHECK_INT(o[1].i, 7);
  CHECK_INT(o[2].i, 1);
  CHECK_NEAR(o[3].num, 0.5, 1e-9);
  CHECK_STR(in->locale, "fr");
  discord_event_free(ev);
}

/* A MODAL_SUBMIT whose data is data_json; the modal_error (NULL: valid) is checked by the caller.
 */
static discord_event *modal_submit(const char *data_json) {
  char j[16384];
  snprintf(j, sizeof j,
           "{\"id\":\"1\",\"application_id\":\"2\",\"type\":5,\"token\":\"tok\",\"channel_id\":"
           "\"4\",\"user\":{\"id\":\"42\"},\"message\":{\"id\":\"77\",\"webhook_id\":\"88\","
           "\"components\":[{\"type\":1,\"components\":[{\"type\":2,\"style\":1,\"custom_id\":"
           "\"game:story:1:1:0\",\"label\":\"Go\"},{\"type\":2,\"style\":2,\"custom_id\":"
           "\"game:write:1:1\",\"label\":\"Write\",\"disabled\":true}]}]},\"data\":%s}",
           data_json);
  return parse("INTERACTION_CREATE", j, 9);
}

TEST(a_messages_first_custom_id) {
  discord_event *ev =
      parse("MESSAGE_CREATE",
            "{\"id\":\"5\",\"channel_id\":\"6\",\"author\":{\"id\":\"7\"},\"components\":[{"
            "\"type\":1,\"components\":[{\"type\":2,\"style\":1,\"custom_id\":\"game:story:1:2:0\","
            "\"label\":\"Go\"}]}]}",
            3);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.first_custom_id, "game:story:1:2:0");
  discord_event_free(ev);
  ev = parse("MESSAGE_CREATE", "{\"id\":\"5\",\"channel_id\":\"6\",\"components\":7}", 4);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.first_custom_id, "");
  discord_event_free(ev);
}

TEST(modal_submits_are_typed_and_checked) {
  /* two rows (the classic layout and a label holding its input), Unicode kept */
  discord_event *ev = modal_submit(
      "{\"custom_id\":\"draft:edit:7\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,"
      "\"custom_id\":\"title\",\"value\":\"Ünïcode\"}]},{\"type\":18,\"component\":{\"type\":4,"
      "\"custom_id\":\"text\",\"value\":\"\"}}]}");
  REQUIRE(ev);
  const discord_interaction *in = &ev->u.interaction;
  CHECK(in->modal_error == NULL);
  CHECK_STR(in->custom_id, "draft:edit:7");
  REQUIRE(in->n_fields == 2);
  CHECK_STR(discord_modal_value(in, "title"), "Ünïcode");
  CHECK_STR(discord_modal_value(in, "text"), "");
  CHECK(discord_modal_value(in, "other") == NULL);
  /* the message the form was opened from, with its buttons */
  CHECK(in->message_id == 77 && in->message_webhook_id == 88);
  REQUIRE(in->n_buttons == 2);
  CHECK_STR(in->buttons[0].custom_id, "game:story:1:1:0");
  CHECK_STR(in->buttons[1].label, "Write");
  CHECK(in->buttons[1].disabled && !in->buttons[0].disabled);
  CHECK_INT(in->buttons[1].style, 2);
  discord_event_free(ev);

  /* broken ones: the event is still parsed, the fields are empty and the reason says why */
  char big[4200 * 2 + 256];
  int o = snprintf(big, sizeof big,
                   "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,"
                   "\"custom_id\":\"a\",\"value\":\"");
  for (int i = 0; i < 4001; i++) o += snprintf(big + o, sizeof big - (size_t)o, "é");
  snprintf(big + o, sizeof big - (size_t)o, "\"}]}]}");
  char six[2048];
  o = snprintf(six, sizeof six, "{\"custom_id\":\"f\",\"components\":[");
  for (int i = 0; i < 6; i++)
    o += snprintf(six + o, sizeof six - (size_t)o,
                  "%s{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"c%d\",\"value\":"
                  "\"x\"}]}",
                  i ? "," : "", i);
  snprintf(six + o, sizeof six - (size_t)o, "]}");
  const char *bad[] = {
      big, /* a value over 4,000 characters */
      six, /* six rows */
      "{\"custom_id\":\"f\",\"components\":[]}",
      "{\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"a\",\"value\":"
      "\"x\"}]}]}", /* no custom_id */
      "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":"
      "\"a\",\"value\":\"x\"},{\"type\":4,\"custom_id\":\"b\",\"value\":\"y\"}]}]}", /* two in a row
                                                                                      */
      "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":"
      "\"a\",\"value\":\"x\"}]},{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"a\","
      "\"value\":\"y\"}]}]}", /* the same custom_id twice */
      "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":2,\"custom_id\":"
      "\"a\",\"value\":\"x\"}]}]}", /* not a text input */
      "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":"
      "\"a\",\"value\":7}]}]}", /* a number for a value */
      "{\"custom_id\":\"f\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":"
      "\"a\",\"value\":\"x\\u0000y\"}]}]}", /* a NUL inside */
      "{\"custom_id\":\""                   /* a custom_id of 101 characters */
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxx\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"a\","
      "\"value\":\"x\"}]}]}",
      "7", /* not an object at all */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ev = modal_submit(bad[i]);
    REQUIRE(ev);
    in = &ev->u.interaction;
    if (!in->modal_error) printf("  bad submit %zu was accepted\n", i);
    CHECK(in->modal_error != NULL);
    CHECK_INT(in->n_fields, 0);
    discord_event_free(ev);
  }
}

TEST(unknown_and_bad_shapes) {
  json_t *d = json_object();
  discord_event *ev = (discord_event *)1;
  CHECK_OK(discord__event_parse("PRESENCE_UPDATE", d, 1, &ev));
  CHECK(ev == NULL);
  json_t *arr = json_array();
  CHECK_INT(discord__event_parse("MESSAGE_CREATE", arr, 1, &ev), MIMIC_EFORMAT);
  CHECK(ev == NULL);
  CHECK_INT(discord_event_type_of("MESSAGE_REACTION_REMOVE"), DISCORD_EV_REACTION_REMOVE);
  CHECK_STR(discord_event_name(DISCORD_EV_INTERACTION_CREATE), "INTERACTION_CREATE");
  CHECK_STR(discord_event_name((discord_event_type)999), "UNKNOWN");
  json_decref(d);
  json_decref(arr);
}

TEST(nul_inside_string_is_cut) {
  discord_event *ev = parse("MESSAGE_CREATE", "{\"content\":\"ab\\u0000cd\"}", 1);
  REQUIRE(ev);
  CHECK_STR(ev->u.message.content, "ab");
  discord_event_free(ev);
}

TEST(allocation_failure_every_step) {
  const char *j = "{\"id\":\"1\",\"content\":\"x\",\"mentions\":[{\"id\":\"2\"}],"
                  "\"embeds\":[{\"title\":\"t\",\"fields\":[{\"name\":\"a\",\"value\":\"b\"}]}]}";
  json_t *d = jv_parse(j, strlen(j), "test");
  REQUIRE(d);
  int failures = 0;
  for (long n = 0; n < 20; n++) {
    discord_event *ev = NULL;
    mem_fail_after(mem_count() + n);
    int rc = discord__event_parse("MESSAGE_CREATE", d, 1, &ev);
    mem_fail_after(-1);
    if (rc) {
      CHECK_INT(rc, MIMIC_ENOMEM);
      CHECK(ev == NULL);
      failures++;
    } else {
      CHECK(ev != NULL);
      discord_event_free(ev);
      break;
    }
  }
  CHECK(failures > 0);
  json_decref(d);
}

TEST(stopped_event) {
  discord_event *ev = discord__event_stopped(4014, true, "enable the intent");
  REQUIRE(ev);
  CHECK_INT(ev->type, DISCORD_EV_STOPPED);
  CHECK_INT(ev->u.stopped.close_code, 4014);
  CHECK_STR(ev->u.stopped.message, "enable the intent");
  discord_event_free(ev);
  discord_event_free(NULL);
}

TEST(snowflake_time) { CHECK_INT(discord_id_time_ms(175928847299117063ULL), 1462015105796LL); }

TEST(history_page_reads_like_the_gateway) {
  const char *page =
      "[{\"id\":\"2003\",\"channel_id\":\"9\",\"author\":{\"id\":\"5\",\"username\":\"ann\","
      "\"global_name\":\"Ann\"},\"member\":{\"nick\":\"Annie\"},\"content\":\"hi <@6>\","
      "\"timestamp\":\"2024-01-01T00:00:03+00:00\",\"mentions\":[{\"id\":\"6\",\"username\":"
      "\"bob\",\"member\":{\"nick\":\"Bobby\"}},\"7\"],\"reactions\":[{\"count\":3,\"me\":"
      "true,\"emoji\":{\"id\":null,\"name\":\"\xF0\x9F\x94\xA5\"}},{\"count\":-2,\"emoji\":{"
      "\"id\":\"77\",\"name\":\"party\"}}]},{\"id\":\"2002\",\"author\":{\"id\":\"6\","
      "\"username\":\"bob\"}}]";
  discord_messages *p = NULL;
  CHECK_OK(discord_messages_parse(page, strlen(page), &p));
  REQUIRE(p && p->n == 2);
  const discord_message *m = &p->items[0];
  CHECK_INT(m->id, 2003);
  CHECK_STR(discord_display_name(&m->author, m->has_member ? &m->member : NULL), "Annie");
  CHECK_STR(discord_display_name(&p->items[1].author, NULL), "");
  CHECK_INT(m->n_mentions, 1);
  REQUIRE(m->n_mention_users == 1);
  CHECK_STR(m->mention_users[0].user.username, "bob");
  CHECK_STR(m->mention_users[0].nick, "Bobby");
  REQUIRE(m->n_reactions == 2);
  CHECK_INT(m->reactions[0].count, 3);
  CHECK(m->reactions[0].me);
  CHECK_INT(m->reactions[1].emoji.id, 77);
  CHECK_INT(m->reactions[1].count, 0);
  CHECK(m->timestamp_ms > 0);
  discord_messages_free(p);
  CHECK_INT(discord_messages_parse("{}", 2, &p), MIMIC_EFORMAT);
  CHECK(p == NULL);
  CHECK_INT(discord_messages_parse("[", 1, &p), MIMIC_EFORMAT);
  discord_users *u = NULL;
  CHECK_OK(discord_users_parse("[{\"id\":\"1\",\"username\":\"a\"},{}]", 30, &u));
  REQUIRE(u && u->n == 2);
  CHECK_STR(u->items[0].username, "a");
  discord_users_free(u);
}

TEST(listings_keep_unknown_apart_from_zero) {
  const char *txt =
      "{\"threads\":[{\"id\":\"5\",\"type\":11,\"parent_id\":\"4\",\"last_message_id\":null,"
      "\"thread_metadata\":{\"archive_timestamp\":\"2024-01-01T00:00:00+00:00\"}},{\"id\":\"6\","
      "\"message_count\":7,\"last_message_id\":\"9\"}],\"has_more\":true}";
  json_t *j = jv_parse(txt, strlen(txt), "test");
  REQUIRE(j);
  discord_channels *l = NULL;
  CHECK_OK(discord__channels_of(j, &l));
  REQUIRE(l && l->n == 2);
  CHECK(l->has_more);
  CHECK_INT(l->items[0].type, 11);
  CHECK(l->items[0].has_last_message_id);
  CHECK_INT(l->items[0].last_message_id, 0);
  CHECK_INT(l->items[0].message_count, -1);
  CHECK(l->items[0].archive_ms > 0);
  CHECK_INT(l->items[1].type, -1);
  CHECK_INT(l->items[1].message_count, 7);
  CHECK_INT(l->items[1].last_message_id, 9);
  discord_channels_free(l);
  json_decref(j);
  j = jv_parse("[{\"id\":\"1\",\"name\":\"g\"}]", 23, "test");
  discord_guilds *g = NULL;
  CHECK_OK(discord__guilds_of(j, &g));
  REQUIRE(g && g->n == 1);
  CHECK_STR(g->items[0].name, "g");
  discord_guilds_free(g);
  CHECK_INT(discord__guilds_of(json_object_get(j, "x"), &g), MIMIC_EFORMAT);
  json_decref(j);
}

int main(void) {
  RUN(message_create_full);
  RUN(message_update_partial_and_mistyped);
  RUN(ready_and_resumed);
  RUN(guild_channels_threads_reactions);
  RUN(interaction_nested_options);
  RUN(a_messages_first_custom_id);
  RUN(modal_submits_are_typed_and_checked);
  RUN(unknown_and_bad_shapes);
  RUN(nul_inside_string_is_cut);
  RUN(allocation_failure_every_step);
  RUN(stopped_event);
  RUN(snowflake_time);
  RUN(history_page_reads_like_the_gateway);
  RUN(listings_keep_unknown_apart_from_zero);
  TEST_MAIN_END();
}
