/* The cast, live: the personas loaded from the store (store/persona.h) with a compiled routing
 * snapshot (persona_route.h), who answers a message, their system prompts from the card and its
 * template, their adapters (hot-loaded by name when the file changes, so the base never reloads),
 * their layered sampling, their memory, the DM choices, and their own messages recognised so the
 * bot never answers itself. Below the queue in the bot's stack (bot_int.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BOT_LEVEL BOT_L_PERSONA
#include "bot/bot_int.h"
#include "collect/card.h"
#include "store/webhooks.h"

#define PERSONA_PROMPT_MAX (16 << 10) /* bytes of a persona's system prompt */
#define PERSONA_EMBED_TEXT 2000       /* bytes of card or message text embedded */
#define PERSONA_LORE_BYTES 4096       /* bytes of the card's own character_book in its prompt */

/* ---- loading ---- */

typedef struct ids {
  int64_t *v;
  size_t n, cap;
  int64_t newest;
} ids;

static int collect_id(const store_persona *p, void *user) {
  ids *l = user;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = xrealloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = p->id;
  if (p->updated_ms > l->newest) l->newest = p->updated_ms;
  return 0;
}

static bool is_url(const char *s) {
  return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static void cast_free(bot_persona *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    store_persona_free(&v[i].p);
    mem_free(v[i].vec);
  }
  mem_free(v);
}

void persona__free(bot *b) {
  cast_free(b->cast, b->n_cast);
  b->cast = NULL;
  b->n_cast = 0;
  proute_set_destroy(b->route);
  b->route = NULL;
  map_free(&b->dm_choice);
}

/* Appends one World Info entry of the persona's own lore ("keys: text") while it fits. */
static int lore_text(const store_lore_chunk *c, void *user) {
  buf *t = user;
  if (buf_printf(t, " %s: %s", c->keys ? c->keys : "", c->text ? c->text : "")) {
    err_clear();
    return 1; /* full: stop */
  }
  return 0;
}

/* The text the relevance stage compares messages with: the card's description, personality and
 * scenario, then the World Info of its own lore scope (its character book), up to
 * PERSONA_EMBED_TEXT bytes. */
static void embed_card(bot *b, bot_persona *bp) {
  if (!b->emb || b->emb->dim <= 0) return;
  buf t;
  buf_init(&t, PERSONA_EMBED_TEXT);
  const store_persona *p = &bp->p;
  if (buf_printf(&t, "%s. %s %s %s", p->name, p->description ? p->description : "",
                 p->personality ? p->personality : "", p->scenario ? p->scenario : ""))
    err_clear(); /* over the cap: what fits is enough */
  else {
    const char *scope = p->lore_scope && *p->lore_scope ? p->lore_scope : p->name;
    int rc = store_lore_wi_each(b->db, &scope, 1, lore_text, &t);
    if (rc < 0) {
      LOG_W("bot", "persona %s: its lore is left out of relevance (%s)", p->name, err_msg());
      err_clear();
    }
  }
  const char *text = t.data ? t.data : p->name;
  bp->vec = xcalloc((size_t)b->emb->dim, sizeof *bp->vec);
  if (b->emb->embed(b->emb->user, &text, 1, bp->vec) != 0) {
    LOG_W("bot", "persona %s: relevance off (%s)", p->name, err_msg());
    err_clear();
    mem_free(bp->vec);
    bp->vec = NULL;
  }
  buf_free(&t);
}

