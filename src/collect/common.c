/* Pieces every importer shares: the per-import context (user cache, privacy flags,
 * progress), the import ledger, embed text, and the tables that map exporter names to Discord's
 * message and channel type numbers. */
#include <string.h>

#include "collect/collect_int.h"

/* ---- import context -------------------------------------------------------------------------- */

void collect__ctx_init(collect_ctx *c, store *s, const collect_import_opts *o,
                       collect_import_stats *st) {
  static const collect_import_opts none = {0};
  memset(c, 0, sizeof *c);
  c->s = s;
  c->o = o ? o : &none;
  c->st = st;
  memset(st, 0, sizeof *st);
  map_init(&c->users);
  c->users_max = COLLECT_USER_CACHE_MAX;
  c->t0_ns = c->last_progress_ns = clock_mono_ns();
}

void collect__ctx_free(collect_ctx *c) { map_free(&c->users); }

/* Remembers a user's flags, starting the cache over when it is full (bounded memory whatever the
 * number of distinct people in the input). */
static void remember_user(collect_ctx *c, uint64_t id, uint32_t flags) {
  if (c->users.len >= c->users_max) {
    map_clear(&c->users);
    c->users_cleared++;
  }
  map_put_uint(&c->users, id, (uintptr_t)flags + 1);
}

int collect__user_flags(collect_ctx *c, uint64_t id, uint32_t *flags) {
  uintptr_t v = map_get_uint(&c->users, id);
  if (v) {
    *flags = (uint32_t)(v - 1);
    return 0;
  }
  int rc = store_user_flags(c->s, id, flags);
  if (rc) return rc;
  remember_user(c, id, *flags);
  return 0;
}

int collect__user(collect_ctx *c, const store_user *u, uint32_t *flags) {
  uintptr_t v = map_get_uint(&c->users, u->id);
  if (v) {
    *flags = (uint32_t)(v - 1);
    return 0;
  }
  int rc = store_user_upsert(c->s, u);
  if (!rc) rc = store_user_flags(c->s, u->id, flags);
  if (rc) return rc;
  remember_user(c, u->id, *flags);
  return 0;
}

void collect__progress(collect_ctx *c, bool force) {
  uint64_t now = clock_mono_ns();
  if (!force && now - c->last_progress_ns < 500000000ull) return;
  c->last_progress_ns = now;
  c->st->seconds = (double)(now - c->t0_ns) / 1e9;
  if (c->o->progress) c->o->progress(c->st, c->o->user);
}

static int put_line(buf *out, const char *s) {
  if (!s || !*s) return 0;
  if (out->len && buf_putc(out, '\n')) return MIMIC_ERANGE;
  return buf_puts(out, s);
}

int collect__embeds_text(const json_t *embeds, buf *out) {
  buf_reset(out);
  size_t i;
  const json_t *e;
  if (!json_is_array(embeds)) return 0;
  json_array_foreach(embeds, i, e) {
    if (!json_is_object(e)) continue;
    const json_t *author = json_object_get(e, "author");
    if (json_is_object(author) && put_line(out, jv_str(author, "name", NULL))) goto range;
    if (put_line(out, jv_str(e, "title", NULL)) || put_line(out, jv_str(e, "description", NULL)))
      goto range;
    const json_t *fields = json_object_get(e, "fields");
    size_t k;
    const json_t *f;
    if (json_is_array(fields)) json_array_foreach(fields, k, f) {
        if (put_line(out, jv_str(f, "name", NULL)) || put_line(out, jv_str(f, "value", NULL)))
          goto range;
      }
    const json_t *footer = json_object_get(e, "footer");
    if (json_is_object(footer) && put_line(out, jv_str(footer, "text", NULL))) goto range;
  }
  return 0;
range:
  return err_set(MIMIC_ERANGE, "embeds text longer than %zu bytes", out->limit);
}

/* ---- type tables ------------------------------------------------------------------------------
 */

typedef struct name_num {
  const char *name;
  int num;
} name_num;

