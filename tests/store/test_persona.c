/* Tests for personas in the store: add/get/update/remove, names and aliases unique without ASCII
 * case, checks with one clear sentence, and settings layered persona -> channel -> guild -> global
 * with where each value came from. */
#include <string.h>

#include "base/base.h"
#include "store/persona.h"
#include "store/store.h"
#include "test.h"

static store *open_mem(void) {
  store *s = NULL;
  if (store_open(":memory:", &s)) return NULL;
  return s;
}

static void make(store_persona *p, const char *name, const char *alias) {
  store_persona_init(p);
  p->name = xstrdup(name);
  if (alias) CHECK_OK(store_strv_push(&p->aliases, alias));
}

TEST(add_get_by_id_name_alias) {
  store *s = open_mem();
  REQUIRE(s);
  store_persona p;
  make(&p, "Glordon", "Glordie");
  p.description = xstrdup("A purple alien, son of Lord Grigon.");
  p.system_prompt = xstrdup("You are {{char}} talking to {{user}}.");
  CHECK_OK(store_strv_push(&p.tags, "alien"));
  CHECK_OK(store_strv_push(&p.alternate_greetings, "Hi!"));
  CHECK_OK(store_strv_push(&p.keywords, "glordon"));
  CHECK_OK(store_strv_push(&p.regexes, "gl(o|0)rd"));
  p.channels = xcalloc(2, sizeof *p.channels);
  p.channels[0] = 111;
  p.channels[1] = 222;
  p.n_channels = 2;
  p.has_temperature = true;
  p.temperature = 0.9;
  p.freewill = 0.25;
  p.adapter = xstrdup("/data/personas/Glordon/adapter.gguf");
  p.adapter_scale = 0.75;
  p.character_book = xstrdup("{\"entries\":[{\"keys\":[\"grigon\"],\"content\":\"his father\"}]}");
  CHECK_OK(store_persona_add(s, &p));
  CHECK(p.id > 0);
  CHECK(p.created_ms > 0);

  store_persona q;
  store_persona_init(&q);
  CHECK_OK(store_persona_get(s, p.id, &q));
  CHECK_STR(q.name, "Glordon");
  CHECK_INT(q.aliases.n, 1);
  CHECK_STR(q.aliases.v[0], "Glordie");
  CHECK_STR(q.description, "A purple alien, son of Lord Grigon.");
  CHECK_STR(q.system_prompt, "You are {{char}} talking to {{user}}.");
  CHECK_STR(q.tags.v[0], "alien");
  CHECK_STR(q.alternate_greetings.v[0], "Hi!");
  CHECK_STR(q.regexes.v[0], "gl(o|0)rd");
  CHECK_INT(q.n_channels, 2);
  CHECK(q.channels[1] == 222);
  CHECK(q.has_temperature);
  CHECK_NEAR(q.temperature, 0.9, 1e-9);
  CHECK(!q.has_top_p);
  CHECK(!q.has_max_tokens);
  CHECK_NEAR(q.freewill, 0.25, 1e-9);
  CHECK_NEAR(q.adapter_scale, 0.75, 1e-9);
  CHECK(q.enabled);
  CHECK(q.avatar == NULL);
  CHECK(q.extensions == NULL);
  CHECK(strstr(q.character_book, "grigon") != NULL);

  /* name and alias, any ASCII case */
  int64_t id = 0;
  CHECK_OK(store_persona_find(s, "glordon", &id));
  CHECK(id == p.id);
  CHECK_OK(store_persona_find(s, "GLORDIE", &id));
  CHECK(id == p.id);
  CHECK_INT(store_persona_find(s, "Elio", &id), MIMIC_ENOTFOUND);
  CHECK_OK(store_persona_by_name(s, "gLoRdIe", &q));
  CHECK_STR(q.name, "Glordon");
  CHECK_INT(store_persona_get(s, 9999, &q), MIMIC_ENOTFOUND);
  store_persona_free(&q);
  store_persona_free(&p);
  store_close(s);
}

