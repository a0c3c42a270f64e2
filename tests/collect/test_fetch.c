/* Tests for the history fetcher against the REST double: pagination across thousands of messages,
 * every kind of channel and thread (text, announcement, active/archived public/private threads,
 * announcement threads, forum posts), unreadable channels reported, rate-limit headers obeyed,
 * incremental runs that ask only for what is new, every stored field, reactors, a bad token, a
 * guild the bot is not in, and stopping through the stop flag. Kill and resume:
 * test_fetch_resume.c.
 */
#include "fetch_helpers.h"
#include "test.h"

/* Guild 1: text 10 (2,500), announcement 11 (rich, 230), empty text 12, forbidden text 13, voice
 * 14 (ignored), forum 30; threads: 20 active (120) and 21 archived (30) of 10, 22 archived private
 * (40) of 10, 23 announcement thread (archived, 7) of 11, forum posts 31 (active, 10) and 32
 * (archived, 5). Guild 2: text 40 (150). */
#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"name\": \"Guild One\", \"channels\": ["               \
  "{\"id\": \"10\", \"name\": \"general\", \"messages\": 2500},"                                   \
  "{\"id\": \"11\", \"name\": \"news\", \"type\": 5, \"messages\": 230, \"rich\": true},"          \
  "{\"id\": \"12\", \"name\": \"empty\"},"                                                         \
  "{\"id\": \"13\", \"name\": \"secret\", \"messages\": 50, \"forbidden\": true},"                 \
  "{\"id\": \"14\", \"name\": \"voice\", \"type\": 2},"                                            \
  "{\"id\": \"30\", \"name\": \"forum\", \"type\": 15},"                                           \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"10\", \"name\": \"active\", \"messages\": "     \
  "120},"                                                                                          \
  "{\"id\": \"21\", \"type\": 11, \"parent_id\": \"10\", \"archived\": true, \"messages\": 30},"   \
  "{\"id\": \"22\", \"type\": 12, \"parent_id\": \"10\", \"archived\": true, \"messages\": 40},"   \
  "{\"id\": \"23\", \"type\": 10, \"parent_id\": \"11\", \"archived\": true, \"messages\": 7},"    \
  "{\"id\": \"31\", \"type\": 11, \"parent_id\": \"30\", \"name\": \"post\", \"messages\": 10},"   \
  "{\"id\": \"32\", \"type\": 11, \"parent_id\": \"30\", \"archived\": true, \"messages\": 5}]},"  \
  "{\"id\": \"2\", \"name\": \"Guild Two\", \"channels\": ["                                       \
  "{\"id\": \"40\", \"messages\": 150}]}]}"

/* Message pages: 10 per 250 ms per channel, so the limiter paces every channel; reactors faster. */
#define BUCKETS                                                                                    \
  "\"buckets\": {\"GET /channels/{channel_id}/messages\": {\"limit\": 10, \"window_ms\": 250}, "   \
  "\"GET /channels/{channel_id}/messages/{id}/reactions/{emoji}\": {\"limit\": 20, "               \
  "\"window_ms\": 200}}"

static const char *route_msgs = "GET /channels/{channel_id}/messages";

typedef struct prog {
  int calls, finals;
  double last_fraction;
  bool fraction_ok, final_has_list;
  int64_t final_messages;
  int stop_after; /* sets *stop after this many progress calls (0 = never) */
  int *stop;
  const collect_fetch_chan *problems[8];
  uint64_t problem_ids[8];
  size_t n_problems;
} prog;

static void on_progress(const collect_fetch_stats *st, void *user) {
  prog *p = user;
  if (st->fraction < 0 || st->fraction > 1) p->fraction_ok = false;
  p->last_fraction = st->fraction;
  if (st->final) {
    p->finals++;
    p->final_messages = st->messages;
    p->n_problems = 0;
    for (size_t i = 0; i < st->n_list && i < 8; i++)
      p->problem_ids[p->n_problems++] = st->list[i]->id;
    return;
  }
  p->calls++;
  for (size_t i = 0; i < st->n_list; i++) {
    const collect_fetch_chan *c = st->list[i];
    if (c->fraction < 0 || c->fraction > 1) p->fraction_ok = false;
  }
  if (p->stop_after && p->calls >= p->stop_after) *p->stop = 1;
}