int persona__load(bot *b, bool force) {
  int64_t now = bot__now(b);
  if (!force && b->route && now - b->cast_check_ms < BOT_PERSONA_RELOAD_MS) return 0;
  b->cast_check_ms = now;
  ids l = {0};
  int rc = store_persona_each(b->db, true, collect_id, &l);
  if (rc) {
    mem_free(l.v);
    return err_prefix(rc, "loading the personas");
  }
  /* With an encoder, a change of the lore store's size re-reads the cast too: the relevance
   * vectors hold each persona's own lore. */
  int64_t lore_n = 0;
  if (b->emb && store_lore_chunk_count(b->db, &lore_n)) {
    err_clear();
    lore_n = 0;
  }
  int64_t sig = (l.newest * 4099 + (int64_t)l.n) * 31 + lore_n;
  if (!force && b->route && sig == b->cast_sig) {
    mem_free(l.v);
    return 0;
  }
  bot_persona *v = l.n ? xcalloc(l.n, sizeof *v) : NULL;
  size_t n = 0;
  for (size_t i = 0; i < l.n; i++) {
    bot_persona *bp = &v[n];
    store_persona_init(&bp->p);
    if (store_persona_get(b->db, l.v[i], &bp->p) != 0) { /* removed meanwhile */
      err_clear();
      store_persona_free(&bp->p);
      continue;
    }
    snprintf(bp->memkey, sizeof bp->memkey, "persona:%" PRId64, bp->p.id);
    /* what was loaded into the engine stays loaded */
    const bot_persona *old = persona__get(b, bp->p.id);
    if (old) {
      str_lcpy(bp->adapter, old->adapter, sizeof bp->adapter);
      str_lcpy(bp->loaded_path, old->loaded_path, sizeof bp->loaded_path);
      bp->loaded_mtime = old->loaded_mtime;
      bp->loaded_scale = old->loaded_scale;
    }
    const char *av = bp->p.avatar ? bp->p.avatar : "";
    if (*av && !is_url(av)) {
      struct stat st;
      bp->avatar_file = true;
      if (stat(av, &st) == 0)
        snprintf(bp->avatar_key, sizeof bp->avatar_key, "%jd-%jd-%" PRId64, (intmax_t)st.st_size,
                 (intmax_t)st.st_mtime, bp->p.id);
      else
        LOG_W("bot", "persona %s: avatar %s cannot be read; the webhook's avatar is used",
              bp->p.name, av);
    }
    embed_card(b, bp);
    n++;
  }
  mem_free(l.v);
  proute_persona *pp = n ? xcalloc(n, sizeof *pp) : NULL;
  for (size_t i = 0; i < n; i++) {
    const store_persona *p = &v[i].p;
    pp[i] = (proute_persona){.id = p->id,
                             .name = p->name,
                             .aliases = (const char *const *)p->aliases.v,
                             .n_aliases = p->aliases.n,
                             .keywords = (const char *const *)p->keywords.v,
                             .n_keywords = p->keywords.n,
                             .regexes = (const char *const *)p->regexes.v,
                             .n_regexes = p->regexes.n,
                             .channels = p->channels,
                             .n_channels = p->n_channels,
                             .freewill = p->freewill,
                             .vec = v[i].vec};
  }
  proute_set *route = NULL;
  rc = proute_set_new(pp, n, b->emb ? b->emb->dim : 0, &route);
  mem_free(pp);
  if (rc) {
    cast_free(v, n);
    return err_prefix(rc, "compiling the personas' triggers");
  }
  if (n || b->n_cast) LOG_I("bot", "%zu personas loaded", n);
  cast_free(b->cast, b->n_cast);
  proute_set_destroy(b->route);
  b->cast = v;
  b->n_cast = n;
  b->route = route;
  b->cast_sig = sig;
  return 0;
}

int bot_persona_reload(bot *b) { return persona__load(b, true); }

bot_persona *persona__get(bot *b, int64_t id) {
  for (size_t i = 0; id && i < b->n_cast; i++)
    if (b->cast[i].p.id == id) return &b->cast[i];
  return NULL;
}

/* ---- the cast's own messages ---- */

/* m's text without the PluralKit-style quote line mimic puts on a webhook's reply. */
static const char *after_quote(const char *s) {
  if (strncmp(s, "> ", 2) != 0) return s;
  const char *nl = strchr(s, '\n');
  if (!nl) return s;
  bool ours = strncmp(s, "> <@", 4) == 0;
  for (const char *p = s; p < nl && !ours; p++)
    ours = strncmp(p, "](https://discord.com/", 22) == 0;
  return ours ? nl + 1 : s;
}

