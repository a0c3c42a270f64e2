/* Tests for prepare: filters, rendering, the conversation builder and the dataset files. The
 * community is built in the test; every check is on a property of the output (who appears, what a
 * target is, the time split, reply chains, the cap, DPO ordering, the JSONL shapes). */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"
#include "test.h"

static char tmpdir[64];

enum { U_ANN = 1, U_BEN = 2, U_CAT = 3, U_BOT = 9, U_OUT = 5, U_EXC = 6, U_HOOK = 7 };
#define CH  100
#define MIN 60000LL
#define T0  1700000000000LL

static void user(store *s, uint64_t id, const char *name, const char *shown, bool bot) {
  store_user u = {.id = id, .bot = bot};
  str_lcpy(u.name, name, sizeof u.name);
  str_lcpy(u.display_name, shown, sizeof u.display_name);
  if (store_user_upsert(s, &u)) abort();
}

static uint64_t next_id = 5000;

static uint64_t post(store *s, uint64_t author, int64_t ts, const char *text, uint64_t ref,
                     int reactions) {
  store_msg m = {0};
  m.id = next_id++;
  m.channel_id = CH;
  m.guild_id = 1;
  m.author_id = author;
  m.ts_ms = ts;
  m.content = text;
  m.type = ref ? 19 : 0;
  m.ref_message_id = ref;
  if (author == U_HOOK) {
    m.flags = STORE_MSG_WEBHOOK;
    m.webhook_id = 77;
  }
  store_reaction r = {.emoji = "😂", .emoji_name = "😂", .count = reactions};
  if (reactions) {
    m.reactions = &r;
    m.n_reactions = 1;
    m.has = STORE_HAS_REACTIONS;
  }
  if (store_msg_upsert(s, &m, NULL)) abort();
  return m.id;
}

static uint64_t old_msg;    /* an early message that a later one replies to */
static uint64_t late_reply; /* that later reply, in another conversation */

/* Twelve conversations an hour apart; in each, Ann, Ben and Cat talk, with noise from a bot, a
 * webhook, an opted-out and an excluded person, a join message and link-only posts. */
static void community(store *s) {
  store_channel ch = {.id = CH, .guild_id = 1, .type = STORE_CH_GUILD_TEXT};
  str_lcpy(ch.name, "general", sizeof ch.name);
  if (store_channel_upsert(s, &ch)) abort();
  user(s, U_ANN, "ann", "Annie", false);
  user(s, U_BEN, "ben", "Benny", false);
  user(s, U_CAT, "cat", "", false);
  user(s, U_BOT, "robot", "RoboBot", true);
  user(s, U_OUT, "olga", "OptedOutOlga", false);
  user(s, U_EXC, "eve", "ExcludedEve", false);
  user(s, U_HOOK, "hook", "HookHenry", true);
  if (store_user_flag_set(s, U_OUT, STORE_FLAG_OPTED_OUT, "asked") ||
      store_user_flag_set(s, U_EXC, STORE_FLAG_EXCLUDED, "owner"))
    abort();
  for (int c = 0; c < 12; c++) {
    int64_t t = T0 + c * 60 * MIN;
    char text[128];
    snprintf(text, sizeof text, "conv %d: hi all <:pepe:123>", c);
    uint64_t first = post(s, U_ANN, t, text, 0, 0);
    if (c == 0) old_msg = first;
    post(s, U_BOT, t + 1 * MIN, "I am a bot, beep", 0, 0);
    snprintf(text, sizeof text, "conv %d: hey <@%d> what's up", c, U_ANN);
    uint64_t q = post(s, U_BEN, t + 2 * MIN, text, 0, 0);
    post(s, U_OUT, t + 3 * MIN, "olga's private words", 0, 0);
    snprintf(text, sizeof text, "conv %d: funny answer", c);
    post(s, U_CAT, t + 4 * MIN, text, q, 3); /* reacted reply to Ben */
    snprintf(text, sizeof text, "conv %d: dull answer", c);
    post(s, U_ANN, t + 5 * MIN, text, q, 0); /* unreacted reply to Ben */
    post(s, U_EXC, t + 6 * MIN, "eve's excluded words", 0, 0);
    post(s, U_HOOK, t + 7 * MIN, "webhook announcement", 0, 0);
    post(s, U_CAT, t + 8 * MIN, "https://example.com/only-a-link", 0, 0);
    store_msg join = {.id = next_id++,
                      .channel_id = CH,
                      .author_id = U_BEN,
                      .ts_ms = t + 9 * MIN,
                      .content = "",
                      .type = 7};
    if (store_msg_upsert(s, &join, NULL)) abort();
    for (int k = 0; k < 6; k++) {
      snprintf(text, sizeof text, "conv %d: ann chatter %d", c, k);
      post(s, U_ANN, t + (10 + k) * MIN, text, 0, 0);
      snprintf(text, sizeof text, "conv %d: ben reply %d", c, k);
      post(s, U_BEN, t + (10 + k) * MIN + 30000, text, 0, k == 2 ? 1 : 0);
    }
    if (c == 7)
      late_reply = post(s, U_CAT, t + 20 * MIN, "replying to the very first message", old_msg, 0);
  }
}