static int64_t count_route(const rest_double *d, const char *route) {
  json_t *log = rd_log(d);
  int64_t n = (int64_t)rd_count(log, route, NULL, false);
  json_decref(log);
  return n;
}

TEST(full_fetch_then_incremental) {
  rest_double d;
  if (rd_start(&d, "{\"token\": \"tok-1\", \"manage_threads\": true, " BUCKETS ", " SEED "}") != 0)
    SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok-1");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  o.progress_ms = 50;
  prog p = {.fraction_ok = true};
  o.progress = on_progress;
  o.user = &p;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));

  /* everything readable is stored exactly; the forbidden channel is reported, not fatal */
  uint64_t unreadable[] = {13};
  int64_t expected = 0;
  CHECK_INT(fh_compare(s, &d, unreadable, 1, &expected), 0);
  CHECK_INT(expected, 2500 + 230 + 120 + 30 + 40 + 7 + 10 + 5 + 150);
  CHECK_INT(fh_stored_total(s), expected);
  CHECK_INT(st.messages, expected);
  CHECK_INT(st.inserted, expected);
  CHECK_INT(st.guilds, 2);
  CHECK_INT(st.channels, 4 + 6 + 1); /* 10 11 12 13, six threads, 40 */
  CHECK_INT(st.unreadable, 1);
  CHECK_INT(st.failed, 0);
  CHECK_INT(st.done, 10);
  CHECK(st.final);
  CHECK_INT(p.finals, 1);
  CHECK_INT(p.final_messages, expected);
  CHECK_INT(p.n_problems, 1);
  CHECK_INT(p.problem_ids[0], 13);
  CHECK(p.fraction_ok);
  CHECK(p.calls > 0);

  /* pages: 2,500 messages are 25 full pages and one empty page; the others one short page each */
  json_t *log = rd_log(&d);
  size_t i;
  json_t *e;
  int64_t pages10 = 0, bad_limit = 0;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route_msgs) != 0) continue;
    const char *pth = jv_str(e, "path", "");
    if (strstr(pth, "/channels/10/messages")) pages10++;
    if (!strstr(pth, "limit=100")) bad_limit++;
  }
  CHECK_INT(pages10, 26);
  CHECK_INT(bad_limit, 0);
  CHECK_INT(rd_count(log, route_msgs, NULL, false), 26 + 3 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 2);
  /* the rate limits were obeyed: no request into an empty bucket, never over the global limit */
  CHECK_INT(rd_count(log, NULL, "hit_empty", true), 0);
  CHECK_INT(rd_count(log, NULL, "global_exceeded", true), 0);
  CHECK_INT(rd_count(log, NULL, "auth_ok", false), 0);
  json_decref(log);

  /* names and kinds of channels and guilds */
  store_channel ch;
  CHECK_OK(store_channel_get(s, 22, &ch));
  CHECK_INT(ch.type, STORE_CH_PRIVATE_THREAD);
  CHECK_INT(ch.parent_id, 10);
  CHECK_INT(ch.guild_id, 1);
  CHECK_OK(store_channel_get(s, 31, &ch));
  CHECK_STR(ch.name, "post");
  CHECK_INT(ch.parent_id, 30);
  CHECK_OK(store_channel_get(s, 30, &ch));
  CHECK_INT(ch.type, STORE_CH_FORUM);
  CHECK_OK(store_channel_get(s, 11, &ch));
  CHECK_STR(ch.name, "news");
  CHECK_INT(ch.type, STORE_CH_GUILD_NEWS);
  CHECK_INT(store_channel_get(s, 14, &ch), MIMIC_ENOTFOUND);

  /* incremental: 250 new messages in 10, 3 in thread 20; only they are asked for */
  REQUIRE(fh_add(&d, 10, 250) == 0);
  REQUIRE(fh_add(&d, 20, 3) == 0);
  int64_t before = count_route(&d, route_msgs);
  memset(&p, 0, sizeof p);
  p.fraction_ok = true;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(count_route(&d, route_msgs) - before, 3 + 1 + 1); /* and the forbidden one, again */
  CHECK_INT(st.messages, 253);
  CHECK_INT(st.inserted, 253);
  CHECK_INT(st.up_to_date, 8);
  expected = 0;
  CHECK_INT(fh_compare(s, &d, unreadable, 1, &expected), 0);
  CHECK_INT(fh_stored_total(s), expected);

  /* a third run finds nothing new and asks only the forbidden channel again */
  before = count_route(&d, route_msgs);
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(count_route(&d, route_msgs) - before, 1); /* the forbidden one */
  CHECK_INT(st.inserted, 0);

  /* only the configured guild */
  store_close(s);
  fh_store_remove(path);
  s = fh_store(path);
  REQUIRE(s);
  uint64_t g2 = 2;
  o.guilds = &g2;
  o.n_guilds = 1;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(st.guilds, 1);
  CHECK_INT(fh_stored_total(s), 150);
  CHECK_INT(st.messages, 150);

  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* Every field the issue lists, message by message against the double's own objects. */