int64_t persona__author(bot *b, const discord_message *m, char **text) {
  if (text) *text = NULL;
  int64_t pid = 0;
  const char *content = m->content ? m->content : "";
  const char *rest = content;
  if (m->webhook_id) {
    if (!store_hook_is_ours(b->db, m->webhook_id)) return 0;
    if (store_persona_msg_get(b->db, m->id, &pid) != 0) {
      err_clear();
      pid = proute_set_find(b->route, m->author.username);
    }
    rest = after_quote(content);
  } else if (b->self_id && m->author.id == b->self_id && strncmp(content, "**", 2) == 0) {
    const char *end = strstr(content + 2, "**: ");
    if (!end || end - content > 2 + STORE_PERSONA_NAME_MAX) return 0;
    if (store_persona_msg_get(b->db, m->id, &pid) != 0) {
      err_clear();
      char name[STORE_PERSONA_NAME_MAX + 1];
      size_t n = (size_t)(end - content - 2);
      memcpy(name, content + 2, n);
      name[n] = 0;
      pid = proute_set_find(b->route, name);
    }
    if (pid) rest = end + 4;
  } else {
    return 0;
  }
  if (!pid) return 0;
  if (store_persona_msg_put(b->db, m->id, m->channel_id, pid, m->webhook_id,
                            m->timestamp_ms ? m->timestamp_ms : bot__now(b))) {
    LOG_W("bot", "message %" PRIu64 ": %s", m->id, err_msg());
    err_clear();
  }
  if (text) *text = xstrdup(rest);
  return pid;
}

void persona__remember(bot *b, uint64_t channel_id, const discord_message *m, int64_t author,
                       int64_t now, const char *name, const char *text) {
  for (size_t i = 0; i < b->n_cast; i++) {
    bot_persona *bp = &b->cast[i];
    if (!memory_known(b->mem, channel_id, bp->memkey)) continue;
    bool self = bp->p.id == author;
    if (self) memory_settle(b->mem, channel_id, bp->memkey, text);
    memory_add(b->mem, channel_id, bp->memkey, m->id, m->author.id, now, self,
               self ? bp->p.name : name, text);
  }
}

void persona__spoke(bot_chan *c, int64_t id, int64_t now) {
  size_t at = c->n_spoke;
  for (size_t i = 0; i < c->n_spoke; i++)
    if (c->spoke[i].id == id) at = i;
  if (at == c->n_spoke) {
    if (c->n_spoke < sizeof c->spoke / sizeof c->spoke[0]) {
      c->n_spoke++;
    } else { /* the longest quiet one makes room */
      at = 0;
      for (size_t i = 1; i < c->n_spoke; i++)
        if (c->spoke[i].ms < c->spoke[at].ms) at = i;
    }
  }
  c->spoke[at].id = id;
  c->spoke[at].ms = now;
}

static int64_t last_spoke(void *user, int64_t id) {
  const bot_chan *c = user;
  for (size_t i = 0; i < c->n_spoke; i++)
    if (c->spoke[i].id == id) return c->spoke[i].ms;
  return 0;
}

/* ---- DM choices ---- */

int64_t persona__dm_choice(bot *b, uint64_t user_id) {
  void *v = map_get(&b->dm_choice, user_id);
  if (v) return (int64_t)(uintptr_t)v - 1;
  int64_t id = store_dm_choice_get(b->db, user_id);
  map_put(&b->dm_choice, user_id, (void *)(uintptr_t)(id + 1));
  return id;
}

int persona__dm_choose(bot *b, uint64_t user_id, int64_t persona_id) {
  int rc = store_dm_choice_set(b->db, user_id, persona_id, bot__now(b));
  if (rc) return rc;
  map_put(&b->dm_choice, user_id, (void *)(uintptr_t)(persona_id + 1));
  return 0;
}

/* ---- who answers ---- */

typedef struct vec_ctx {
  bot *b;
  uint64_t channel_id;
  const char *content;
  float *vec;
  bool tried;
} vec_ctx;