TEST(names_and_aliases_unique_ignoring_case) {
  store *s = open_mem();
  REQUIRE(s);
  store_persona a, b;
  make(&a, "Glordon", "Glordie");
  CHECK_OK(store_persona_add(s, &a));
  make(&b, "GLORDON", NULL);
  CHECK_INT(store_persona_add(s, &b), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "already the name or an alias of persona Glordon") != NULL);
  CHECK(b.id == 0);
  store_persona_free(&b);
  make(&b, "Elio", "glordie");
  CHECK_INT(store_persona_add(s, &b), MIMIC_EINVAL);
  store_persona_free(&b);
  /* a failed add leaves nothing behind */
  int64_t n = 0;
  CHECK_OK(store_persona_count(s, &n));
  CHECK_INT(n, 1);
  int64_t id;
  CHECK_INT(store_persona_find(s, "Elio", &id), MIMIC_ENOTFOUND);
  /* its own name repeated as an alias is fine */
  make(&b, "Elio", "ELIO");
  CHECK_OK(store_persona_add(s, &b));
  /* rename frees the old name */
  mem_free(a.name);
  a.name = xstrdup("Lord Grigon");
  store_strv_free(&a.aliases);
  CHECK_OK(store_persona_update(s, &a));
  CHECK_INT(store_persona_find(s, "glordon", &id), MIMIC_ENOTFOUND);
  CHECK_INT(store_persona_find(s, "glordie", &id), MIMIC_ENOTFOUND);
  CHECK_OK(store_persona_find(s, "lord grigon", &id));
  CHECK(id == a.id);
  /* renaming onto another persona's name fails and changes nothing */
  mem_free(a.name);
  a.name = xstrdup("elio");
  CHECK_INT(store_persona_update(s, &a), MIMIC_EINVAL);
  store_persona got;
  store_persona_init(&got);
  CHECK_OK(store_persona_get(s, a.id, &got));
  CHECK_STR(got.name, "Lord Grigon");
  store_persona_free(&got);
  store_persona_free(&a);
  store_persona_free(&b);
  store_close(s);
}

TEST(checks_say_one_sentence) {
  store *s = open_mem();
  REQUIRE(s);
  store_persona p;
  make(&p, "", NULL);
  CHECK_INT(store_persona_add(s, &p), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "name is empty") != NULL);
  store_persona_free(&p);
  make(&p, "Bad\nName", NULL);
  CHECK_INT(store_persona_add(s, &p), MIMIC_EINVAL);
  store_persona_free(&p);
  make(&p, "Ok", NULL);
  p.freewill = 1.5;
  CHECK_INT(store_persona_add(s, &p), MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "freewill must be between 0 and 1") != NULL);
  p.freewill = 0;
  CHECK_OK(store_strv_push(&p.regexes, "(unclosed"));
  CHECK_INT(store_persona_add(s, &p), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "does not compile") != NULL);
  store_strv_free(&p.regexes);
  p.extensions = xstrdup("[1,2]");
  CHECK_INT(store_persona_add(s, &p), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "extensions is not a JSON object") != NULL);
  mem_free(p.extensions);
  p.extensions = NULL;
  size_t big = STORE_PERSONA_FIELD_MAX + 1;
  p.description = xalloc(big + 1);
  memset(p.description, 'a', big);
  p.description[big] = 0;
  CHECK_INT(store_persona_add(s, &p), MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "description is 262145 bytes") != NULL);
  store_persona_free(&p);
  store_close(s);
}

static int collect_names(const store_persona *p, void *user) {
  buf *b = user;
  return buf_printf(b, "%s;", p->name);
}