static void check_same(store *s, const json_t *m) {
  uint64_t id = jv_snowflake(m, "id");
  store_msg_list l = {0};
  int rc = store_msg_get(s, id, &l);
  if (rc) {
    TEST_FAIL_("message %llu not stored: %s", (unsigned long long)id, err_msg());
    return;
  }
  const store_msg *sm = &l.items[0];
  CHECK_STR(sm->content, jv_str(m, "content", ""));
  CHECK_INT(sm->author_id, jv_snowflake(json_object_get(m, "author"), "id"));
  CHECK_INT(sm->channel_id, jv_snowflake(m, "channel_id"));
  CHECK_INT(sm->guild_id, jv_snowflake(m, "guild_id"));
  CHECK_INT(sm->type, jv_int(m, "type", -1));
  int64_t ts = 0, ed = 0;
  CHECK_OK(clock_parse_iso8601(jv_str(m, "timestamp", ""), &ts));
  CHECK_INT(sm->ts_ms, ts);
  const char *edited = jv_str(m, "edited_timestamp", NULL);
  if (edited) CHECK_OK(clock_parse_iso8601(edited, &ed));
  CHECK_INT(sm->edited_ms, ed);
  CHECK_INT(sm->ref_message_id,
            jv_snowflake(json_object_get(m, "message_reference"), "message_id"));
  const json_t *mentions = json_object_get(m, "mentions");
  CHECK_INT(sm->n_mentions, json_array_size(mentions));
  if (sm->n_mentions == 1)
    CHECK_INT(sm->mentions[0], jv_snowflake(json_array_get(mentions, 0), "id"));
  const json_t *atts = json_object_get(m, "attachments");
  CHECK_INT(sm->n_attachments, json_array_size(atts));
  if (sm->n_attachments == 1) {
    const json_t *a = json_array_get(atts, 0);
    CHECK_STR(sm->attachments[0].url, jv_str(a, "url", ""));
    CHECK_STR(sm->attachments[0].filename, jv_str(a, "filename", ""));
    CHECK_STR(sm->attachments[0].content_type, jv_str(a, "content_type", ""));
    CHECK_INT(sm->attachments[0].size, jv_int(a, "size", -2));
  }
  const json_t *embeds = json_object_get(m, "embeds");
  if (json_array_size(embeds))
    CHECK(strstr(sm->embeds_text, jv_str(json_array_get(embeds, 0), "description", "?")) != NULL);
  else
    CHECK_STR(sm->embeds_text, "");
  const json_t *reacts = json_object_get(m, "reactions");
  CHECK_INT(sm->n_reactions, json_array_size(reacts));
  for (size_t k = 0; k < sm->n_reactions && k < json_array_size(reacts); k++) {
    const json_t *re = json_array_get(reacts, k);
    const store_reaction *x = NULL;
    const json_t *em = json_object_get(re, "emoji");
    for (size_t q = 0; q < sm->n_reactions; q++)
      if (strcmp(sm->reactions[q].emoji_name, jv_str(em, "name", "")) == 0) x = &sm->reactions[q];
    if (!x) {
      TEST_FAIL_("message %llu: reaction %s missing", (unsigned long long)id,
                 jv_str(em, "name", ""));
      continue;
    }
    CHECK_INT(x->count, jv_int(re, "count", -1));
    CHECK_INT(x->emoji_id, jv_snowflake(em, "id"));
  }
  CHECK_INT(sm->author_bot, jv_bool(json_object_get(m, "author"), "bot", false));
  CHECK_STR(sm->author_name, jv_str(json_object_get(m, "author"), "username", ""));
  store_msg_list_free(&l);
}