/* The message with its recent context, embedded (only when the relevance stage is reached). */
static const float *message_vec(void *user) {
  vec_ctx *v = user;
  bot *b = v->b;
  if (v->tried) return v->vec;
  v->tried = true;
  buf t;
  buf_init(&t, PERSONA_EMBED_TEXT);
  int ctx = (int)cfg_int(b->cfg, CFG_PERSONA_RELEVANCE_CONTEXT);
  const memory_entry *hist[21];
  size_t n =
      ctx > 0 ? memory_get(b->mem, v->channel_id, b->persona, bot__now(b), 0, hist, (size_t)ctx + 1)
              : 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = buf_printf(&t, "%s\n", hist[i]->text);
  if (!n && !rc) rc = buf_puts(&t, v->content);
  if (rc) err_clear(); /* the newest part may be cut: enough to compare */
  const char *text = t.data ? t.data : "";
  v->vec = xcalloc((size_t)b->emb->dim, sizeof *v->vec);
  if (b->emb->embed(b->emb->user, &text, 1, v->vec) != 0) {
    LOG_W("bot", "relevance skipped: %s", err_msg());
    err_clear();
    mem_free(v->vec);
    v->vec = NULL;
  }
  buf_free(&t);
  return v->vec;
}

/* An unprompted persona waits out its cooldown (layered: persona, channel, guild, global). */
static bool cooling(bot *b, bot_chan *c, int64_t id, uint64_t guild_id) {
  int64_t last = last_spoke(c, id);
  if (!last) return false;
  buf v;
  buf_init(&v, 64);
  int64_t s = cfg_int(b->cfg, CFG_BOT_COOLDOWN_S);
  if (store_layer_resolve(b->db, b->cfg, id, c->id, guild_id, "bot.cooldown_s", &v, NULL) == 0) {
    if (str_to_i64(v.data ? v.data : "", &s)) err_clear();
  } else {
    err_clear();
  }
  buf_free(&v);
  return bot__now(b) - last < s * 1000;
}

size_t persona__route(bot *b, bot_chan *c, const discord_message *m, int64_t author_persona,
                      proute_pick *out, size_t cap) {
  if (persona__load(b, false)) {
    LOG_W("bot", "%s", err_msg());
    err_clear();
  }
  if (!b->route || !proute_set_count(b->route)) return 0;
  bool foreign_hook = m->webhook_id && !author_persona;
  if (foreign_hook && !cfg_bool(b->cfg, CFG_PERSONA_ANSWER_WEBHOOKS)) return 0;
  int64_t reply_to = 0;
  if (m->ref_message_id && store_persona_msg_get(b->db, m->ref_message_id, &reply_to) != 0) {
    err_clear();
    reply_to = 0;
  }
  vec_ctx vc = {.b = b, .channel_id = m->channel_id, .content = m->content ? m->content : ""};
  proute_msg pm = {
      .channel_id = m->channel_id,
      .parent_id = c->parent_id,
      .is_dm = c->is_dm,
      .content = m->content,
      .reply_to_persona = reply_to,
      .dm_choice = c->is_dm ? persona__dm_choice(b, m->author.id) : 0,
      .author_persona = author_persona,
      .triggers_only_addressed = author_persona || m->author.bot || foreign_hook,
      .vec_fn = b->emb ? message_vec : NULL,
      .vec_user = &vc,
      .relevance_threshold = cfg_num(b->cfg, CFG_PERSONA_RELEVANCE_THRESHOLD),
      .max_answer = (int)cfg_int(b->cfg, CFG_PERSONA_MAX_PER_MESSAGE),
      .last_spoke = last_spoke,
      .user = c,
  };
  size_t n = proute_decide(b->route, &pm, &b->rng, out, cap);
  mem_free(vc.vec);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = proute_set_name(b->route, out[i].id);
    if (!proute_is_addressed(out[i].why) && cooling(b, c, out[i].id, m->guild_id)) {
      LOG_D("bot", "message %" PRIu64 ": persona %s is cooling down (%s)", m->id, name,
            proute_why_name(out[i].why));
      continue;
    }
    LOG_I("bot", "channel %" PRIu64 " message %" PRIu64 ": persona %s answers (%s%s)",
          m->channel_id, m->id, name, proute_why_name(out[i].why),
          out[i].why == PROUTE_RELEVANCE ? ", relevance above the threshold" : "");
    out[k++] = out[i];
  }
  if (k) {
    c->pick_persona = out[0].id;
    c->pick_why = out[0].why;
    c->pick_message = m->id;
  }
  return k;
}

/* ---- prompts, adapters, sampling ---- */