TEST(list_update_remove) {
  store *s = open_mem();
  REQUIRE(s);
  const char *names[] = {"zed", "Alpha", "beta"};
  int64_t ids[3];
  for (int i = 0; i < 3; i++) {
    store_persona p;
    make(&p, names[i], NULL);
    p.enabled = i != 2;
    CHECK_OK(store_persona_add(s, &p));
    ids[i] = p.id;
    store_persona_free(&p);
  }
  buf b;
  buf_init(&b, 0);
  CHECK_OK(store_persona_each(s, false, collect_names, &b));
  CHECK_STR(b.data, "Alpha;beta;zed;");
  buf_reset(&b);
  CHECK_OK(store_persona_each(s, true, collect_names, &b));
  CHECK_STR(b.data, "Alpha;zed;");

  CHECK_OK(store_persona_set_adapter(s, ids[0], "/tmp/a.gguf", 0.5));
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(store_persona_get(s, ids[0], &p));
  CHECK_STR(p.adapter, "/tmp/a.gguf");
  CHECK_NEAR(p.adapter_scale, 0.5, 1e-9);
  CHECK_INT(store_persona_set_adapter(s, 999, "/x", 1), MIMIC_ENOTFOUND);

  CHECK_OK(store_layer_set(s, STORE_SCOPE_PERSONA, (uint64_t)ids[0], "bot.response_rate", "0.5"));
  CHECK_OK(store_persona_remove(s, ids[0]));
  CHECK_INT(store_persona_get(s, ids[0], &p), MIMIC_ENOTFOUND);
  int64_t id;
  CHECK_INT(store_persona_find(s, "zed", &id), MIMIC_ENOTFOUND);
  CHECK_INT(store_layer_get(s, STORE_SCOPE_PERSONA, (uint64_t)ids[0], "bot.response_rate", &b),
            MIMIC_ENOTFOUND);
  CHECK_INT(store_persona_remove(s, ids[0]), MIMIC_ENOTFOUND);
  /* the name is free again */
  store_persona_free(&p);
  make(&p, "ZED", NULL);
  CHECK_OK(store_persona_add(s, &p));
  store_persona_free(&p);
  buf_free(&b);
  store_close(s);
}