TEST(every_field_and_reactors) {
  rest_double d;
  if (rd_start(&d, "{" BUCKETS ", " SEED "}") != 0) SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  uint64_t g1 = 1;
  o.guilds = &g1;
  o.n_guilds = 1;
  o.reactors = true;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  /* without Manage Threads the private archived lists are refused: counted, not a problem */
  CHECK(st.private_lists_denied >= 1);
  CHECK_INT(st.failed, 0);
  json_t *msgs = fh_double(&d, "/_double/dump?channel=11", NULL);
  REQUIRE(json_array_size(msgs) == 230);
  int kinds = 0;
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    check_same(s, m);
    kinds |= json_array_size(json_object_get(m, "attachments")) ? 1 : 0;
    kinds |= json_array_size(json_object_get(m, "reactions")) ? 2 : 0;
    kinds |= json_object_get(m, "message_reference") ? 4 : 0;
    kinds |= json_array_size(json_object_get(m, "mentions")) ? 8 : 0;
    kinds |= json_array_size(json_object_get(m, "embeds")) ? 16 : 0;
    kinds |= jv_str(m, "edited_timestamp", NULL) ? 32 : 0;
    kinds |= strchr(jv_str(m, "content", ""), '\n') ? 64 : 0;
  }
  CHECK_INT(kinds, 127); /* the seed really has every kind */
  /* who reacted: the double seeds users 1-3 on the thumbs-up and user 6 on the custom emoji */
  const json_t *with = NULL;
  json_array_foreach(msgs, i, m) {
    if (json_array_size(json_object_get(m, "reactions")) && !with) with = m;
  }
  REQUIRE(with != NULL);
  store_msg_list l = {0};
  CHECK_OK(store_msg_get(s, jv_snowflake(with, "id"), &l));
  REQUIRE(l.n == 1 && l.items[0].n_reactions == 2);
  for (size_t k = 0; k < 2; k++) {
    const store_reaction *x = &l.items[0].reactions[k];
    if (x->emoji_id) {
      CHECK_STR(x->emoji, "pepe:555000000000000001");
      CHECK_INT(x->n_users, 1);
      if (x->n_users == 1) CHECK_INT(x->users[0], 100000000000000006ULL);
    } else {
      CHECK_INT(x->n_users, 3);
      for (size_t q = 0; q < x->n_users && q < 3; q++)
        CHECK_INT(x->users[q], 100000000000000001ULL + q);
    }
  }
  store_msg_list_free(&l);
  json_decref(msgs);
  json_t *log = rd_log(&d);
  CHECK(rd_count(log, "GET /channels/{channel_id}/messages/{id}/reactions/{emoji}", NULL, false) >
        0);
  CHECK_INT(rd_count(log, NULL, "hit_empty", true), 0);
  json_decref(log);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

TEST(bad_token_and_unknown_guild) {
  rest_double d;
  if (rd_start(&d, "{\"token\": \"right\", " SEED "}") != 0) SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "wrong");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  collect_fetch_stats st;
  CHECK_INT(collect_fetch_run(s, r, &o, &st), MIMIC_EAUTH);
  CHECK(strstr(err_msg(), "token") != NULL);
  CHECK_INT(fh_stored_total(s), 0);
  rest_destroy(r);

  /* a configured guild the bot is not in is reported; the others are fetched */
  r = fh_rest(&d, "right");
  REQUIRE(r);
  uint64_t gs[] = {2, 999};
  o.guilds = gs;
  o.n_guilds = 2;
  prog p = {.fraction_ok = true};
  o.progress = on_progress;
  o.user = &p;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(st.guilds, 1);
  CHECK_INT(st.unreadable, 1);
  CHECK_INT(p.n_problems, 1);
  CHECK_INT(p.problem_ids[0], 999);
  CHECK_INT(fh_stored_total(s), 150);

  /* bad options */
  o.page = 101;
  CHECK_INT(collect_fetch_run(s, r, &o, &st), MIMIC_EINVAL);
  o.page = 100;
  o.concurrency = 0;
  CHECK_INT(collect_fetch_run(s, r, &o, &st), MIMIC_EINVAL);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* The stop flag ends a run cleanly (what Ctrl-C does in mimic fetch); the next run finishes the job
 * with nothing lost and nothing asked twice beyond the pages in flight at the stop. */