static json_t *read_jsonl(const char *path, size_t *bad) {
  FILE *f = fopen(path, "rb");
  json_t *arr = json_array();
  *bad = 0;
  if (!f) return arr;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_error_t e;
    json_t *v = json_loadb(line, (size_t)n, 0, &e);
    if (!v)
      (*bad)++;
    else
      json_array_append_new(arr, v);
  }
  free(line);
  fclose(f);
  return arr;
}

static int64_t q1(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return -1;
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

static const char *role_content(const json_t *msgs, size_t i, const char *role) {
  const json_t *t = json_array_get(msgs, i);
  if (!t || strcmp(jv_str(t, "role", ""), role) != 0) return NULL;
  return jv_str(t, "content", NULL);
}

TEST(render_and_filters) {
  buf b;
  buf_init(&b, 1 << 16);
  CHECK_OK(collect_render("hi <@12> and <@!12> in <#5> <@&9> <:pepe:123><a:dance:456> <@x> <:bad>",
                          NULL, NULL, &b));
  CHECK_STR(
      b.data,
      "hi @unknown-user and @unknown-user in #unknown-channel @role :pepe::dance: <@x> <:bad>");
  CHECK_OK(collect_render("", NULL, NULL, &b));
  CHECK_STR(b.data, "");
  CHECK(collect_is_link_only("  https://a.b/c  <https://x.y> "));
  CHECK(collect_is_link_only(""));
  CHECK(!collect_is_link_only("look https://a.b/c"));
  store_msg m = {.content = "hello", .type = 0};
  CHECK_INT(collect_filter(&m, 0, false), COLLECT_KEEP);
  CHECK_INT(collect_filter(&m, 0, true), COLLECT_DROP_PRIVACY);
  CHECK_INT(collect_filter(&m, STORE_FLAG_OPTED_IN, true), COLLECT_KEEP);
  CHECK_INT(collect_filter(&m, STORE_FLAG_OPTED_OUT, false), COLLECT_DROP_PRIVACY);
  m.type = 7;
  CHECK_INT(collect_filter(&m, 0, false), COLLECT_DROP_SYSTEM);
  m.type = 19;
  m.author_bot = true;
  CHECK_INT(collect_filter(&m, 0, false), COLLECT_DROP_BOT);
  buf_free(&b);
}

TEST(prepare_datasets_properties) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  community(s);
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  char out[128];
  snprintf(out, sizeof out, "%s/exports", tmpdir);
  o.out_dir = out;
  o.per_user_cap = 40;
  o.valid_frac = 0.2;
  o.kto = true;
  collect_prepare_stats st;
  CHECK_OK(collect_prepare(s, &o, &st));
  CHECK_INT(st.files, 8);
  CHECK(st.sft_train > 0 && st.sft_valid > 0);
  CHECK(st.dpo_train + st.dpo_valid >= 12);
  CHECK(st.drop_bot >= 24 && st.drop_privacy >= 24 && st.drop_system >= 12 && st.drop_empty >= 12);
  CHECK(st.capped > 0);

  char path[256];
  size_t bad;
  /* TRL conversational shape, and who may appear. */
  snprintf(path, sizeof path, "%s/sft-messages.train.jsonl", out);
  json_t *train = read_jsonl(path, &bad);
  CHECK_INT(bad, 0);
  CHECK_INT(json_array_size(train), st.sft_train);
  snprintf(path, sizeof path, "%s/sft-messages.valid.jsonl", out);
  json_t *valid = read_jsonl(path, &bad);
  CHECK_INT(bad, 0);
  CHECK_INT(json_array_size(valid), st.sft_valid);
  const char *banned[] = {"RoboBot",   "beep",    "OptedOutOlga", "olga's",  "ExcludedEve", "eve's",
                          "HookHenry", "webhook", "only-a-link",  "<:pepe:", "<@"};
  bool saw_chain = false, saw_mention = false, saw_emoji = false;
  json_t *sets[2] = {train, valid};
  for (int k = 0; k < 2; k++) {
    size_t i;
    json_t *row;
    json_array_foreach(sets[k], i, row) {
      json_t *msgs = json_object_get(row, "messages");
      if (json_array_size(msgs) != 3 || !role_content(msgs, 0, "system") ||
          !role_content(msgs, 1, "user") || !role_content(msgs, 2, "assistant")) {
        TEST_FAIL_("line %zu: not system/user/assistant", i);
        continue;
      }
      char *dump = json_dumps(row, 0);
      for (size_t b2 = 0; b2 < sizeof banned / sizeof banned[0]; b2++)
        if (strstr(dump, banned[b2]))
          TEST_FAIL_("'%s' appears in a sample: %.200s", banned[b2], dump);
      free(dump);
      const char *user = role_content(msgs, 1, "user");
      const char *asst = role_content(msgs, 2, "assistant");
      if (strstr(asst, "replying to the very first message") && strstr(user, "conv 0: hi all"))
        saw_chain = true;
      if (strstr(user, "hey @Annie what's up")) saw_mention = true;
      if (strstr(user, "hi all :pepe:")) saw_emoji = true;
      /* Speakers are shown by display name, falling back to the account name. */
      if (!(str_starts_with(asst, "Annie: ") || str_starts_with(asst, "Benny: ") ||
            str_starts_with(asst, "cat: ")))
        TEST_FAIL_("assistant turn '%s' has no known speaker", asst);
    }
  }
  CHECK(saw_chain);
  CHECK(saw_mention);
  CHECK(saw_emoji);

  /* Provenance: every target is a real, usable message; nobody filtered is in any sample. */
  CHECK_INT(
      q1(s, "SELECT count(*) FROM dataset_messages dm LEFT JOIN messages m ON m.id = dm.message_id "
            "WHERE m.id IS NULL"),
      0);
  CHECK_INT(q1(s,
               "SELECT count(*) FROM dataset_messages dm JOIN messages m ON m.id = dm.message_id "
               "WHERE m.author_id IN (5, 6, 7, 9)"),
            0);
  CHECK_INT(q1(s,
               "SELECT count(*) FROM dataset_messages dm JOIN messages m ON m.id = dm.message_id "
               "WHERE dm.role = 1 AND m.type NOT IN (0, 19)"),
            0);
  /* Each target's assistant turn is exactly "Name: content" of its message (no markup there). */
  sqlite3_stmt *st2;
  CHECK_OK(
      store_stmt(s,
                 "SELECT m.content, u.display_name, u.name FROM dataset_messages dm "
                 "JOIN datasets d ON d.id = dm.dataset_id JOIN messages m ON m.id = dm.message_id "
                 "JOIN users u ON u.id = m.author_id WHERE d.kind = 'sft-messages' "
                 "AND d.split = 'train' AND dm.role = 1 ORDER BY dm.sample",
                 &st2));
  size_t line = 0;
  while (sqlite3_step(st2) == SQLITE_ROW) {
    const char *content = (const char *)sqlite3_column_text(st2, 0);
    const char *shown = (const char *)sqlite3_column_text(st2, 1);
    if (!*shown) shown = (const char *)sqlite3_column_text(st2, 2);
    char want[512];
    snprintf(want, sizeof want, "%s: %s", shown, content);
    const char *got =
        role_content(json_object_get(json_array_get(train, line), "messages"), 2, "assistant");
    if (!strchr(content, '<') && (!got || strcmp(got, want) != 0))
      TEST_FAIL_("sample %zu: assistant '%s' but target is '%s'", line, got ? got : "(null)", want);
    line++;
  }
  sqlite3_reset(st2);
  CHECK_INT(line, st.sft_train);
  /* Time split: every validation target is newer than every training target. */
  int64_t newest_train =
      q1(s, "SELECT max(m.ts_ms) FROM dataset_messages dm JOIN datasets d ON d.id = "
            "dm.dataset_id JOIN messages m ON m.id = dm.message_id WHERE dm.role = 1 "
            "AND d.split = 'train' AND d.kind = 'sft-chatml'");
  int64_t oldest_valid =
      q1(s, "SELECT min(m.ts_ms) FROM dataset_messages dm JOIN datasets d ON d.id = "
            "dm.dataset_id JOIN messages m ON m.id = dm.message_id WHERE dm.role = 1 "
            "AND d.split = 'valid' AND d.kind = 'sft-chatml'");
  CHECK(newest_train > 0 && oldest_valid > 0);
  CHECK(newest_train < oldest_valid);
  /* Per-user cap. */
  int64_t ann =
      q1(s, "SELECT count(*) FROM dataset_messages dm JOIN datasets d ON d.id = dm.dataset_id "
            "JOIN messages m ON m.id = dm.message_id WHERE dm.role = 1 AND d.kind = "
            "'sft-chatml' AND m.author_id = 1");
  CHECK(ann > 0 && ann <= 40);
  /* DPO: chosen always has more reactions than rejected (generic rejected counts as none). */
  CHECK_INT(q1(s,
               "SELECT count(*) FROM dataset_messages c JOIN messages cm ON cm.id = c.message_id "
               "JOIN dataset_messages r ON r.dataset_id = c.dataset_id AND r.sample = c.sample AND "
               "r.role = 3 "
               "JOIN messages rm ON rm.id = r.message_id WHERE c.role = 2 AND "
               "(SELECT coalesce(sum(count), 0) FROM reactions WHERE message_id = cm.id) <= "
               "(SELECT coalesce(sum(count), 0) FROM reactions WHERE message_id = rm.id)"),
            0);
  CHECK_INT(
      q1(s, "SELECT count(*) FROM dataset_messages c WHERE c.role = 2 AND "
            "(SELECT coalesce(sum(count), 0) FROM reactions WHERE message_id = c.message_id) = 0"),
      0);
  snprintf(path, sizeof path, "%s/dpo.train.jsonl", out);
  json_t *dpo = read_jsonl(path, &bad);
  CHECK_INT(bad, 0);
  CHECK_INT(json_array_size(dpo), st.dpo_train);
  size_t i;
  json_t *row;
  bool saw_funny = false;
  json_array_foreach(dpo, i, row) {
    json_t *p = json_object_get(row, "prompt"), *c = json_object_get(row, "chosen"),
           *r = json_object_get(row, "rejected");
    if (json_array_size(p) != 2 || json_array_size(c) != 1 || json_array_size(r) != 1 ||
        !role_content(c, 0, "assistant") || !role_content(r, 0, "assistant"))
      TEST_FAIL_("dpo line %zu: not the TRL preference shape", i);
    else if (strstr(role_content(c, 0, "assistant"), "funny answer")) {
      saw_funny = true;
      CHECK(strstr(role_content(r, 0, "assistant"), "dull answer") != NULL);
    }
  }
  CHECK(saw_funny);
  /* ChatML text file. */
  snprintf(path, sizeof path, "%s/sft-chatml.train.jsonl", out);
  json_t *chatml = read_jsonl(path, &bad);
  CHECK_INT(bad, 0);
  CHECK_INT(json_array_size(chatml), st.sft_train);
  const char *text = jv_str(json_array_get(chatml, 0), "text", "");
  CHECK(str_starts_with(text, "<|im_start|>system\n"));
  CHECK(str_ends_with(text, "<|im_end|>\n"));
  CHECK(strstr(text, "<|im_start|>assistant\n") != NULL);
  /* KTO labels follow reactions. */
  snprintf(path, sizeof path, "%s/kto.train.jsonl", out);
  json_t *kto = read_jsonl(path, &bad);
  CHECK_INT(json_array_size(kto), st.kto_train);
  CHECK(json_is_boolean(json_object_get(json_array_get(kto, 0), "label")));
  /* Registered with the right counts; a second run replaces rather than adds. */
  CHECK_INT(q1(s, "SELECT n_samples FROM datasets WHERE kind = 'sft-chatml' AND split = 'train'"),
            st.sft_train);
  CHECK_INT(q1(s, "SELECT count(*) FROM datasets WHERE pending_path IS NOT NULL"), 0);
  int64_t prov = q1(s, "SELECT count(*) FROM dataset_messages");
  collect_prepare_stats st2b;
  CHECK_OK(collect_prepare(s, &o, &st2b));
  CHECK_INT(st2b.sft_train, st.sft_train);
  CHECK_INT(q1(s, "SELECT count(*) FROM dataset_messages"), prov);
  CHECK_INT(q1(s, "SELECT count(*) FROM datasets"), 8);
  snprintf(path, sizeof path, "%s/manifest.json", out);
  json_error_t e;
  json_t *man = json_load_file(path, 0, &e);
  CHECK(man != NULL);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(man, "sft"), "train")),
            st.sft_train);
  json_decref(man);
  json_decref(train);
  json_decref(valid);
  json_decref(dpo);
  json_decref(chatml);
  json_decref(kto);

  /* --user selection: only Cat's targets. */
  o.user_id = U_CAT;
  o.kto = false;
  CHECK_OK(collect_prepare(s, &o, &st));
  CHECK(st.sft_train + st.sft_valid > 0);
  CHECK_INT(q1(s,
               "SELECT count(*) FROM dataset_messages dm JOIN messages m ON m.id = dm.message_id "
               "JOIN datasets d ON d.id = dm.dataset_id WHERE dm.role = 1 AND m.author_id <> 3 "
               "AND d.kind LIKE 'sft%'"),
            0);
  /* Consent required and nobody opted in: nothing to write, but valid (empty) files. */
  o.user_id = 0;
  o.require_consent = true;
  CHECK_OK(collect_prepare(s, &o, &st));
  CHECK_INT(st.sft_train + st.sft_valid, 0);
  CHECK_INT(st.kept, 0);
  store_close(s);
}