static const name_num msg_types[] = {
    {"Default", 0},
    {"RecipientAdd", 1},
    {"RecipientRemove", 2},
    {"Call", 3},
    {"ChannelNameChange", 4},
    {"ChannelIconChange", 5},
    {"ChannelPinnedMessage", 6},
    {"GuildMemberJoin", 7},
    {"UserPremiumGuildSubscription", 8},
    {"UserPremiumGuildSubscriptionTier1", 9},
    {"UserPremiumGuildSubscriptionTier2", 10},
    {"UserPremiumGuildSubscriptionTier3", 11},
    {"ChannelFollowAdd", 12},
    {"GuildDiscoveryDisqualified", 14},
    {"GuildDiscoveryRequalified", 15},
    {"ThreadCreated", 18},
    {"Reply", 19},
    {"ChatInputCommand", 20},
    {"ApplicationCommand", 20},
    {"ThreadStarterMessage", 21},
    {"GuildInviteReminder", 22},
    {"ContextMenuCommand", 23},
    {"AutoModerationAction", 24},
};

static const name_num ch_types[] = {
    {"GuildTextChat", STORE_CH_GUILD_TEXT},
    {"DirectTextChat", STORE_CH_DM},
    {"GuildVoiceChat", STORE_CH_GUILD_VOICE},
    {"DirectGroupTextChat", STORE_CH_GROUP_DM},
    {"GuildCategory", STORE_CH_GUILD_CATEGORY},
    {"GuildNews", STORE_CH_GUILD_NEWS},
    {"GuildNewsThread", STORE_CH_NEWS_THREAD},
    {"GuildPublicThread", STORE_CH_PUBLIC_THREAD},
    {"GuildPrivateThread", STORE_CH_PRIVATE_THREAD},
    {"GuildStageVoice", STORE_CH_STAGE},
    {"GuildDirectory", STORE_CH_DIRECTORY},
    {"GuildForum", STORE_CH_FORUM},
    /* data package spellings */
    {"GUILD_TEXT", STORE_CH_GUILD_TEXT},
    {"DM", STORE_CH_DM},
    {"GUILD_VOICE", STORE_CH_GUILD_VOICE},
    {"GROUP_DM", STORE_CH_GROUP_DM},
    {"GUILD_CATEGORY", STORE_CH_GUILD_CATEGORY},
    {"GUILD_NEWS", STORE_CH_GUILD_NEWS},
    {"GUILD_ANNOUNCEMENT", STORE_CH_GUILD_NEWS},
    {"NEWS_THREAD", STORE_CH_NEWS_THREAD},
    {"ANNOUNCEMENT_THREAD", STORE_CH_NEWS_THREAD},
    {"PUBLIC_THREAD", STORE_CH_PUBLIC_THREAD},
    {"PRIVATE_THREAD", STORE_CH_PRIVATE_THREAD},
    {"GUILD_STAGE_VOICE", STORE_CH_STAGE},
    {"GUILD_FORUM", STORE_CH_FORUM},
};

static int lookup(const name_num *t, size_t n, const char *name, int max) {
  if (!name || !*name) return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0) return t[i].num;
  int64_t v;
  if (str_to_i64(name, &v) == 0 && v >= 0 && v <= max) return (int)v;
  err_clear();
  return -1;
}

int collect_msg_type_from_name(const char *name) {
  return lookup(msg_types, sizeof msg_types / sizeof msg_types[0], name, 255);
}

int collect_channel_type_from_name(const char *name) {
  return lookup(ch_types, sizeof ch_types / sizeof ch_types[0], name, 255);
}

bool collect_msg_is_conversational(int type) { return type == 0 || type == 19; }

int64_t collect_snowflake_ms(uint64_t id) { return (int64_t)(id >> 22) + 1420070400000LL; }

int collect__msg_upsert(collect_ctx *c, const store_msg *m, bool *inserted) {
  size_t len = strlen(m->content);
  if (len <= COLLECT_MESSAGE_MAX) return store_msg_upsert(c->s, m, inserted);
  store_msg cut = *m;
  size_t k = utf8_floor(m->content, len, COLLECT_MESSAGE_MAX);
  char *text = xalloc(k + 1);
  memcpy(text, m->content, k);
  text[k] = 0;
  cut.content = text;
  if (c->st->cut_long++ < COLLECT_CUT_IDS)
    LOG_W("import", "message %llu: %zu bytes of text cut to %zu (the most prepare uses)",
          (unsigned long long)m->id, len, k);
  int rc = store_msg_upsert(c->s, &cut, inserted);
  mem_free(text);
  return rc;
}