char *persona__macros(const char *s, const char *ch, const char *user) {
  buf o;
  buf_init(&o, PERSONA_PROMPT_MAX);
  if (card_macros(s ? s : "", ch, user && *user ? user : "User", &o))
    err_clear(); /* over the cap: what fitted is kept */
  return buf_steal(&o);
}

/* The card's prompt as training lays it out (collect/card.h), so the voice a persona was trained
 * with meets the same prompt live, then the card's post-history instructions. */
char *persona__system_prompt(bot *b, const bot_persona *bp, const char *user_name) {
  (void)b;
  const store_persona *p = &bp->p;
  const char *user = user_name && *user_name ? user_name : "User";
  buf o;
  buf_init(&o, PERSONA_PROMPT_MAX);
  int rc = card_system_prompt(p, NULL, user, PERSONA_LORE_BYTES, &o);
  if (!rc && p->post_history_instructions && *p->post_history_instructions) {
    rc = buf_puts(&o, "\n\n");
    if (!rc) rc = card_macros(p->post_history_instructions, p->name, user, &o);
  }
  if (rc) err_clear(); /* over PERSONA_PROMPT_MAX: what fitted is kept */
  return buf_steal(&o);
}

static bool resolve_num(bot *b, int64_t id, uint64_t channel, uint64_t guild, const char *key,
                        double *out) {
  buf v;
  buf_init(&v, 64);
  bool ok = store_layer_resolve(b->db, b->cfg, id, channel, guild, key, &v, NULL) == 0 &&
            str_to_double(v.data ? v.data : "", out) == 0;
  if (!ok) err_clear();
  buf_free(&v);
  return ok;
}

/* Loads (or reloads, when the file or scale changed) the persona's adapter under its own name. */
static void adapter_ready(bot *b, bot_persona *bp) {
  const char *path = bp->p.adapter ? bp->p.adapter : "";
  if (!*path || !b->backend) {
    bp->adapter[0] = 0;
    return;
  }
  struct stat st;
  int64_t mtime = stat(path, &st) == 0 ? (int64_t)st.st_mtime : -1;
  if (bp->adapter[0] && strcmp(bp->loaded_path, path) == 0 && bp->loaded_mtime == mtime &&
      bp->loaded_scale == bp->p.adapter_scale)
    return;
  char name[40];
  snprintf(name, sizeof name, "persona:%" PRId64, bp->p.id);
  if (llm_backend_adapter_load(b->backend, name, path, (float)bp->p.adapter_scale) != 0) {
    if (strcmp(bp->loaded_path, path) != 0 || bp->loaded_mtime != mtime)
      LOG_W("bot", "persona %s: adapter not loaded, speaking with the base model: %s", bp->p.name,
            err_msg());
    err_clear();
    bp->adapter[0] = 0;
  } else {
    LOG_I("bot", "persona %s: adapter %s loaded", bp->p.name, path);
    str_lcpy(bp->adapter, name, sizeof bp->adapter);
  }
  str_lcpy(bp->loaded_path, path, sizeof bp->loaded_path);
  bp->loaded_mtime = mtime;
  bp->loaded_scale = bp->p.adapter_scale;
}

void persona__sampling(bot *b, int64_t id, uint64_t channel_id, uint64_t guild_id,
                       llm_request *req) {
  double v;
  if (resolve_num(b, id, channel_id, guild_id, "engine.temperature", &v))
    req->sampling.temperature = (float)v;
  if (resolve_num(b, id, channel_id, guild_id, "engine.top_p", &v)) req->sampling.top_p = (float)v;
  if (resolve_num(b, id, channel_id, guild_id, "engine.max_tokens", &v) && v >= 1)
    req->max_tokens = (int)v;
}

void persona__request(bot *b, bot_persona *bp, uint64_t channel_id, uint64_t guild_id,
                      llm_request *req) {
  persona__sampling(b, bp->p.id, channel_id, guild_id, req);
  adapter_ready(b, bp);
  if (bp->adapter[0]) {
    req->adapter = bp->adapter;
    req->adapter_scale = -1; /* the scale it was loaded with */
  } else {
    req->adapter = NULL;
    req->adapter_scale = 0; /* the base model with the card, whatever the default adapter is */
  }
}