static int64_t count_lines(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int64_t n = 0;
  int c;
  while ((c = getc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static bool file_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char *line = NULL;
  size_t cap = 0;
  bool hit = false;
  while (!hit && getline(&line, &cap, f) > 0) hit = strstr(line, needle) != NULL;
  free(line);
  fclose(f);
  return hit;
}

static int count_pending(const store_purge *p, void *user) {
  (void)p;
  (*(int *)user)++;
  return 0;
}

TEST(purge_removes_person_everywhere) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  next_id = 5000;
  community(s);
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  char out[128], path[256];
  snprintf(out, sizeof out, "%s/purge", tmpdir);
  o.out_dir = out;
  o.valid_frac = 0.2;
  o.window_max = 3;
  collect_prepare_stats st;
  CHECK_OK(collect_prepare(s, &o, &st));
  snprintf(path, sizeof path, "%s/sft-messages.train.jsonl", out);
  REQUIRE(file_has(path, "funny answer"));
  int64_t before = count_lines(path);
  collect_purge_result r;
  CHECK_OK(collect_purge_user(s, U_CAT, &r));
  CHECK_INT(r.messages_deleted, 12 * 2 + 1);
  CHECK(r.samples_removed > 0);
  CHECK(r.files_rewritten >= 4);
  CHECK(count_lines(path) < before);
  const char *files[] = {"sft-messages.train.jsonl", "sft-messages.valid.jsonl",
                         "sft-chatml.train.jsonl",   "sft-chatml.valid.jsonl",
                         "dpo.train.jsonl",          "dpo.valid.jsonl"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", out, files[i]);
    if (file_has(path, "funny answer") || file_has(path, "very first"))
      TEST_FAIL_("%s still has Cat", files[i]);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT n_samples FROM datasets WHERE path = '%s'", path);
    int64_t n = q1(s, sql);
    if (n != count_lines(path))
      TEST_FAIL_("%s: registered %lld samples, file has %lld", files[i], (long long)n,
                 (long long)count_lines(path));
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(sample) + 1, 0) FROM dataset_messages dm JOIN datasets d "
             "ON d.id = dm.dataset_id WHERE d.path = '%s'",
             path);
    if (q1(s, sql) != n) TEST_FAIL_("%s: provenance numbering does not match the file", files[i]);
  }
  /* Provenance still says which line holds which target after renumbering. */
  snprintf(path, sizeof path, "%s/sft-messages.train.jsonl", out);
  size_t bad;
  json_t *train = read_jsonl(path, &bad);
  sqlite3_stmt *st2;
  CHECK_OK(store_stmt(s,
                      "SELECT dm.sample, m.content FROM dataset_messages dm JOIN datasets d ON "
                      "d.id = dm.dataset_id JOIN messages m ON m.id = dm.message_id WHERE "
                      "d.kind = 'sft-messages' AND d.split = 'train' AND dm.role = 1",
                      &st2));
  int checked = 0, step;
  while ((step = sqlite3_step(st2)) == SQLITE_ROW) {
    const char *asst = role_content(
        json_object_get(json_array_get(train, (size_t)sqlite3_column_int64(st2, 0)), "messages"), 2,
        "assistant");
    const char *content = (const char *)sqlite3_column_text(st2, 1);
    if (!asst || !str_ends_with(asst, content))
      TEST_FAIL_("line %lld is not its target", (long long)sqlite3_column_int64(st2, 0));
    checked++;
  }
  if (step != SQLITE_DONE) TEST_FAIL_("step: %s", sqlite3_errmsg(store_db(s)));
  sqlite3_reset(st2);
  CHECK(checked > 0);
  json_decref(train);
  /* Gone from the store, flagged so nothing brings them back, and logged for training. */
  CHECK_INT(q1(s, "SELECT count(*) FROM messages WHERE author_id = 3"), 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM users WHERE id = 3"), 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages WHERE author_id = 2"), 12 * 8);
  uint32_t f;
  CHECK_OK(store_user_flags(s, U_CAT, &f));
  CHECK(f & STORE_FLAG_OPTED_OUT);
  int pending = 0;
  CHECK_OK(store_purge_each(s, true, count_pending, &pending));
  CHECK_INT(pending, 1);
  CHECK_OK(store_purge_ack(s, r.purge_id));
  pending = 0;
  CHECK_OK(store_purge_each(s, true, count_pending, &pending));
  CHECK_INT(pending, 0);
  CHECK_INT(q1(s, "SELECT done_ms > 0 FROM purge_log"), 1);
  /* Purging again finds nothing more. */
  CHECK_OK(collect_purge_user(s, U_CAT, &r));
  CHECK_INT(r.messages_deleted, 0);
  CHECK_INT(r.samples_removed, 0);
  /* Privacy actions. */
  CHECK_OK(collect_privacy_set(s, 42, "exclude", NULL));
  CHECK_OK(collect_privacy_set(s, 42, "opt-in", "said yes"));
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_IN);
  CHECK_OK(collect_privacy_set(s, 42, "include", NULL));
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, STORE_FLAG_OPTED_IN);
  CHECK_INT(collect_privacy_set(s, 42, "forget", NULL), MIMIC_EINVAL);
  store_close(s);
}