TEST(stop_flag_then_continue) {
  rest_double d;
  if (rd_start(&d, "{\"manage_threads\": true, " BUCKETS ", " SEED "}") != 0)
    SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  o.progress_ms = 20;
  o.concurrency = 2;
  int stop = 0;
  prog p = {.fraction_ok = true, .stop_after = 3, .stop = &stop};
  o.progress = on_progress;
  o.user = &p;
  o.stop = &stop;
  collect_fetch_stats st;
  CHECK_INT(collect_fetch_run(s, r, &o, &st), MIMIC_ECANCELLED);
  CHECK(strstr(err_msg(), "again") != NULL);
  int64_t first = fh_stored_total(s);
  CHECK(first < 3092);
  CHECK_INT(first, st.messages);
  stop = 0;
  p.stop_after = 0;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  uint64_t unreadable[] = {13};
  int64_t expected = 0;
  CHECK_INT(fh_compare(s, &d, unreadable, 1, &expected), 0);
  CHECK_INT(fh_stored_total(s), expected);
  CHECK_INT(st.inserted, expected - first);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* A malformed page (truncated JSON) fails its channel, reported, while the others finish; a 5xx
 * burst is retried by the REST client. The next run completes the failed channel without a gap. */
TEST(malformed_page_fails_one_channel_then_resumes) {
  rest_double d;
  if (rd_start(&d,
               "{\"manage_threads\": true, " BUCKETS ", \"faults\": ["
               "{\"route\": \"GET /channels/{channel_id}/messages\", \"path\": \"/channels/10/\", "
               "\"kind\": \"malformed\", \"skip\": 5, \"count\": 1}, "
               "{\"route\": \"GET /channels/{channel_id}/messages\", \"path\": \"/channels/11/\", "
               "\"kind\": \"5xx\", \"skip\": 1, \"count\": 2}], " SEED "}") != 0)
    SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  prog p = {.fraction_ok = true};
  o.progress = on_progress;
  o.user = &p;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(st.failed, 1);
  CHECK_INT(st.unreadable, 1);
  CHECK_INT(p.n_problems, 2);
  uint64_t unreadable[] = {13};
  int64_t expected = 0;
  CHECK(fh_compare(s, &d, unreadable, 1, &expected) == 1); /* the failed channel is incomplete */
  CHECK(fh_stored_total(s) < expected);
  json_t *ids10 = fh_stored_ids(s, 10);
  CHECK_INT(json_array_size(ids10), 500); /* the five pages before the bad one */
  json_decref(ids10);
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(st.failed, 0);
  expected = 0;
  CHECK_INT(fh_compare(s, &d, unreadable, 1, &expected), 0);
  CHECK_INT(fh_stored_total(s), expected);
  json_t *log = rd_log(&d); /* the faults really happened */
  size_t i, malformed = 0, fivexx = 0;
  json_t *e;
  json_array_foreach(log, i, e) {
    malformed += strcmp(jv_str(e, "fault", ""), "malformed") == 0;
    fivexx += strcmp(jv_str(e, "fault", ""), "5xx") == 0;
  }
  CHECK_INT(malformed, 1);
  CHECK_INT(fivexx, 2);
  json_decref(log);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* The bot's way: collect_fetch_start on a loop the caller runs, cancelled from a loop callback;
 * done runs exactly once; a later run finishes the job. */
typedef struct bot_run {
  collect_fetch *f;
  int progress_calls, done_calls, rc;
  int64_t messages;
} bot_run;

static void bot_progress(const collect_fetch_stats *st, void *user) {
  bot_run *b = user;
  if (!st->final && ++b->progress_calls == 2) collect_fetch_cancel(b->f);
}

static void bot_done(int rc, const collect_fetch_stats *st, void *user) {
  bot_run *b = user;
  b->done_calls++;
  b->rc = rc;
  b->messages = st->messages;
}

TEST(start_and_cancel_on_the_callers_loop) {
  rest_double d;
  if (rd_start(&d, "{" BUCKETS ", " SEED "}") != 0) SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok");
  REQUIRE(s && r);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  o.progress_ms = 20;
  o.concurrency = 1;
  bot_run b = {0};
  o.progress = bot_progress;
  o.user = &b;
  CHECK_OK(collect_fetch_start(s, r, &o, bot_done, &b, &b.f));
  while (!b.done_calls) uv_run(rest_loop(r), UV_RUN_ONCE);
  for (int i = 0; i < 20; i++) uv_run(rest_loop(r), UV_RUN_NOWAIT); /* nothing may fire any more */
  CHECK_INT(b.done_calls, 1);
  CHECK_INT(b.rc, MIMIC_ECANCELLED);
  CHECK_INT(fh_stored_total(s), b.messages);
  CHECK(b.messages < 3092);
  o.progress = NULL;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(fh_stored_total(s), 3092 - 40); /* all but the forbidden channel and private thread */
  CHECK_INT(st.inserted, 3092 - 40 - b.messages);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* More archived threads than one list page (100): public ones page by archive time through three
 * pages, private ones through two; every thread's messages end up stored. */
TEST(archived_threads_across_pages) {
  static char scenario[65536];
  int n = snprintf(scenario, sizeof scenario,
                   "{\"manage_threads\": true, \"global\": {\"limit\": 2000, \"window_ms\": 1000}, "
                   "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\", "
                   "\"messages\": 3}");
  for (int i = 0; i < 350; i++)
    n += snprintf(scenario + n, sizeof scenario - (size_t)n,
                  ", {\"id\": \"%d\", \"type\": %d, \"parent_id\": \"10\", \"archived\": true, "
                  "\"messages\": %d}",
                  1000 + i, i < 230 ? 11 : 12, 1 + i % 3);
  snprintf(scenario + n, sizeof scenario - (size_t)n, "]}]}}");
  rest_double d;
  if (rd_start(&d, scenario) != 0) SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest_opts ro;
  rest_opts_default(&ro);
  ro.base_url = d.base;
  ro.token = "tok";
  ro.rl.global_limit = 2000; /* this test is about paging, not pacing */
  rest *r = NULL;
  REQUIRE(s && rest_new(NULL, &ro, &r) == 0);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  o.concurrency = 32;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(st.channels, 351);
  CHECK_INT(st.done, 351);
  int64_t expected = 0;
  CHECK_INT(fh_compare(s, &d, NULL, 0, &expected), 0);
  CHECK_INT(fh_stored_total(s), expected);
  CHECK_INT(expected, 3 + 699); /* the threads have 1, 2, 3, 1, ... messages: 699 in all */
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, "GET /channels/{channel_id}/threads/archived/public", NULL, false), 3);
  CHECK_INT(rd_count(log, "GET /channels/{channel_id}/threads/archived/private", NULL, false), 2);
  json_decref(log);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

/* People excluded or opted out are not stored by fetch (counted instead), and the cursor still
 * covers their messages, so the next run does not ask for them again. */
TEST(excluded_people_are_not_stored) {
  rest_double d;
  if (rd_start(&d, "{" BUCKETS ", " SEED "}") != 0) SKIP("node or the double is missing");
  char path[64];
  store *s = fh_store(path);
  rest *r = fh_rest(&d, "tok");
  REQUIRE(s && r);
  CHECK_OK(collect_privacy_set(s, 100000000000000003ULL, "exclude", "test"));
  CHECK_OK(collect_privacy_set(s, 100000000000000005ULL, "opt-out", NULL));
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  uint64_t g2 = 2;
  o.guilds = &g2;
  o.n_guilds = 1;
  collect_fetch_stats st;
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  /* channel 40: 150 messages by user i % 8: 19 by user 3, 19 by user 5 */
  CHECK_INT(st.messages, 150);
  CHECK_INT(st.skipped_privacy, 38);
  CHECK_INT(fh_stored_total(s), 112);
  int64_t n = -1;
  CHECK_OK(store_msg_count(s, 100000000000000003ULL, &n));
  CHECK_INT(n, 0);
  int64_t before = count_route(&d, route_msgs);
  CHECK_OK(collect_fetch_run(s, r, &o, &st));
  CHECK_INT(count_route(&d, route_msgs) - before, 0);
  rest_destroy(r);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

int main(void) {
  log_set_level(getenv("MIMIC_TEST_VERBOSE") ? LOG_INFO : LOG_WARN);
  RUN(full_fetch_then_incremental);
  RUN(every_field_and_reactors);
  RUN(bad_token_and_unknown_guild);
  RUN(stop_flag_then_continue);
  RUN(malformed_page_fails_one_channel_then_resumes);
  RUN(start_and_cancel_on_the_callers_loop);
  RUN(archived_threads_across_pages);
  RUN(excluded_people_are_not_stored);
  TEST_MAIN_END();
}