TEST(layered_settings_with_provenance) {
  store *s = open_mem();
  REQUIRE(s);
  cfg *c = cfg_new();
  store_persona p;
  make(&p, "Elio", NULL);
  p.has_max_tokens = true;
  p.max_tokens = 64;
  CHECK_OK(store_persona_add(s, &p));
  uint64_t pid = (uint64_t)p.id;
  const uint64_t ch = 555, guild = 777;
  buf v;
  buf_init(&v, 0);
  store_layer_src src;
  char where[64];

  /* nothing set: the config's default answers */
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, cfg_key_default(CFG_BOT_RESPONSE_RATE));
  CHECK_INT(src.kind, STORE_SCOPE_GLOBAL);
  store_layer_src_describe(&src, where, sizeof where);
  CHECK_STR(where, "global (default)");
  /* the config file beats the default */
  CHECK_OK(cfg_set(c, "bot.response_rate", "0.1", CFG_SRC_FILE));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.1");
  CHECK_INT(src.cfg_src, CFG_SRC_FILE);
  /* guild beats global, channel beats guild, persona beats channel */
  CHECK_OK(store_layer_set(s, STORE_SCOPE_GUILD, guild, "bot.response_rate", "0.2"));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.2");
  CHECK_INT(src.kind, STORE_SCOPE_GUILD);
  CHECK(src.id == guild);
  CHECK_OK(store_layer_set(s, STORE_SCOPE_CHANNEL, ch, "bot.response_rate", "0.3"));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.3");
  CHECK_INT(src.kind, STORE_SCOPE_CHANNEL);
  CHECK_OK(store_layer_set(s, STORE_SCOPE_PERSONA, pid, "bot.response_rate", "0.4"));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.4");
  CHECK_INT(src.kind, STORE_SCOPE_PERSONA);
  store_layer_src_describe(&src, where, sizeof where);
  char want[64];
  snprintf(want, sizeof want, "persona %llu", (unsigned long long)pid);
  CHECK_STR(where, want);
  /* the bot user (persona 0) skips the persona layer; another channel skips the channel's */
  CHECK_OK(store_layer_resolve(s, c, 0, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.3");
  CHECK_OK(store_layer_resolve(s, c, 0, 9, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.2");
  CHECK_OK(store_layer_resolve(s, c, 0, 9, 0, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.1");
  /* deleting a layer uncovers the next one */
  CHECK_OK(store_layer_delete(s, STORE_SCOPE_PERSONA, pid, "bot.response_rate"));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "bot.response_rate", &v, &src));
  CHECK_STR(v.data, "0.3");

  /* the persona's own sampling override is its layer for engine.max_tokens */
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "engine.max_tokens", &v, &src));
  CHECK_STR(v.data, "64");
  CHECK_INT(src.kind, STORE_SCOPE_PERSONA);
  /* ...but an explicit persona-scope setting wins over it */
  CHECK_OK(store_layer_set(s, STORE_SCOPE_PERSONA, pid, "engine.max_tokens", "99"));
  CHECK_OK(store_layer_resolve(s, c, p.id, ch, guild, "engine.max_tokens", &v, &src));
  CHECK_STR(v.data, "99");

  /* values are checked against the key's type and bounds; unknown keys and scopes refused */
  CHECK_INT(store_layer_set(s, STORE_SCOPE_GUILD, guild, "bot.response_rate", "7"), MIMIC_ERANGE);
  CHECK_INT(store_layer_set(s, STORE_SCOPE_GUILD, guild, "no.such_key", "1"), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "no.such_key is not a setting") != NULL);
  CHECK_INT(store_layer_set(s, STORE_SCOPE_GUILD, guild, "discord.token", "x"), MIMIC_EINVAL);
  CHECK_INT(store_layer_set(s, STORE_SCOPE_GLOBAL, 1, "bot.response_rate", "0.1"), MIMIC_EINVAL);
  CHECK_INT(store_layer_set(s, STORE_SCOPE_CHANNEL, 0, "bot.response_rate", "0.1"), MIMIC_EINVAL);
  CHECK_INT(store_layer_resolve(s, c, 0, 0, 0, "nope", &v, &src), MIMIC_EINVAL);
  /* NULL cfg: the key's default */
  CHECK_OK(store_layer_resolve(s, NULL, 0, 0, 0, "engine.temperature", &v, &src));
  CHECK_STR(v.data, cfg_key_default(CFG_ENGINE_TEMPERATURE));

  buf_free(&v);
  store_persona_free(&p);
  cfg_destroy(c);
  store_close(s);
}

static int count_layer(store_scope kind, uint64_t id, const char *key, const char *value,
                       void *user) {
  (void)kind;
  (void)id;
  (void)key;
  (void)value;
  (*(int *)user)++;
  return 0;
}

TEST(layer_each) {
  store *s = open_mem();
  REQUIRE(s);
  CHECK_OK(store_layer_set(s, STORE_SCOPE_CHANNEL, 5, "bot.cooldown_s", "30"));
  CHECK_OK(store_layer_set(s, STORE_SCOPE_CHANNEL, 5, "bot.response_rate", "0.5"));
  CHECK_OK(store_layer_set(s, STORE_SCOPE_GUILD, 6, "bot.cooldown_s", "10"));
  int n = 0;
  CHECK_OK(store_layer_each(s, STORE_SCOPE_CHANNEL, 5, count_layer, &n));
  CHECK_INT(n, 2);
  n = 0;
  CHECK_OK(store_layer_each(s, STORE_SCOPE_GLOBAL, 0, count_layer, &n));
  CHECK_INT(n, 3);
  store_close(s);
}

int main(void) {
  RUN(add_get_by_id_name_alias);
  RUN(names_and_aliases_unique_ignoring_case);
  RUN(checks_say_one_sentence);
  RUN(list_update_remove);
  RUN(layered_settings_with_provenance);
  RUN(layer_each);
  TEST_MAIN_END();
}