TEST(stats_text_and_html) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  next_id = 5000;
  community(s);
  char html[256], txt[256];
  snprintf(html, sizeof html, "%s/stats.html", tmpdir);
  snprintf(txt, sizeof txt, "%s/stats.txt", tmpdir);
  FILE *f = fopen(txt, "w+b");
  REQUIRE(f);
  CHECK_OK(collect_stats(s, f, html));
  fclose(f);
  /* Ann: 1 opener + 1 dull answer + 6 chatter per conversation, 12 conversations. */
  CHECK(file_has(txt, "Annie"));
  FILE *g = fopen(txt, "rb");
  REQUIRE(g);
  char line[256];
  bool ann96 = false, chatter72 = false, pepe12 = false, laugh = false;
  while (fgets(line, sizeof line, g)) {
    if (str_starts_with(line, "  Annie ") && strstr(line, " 96 ")) ann96 = true;
    if (str_starts_with(line, "  chatter ") && strstr(line, " 72 ")) chatter72 = true;
    if (str_starts_with(line, "  :pepe: ") && strstr(line, " 12 ")) pepe12 = true;
    if (str_starts_with(line, "  😂 ")) laugh = true;
  }
  fclose(g);
  CHECK(ann96);
  CHECK(chatter72);
  CHECK(pepe12);
  CHECK(laugh);
  /* Issue 19: the authors the datasets leave out are named, as bot or webhook. */
  CHECK(file_has(txt, "Left out of the datasets: bots and webhooks"));
  CHECK(file_has(txt, "  RoboBot (bot) "));
  CHECK(file_has(txt, "  HookHenry (webhook) "));
  CHECK(!file_has(txt, "Annie (bot)"));
  CHECK(file_has(html, "HookHenry (webhook)"));
  CHECK(!file_has(txt, "OptedOutOlga"));
  CHECK(!file_has(txt, "ExcludedEve"));
  CHECK(!file_has(txt, "private"));
  CHECK(file_has(html, "<svg"));
  CHECK(file_has(html, "</html>"));
  CHECK(!file_has(html, "OptedOutOlga"));
  store_close(s);
}

/* Issue 19: import accepted a 5 MB message and prepare then stopped for good. Import cuts it to
 * COLLECT_MESSAGE_MAX; a longer one already in the store (an older import) is cut by prepare, which
 * names it and builds the rest. */
TEST(long_message_is_cut_not_fatal) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  size_t big = 5u << 20;
  buf b;
  buf_init(&b, 0);
  CHECK_OK(buf_puts(&b,
                    "{\"guild\": {\"id\": \"1\", \"name\": \"g\"}, \"channel\": {\"id\": \"100\", "
                    "\"type\": \"GuildTextChat\", \"name\": \"general\"}, \"messages\": [{"
                    "\"id\": \"4000\", \"type\": \"Default\", \"timestamp\": "
                    "\"2023-11-14T22:13:20+00:00\", \"author\": {\"id\": \"1\", \"name\": "
                    "\"ann\"}, \"content\": \""));
  for (size_t i = 0; i < big; i += 2) CHECK_OK(buf_puts(&b, "\xc3\xa9")); /* é: cut on a char */
  CHECK_OK(buf_puts(&b, "\"}]}"));
  collect_import_stats ist;
  CHECK_OK(collect_import_dce_mem(s, b.data, b.len, "big.json", NULL, &ist));
  buf_free(&b);
  CHECK_INT(ist.cut_long, 1);
  store_msg_list l;
  CHECK_OK(store_msg_get(s, 4000, &l));
  REQUIRE(l.n == 1);
  size_t len = strlen(l.items[0].content);
  CHECK(len <= COLLECT_MESSAGE_MAX && len + 1 >= COLLECT_MESSAGE_MAX);
  CHECK(utf8_valid(l.items[0].content, len));
  store_msg_list_free(&l);
  /* A long message stored directly, in the middle of a conversation. */
  next_id = 5000;
  community(s);
  char *text = xalloc(big + 1);
  memset(text, 'a', big);
  text[big] = 0;
  uint64_t long_id = post(s, U_BEN, T0 + 10 * MIN + 1000, text, 0, 0);
  mem_free(text);
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  char out[128];
  snprintf(out, sizeof out, "%s/exports-long", tmpdir);
  o.out_dir = out;
  collect_prepare_stats st;
  CHECK_OK(collect_prepare(s, &o, &st));
  CHECK_INT(st.n_cut, 1); /* the imported one is already at the cap */
  CHECK_INT(st.cut_ids[0], long_id);
  CHECK(st.sft_train > 100);
  char path[256];
  snprintf(path, sizeof path, "%s/manifest.json", out);
  json_error_t e;
  json_t *m = json_load_file(path, 0, &e);
  REQUIRE(m);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(m, "messages"), "cut_long")), 1);
  json_decref(m);
  store_close(s);
}

/* Issue 19: many targets sharing one timestamp all went to validation. Ties break by id. */
TEST(same_timestamp_split_by_id) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  store_channel ch = {.id = CH, .guild_id = 1, .type = STORE_CH_GUILD_TEXT};
  str_lcpy(ch.name, "general", sizeof ch.name);
  CHECK_OK(store_channel_upsert(s, &ch));
  user(s, U_ANN, "ann", "Annie", false);
  user(s, U_BEN, "ben", "Benny", false);
  next_id = 9000;
  for (int i = 0; i < 50; i++) {
    char text[64];
    snprintf(text, sizeof text, "same second %d", i);
    post(s, i % 2 ? U_BEN : U_ANN, T0, text, 0, 0);
  }
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  char out[128];
  snprintf(out, sizeof out, "%s/exports-ties", tmpdir);
  o.out_dir = out;
  o.valid_frac = 0.1;
  collect_prepare_stats st;
  CHECK_OK(collect_prepare(s, &o, &st));
  CHECK_INT(st.sft_train + st.sft_valid, 48); /* every message after the first two */
  CHECK_INT(st.sft_valid, 5);
  CHECK(st.cutoff_ms == T0 && st.cutoff_id == 9000 + 45);
  store_close(s);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_prepare_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  log_set_level(LOG_WARN);
  RUN(render_and_filters);
  RUN(prepare_datasets_properties);
  RUN(purge_removes_person_everywhere);
  RUN(stats_text_and_html);
  RUN(long_message_is_cut_not_fatal);
  RUN(same_timestamp_split_by_id);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
