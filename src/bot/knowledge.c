/* Background knowledge for a prompt (see bot_int.h, knowledge__build): World Info entries the
 * recent messages trigger, lore passages retrieved for the message, and community messages
 * recalled from other times, within lore.budget_tokens. Retrieval gives context, never style
 * (style is in the weights), so the block says plainly that it is background and not part of the
 * conversation. Not here: ranking or activation (the lore layer), the prompt itself (context.c). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define BOT_LEVEL BOT_L_RECALL
#include "bot/bot_int.h"
#include "lore/lore.h"

#define LORE_SCOPES_MAX 8

void knowledge__setting(bot *b, uint64_t guild_id, const bot_persona *bp, cfg_id key, buf *out) {
  const char *name = cfg_key_get(key)->name;
  char scope[160];
  buf_reset(out);
  /* A persona answering: its layered setting (`!persona set NAME lore.x v`), then its lore setting
   * (`mimic lore set --persona NAME`). The bot user: the run's --persona name, as before. */
  if (bp) {
    if (store_layer_get(b->db, STORE_SCOPE_PERSONA, (uint64_t)bp->p.id, name, out) == 0) return;
    err_clear();
  }
  const char *pname = bp ? bp->p.name : b->persona;
  if (pname && pname[0]) {
    snprintf(scope, sizeof scope, "persona:%s", pname);
    if (store_setting_get(b->db, scope, name, out) == 0) return;
    err_clear();
  }
  if (guild_id) {
    snprintf(scope, sizeof scope, "guild:%" PRIu64, guild_id);
    if (store_setting_get(b->db, scope, name, out) == 0) return;
    err_clear();
  }
  buf_reset(out);
  if (buf_puts(out, cfg_str(b->cfg, key))) err_clear();
}

/* A switch or a number through knowledge__setting; a stored value that does not parse (or breaks
 * the key's bounds) falls back to the config's. */
static bool setting_bool(bot *b, uint64_t guild, const bot_persona *bp, cfg_id key) {
  buf v;
  buf_init(&v, 0);
  knowledge__setting(b, guild, bp, key, &v);
  bool on;
  if (!v.data || str_to_bool(v.data, &on)) on = cfg_bool(b->cfg, key), err_clear();
  buf_free(&v);
  return on;
}

static double setting_num(bot *b, uint64_t guild, const bot_persona *bp, cfg_id key) {
  buf v;
  buf_init(&v, 0);
  knowledge__setting(b, guild, bp, key, &v);
  const cfg_key *k = cfg_key_get(key);
  double d;
  if (!v.data || str_to_double(v.data, &d) || (k->min < k->max && (d < k->min || d > k->max)))
    d = k->type == CFG_INT ? (double)cfg_int(b->cfg, key) : cfg_num(b->cfg, key), err_clear();
  buf_free(&v);
  return d;
}

typedef struct scope_set {
  char names[LORE_SCOPES_MAX][STORE_LORE_SCOPE_MAX];
  const char *v[LORE_SCOPES_MAX];
  size_t n;
} scope_set;

static void scope_add(scope_set *s, const char *name, size_t len) {
  if (s->n == LORE_SCOPES_MAX || len >= STORE_LORE_SCOPE_MAX) return;
  for (size_t i = 0; i < s->n; i++)
    if (strlen(s->names[i]) == len && memcmp(s->names[i], name, len) == 0) return;
  memcpy(s->names[s->n], name, len);
  s->names[s->n][len] = 0;
  s->v[s->n] = s->names[s->n];
  s->n++;
}

/* The lore scopes a reply reads: global, the persona's (an answering persona's lore_scope, else
 * its name, where its card's character_book was stored; for the bot user the run's --persona),
 * the guild's, and lore.scopes. */
static void scopes_for(bot *b, uint64_t guild, const bot_persona *bp, scope_set *s) {
  memset(s, 0, sizeof *s);
  scope_add(s, "", 0);
  const char *own =
      bp ? (bp->p.lore_scope && *bp->p.lore_scope ? bp->p.lore_scope : bp->p.name) : b->persona;
  if (own && own[0]) scope_add(s, own, strlen(own));
  if (guild) {
    char g[48];
    int n = snprintf(g, sizeof g, "guild:%" PRIu64, guild);
    scope_add(s, g, (size_t)n);
  }
  buf v;
  buf_init(&v, 0);
  knowledge__setting(b, guild, bp, CFG_LORE_SCOPES, &v);
  const char *p = v.data ? v.data : "";
  while (*p) {
    while (*p == ',' || *p == ' ') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    size_t l = (size_t)(e - p);
    while (l && p[l - 1] == ' ') l--;
    if (l) scope_add(s, p, l);
    p = e;
  }
  buf_free(&v);
}

static int count_tokens(void *user, const char *text, size_t n) {
  (void)user;
  return context_estimate_tokens(text, n);
}

static const char k_header[] = "Background knowledge (for context only: none of it was said in "
                               "this conversation; never quote it as something someone said "
                               "here):\n";
static const char k_world[] = "[World]\n", k_lore[] = "[Lore]\n",
                  k_recall[] = "[Things members said at other times]\n";

static int est(const char *s) { return context_estimate_tokens(s, strlen(s)); }

/* Appends one line "- text" (or "- title: text") when it fits the budget left; the section's
 * label is paid for with its first line. */
static bool add_line(buf *out, int *left, const char *label, const char *title, const char *text,
                     bool quote) {
  int cost = est(text) + 2 + (title && *title ? est(title) : 0) + (out->len ? 0 : est(label));
  if (cost > *left) return false;
  int rc = buf_puts(out, "- ");
  if (!rc && title && *title) rc = buf_printf(out, "%s: ", title);
  if (!rc) rc = quote ? buf_printf(out, "\"%s\"\n", text) : buf_printf(out, "%s\n", text);
  if (rc) {
    err_clear();
    return false;
  }
  *left -= cost;
  return true;
}

/* Tokens the block's lines may take: lore.budget_tokens, but never more than a quarter of the
 * prompt (engine.ctx less engine.max_tokens) with the header, so on a small context the block is
 * cut to fit beside the system prompt and the message instead of being left out whole. */
static int lines_budget(bot *b, uint64_t guild, const bot_persona *bp) {
  int want = (int)setting_num(b, guild, bp, CFG_LORE_BUDGET_TOKENS);
  int64_t prompt = cfg_int(b->cfg, CFG_ENGINE_CTX) - cfg_int(b->cfg, CFG_ENGINE_MAX_TOKENS);
  int64_t cap = prompt / 4 - est(k_header);
  if (cap < 0) cap = 0;
  return want < cap ? want : (int)cap;
}

char *knowledge__build(bot *b, uint64_t guild, const bot_persona *bp,
                       const memory_entry *const *hist, size_t n, const memory_entry *cur) {
  bool wi_on = setting_bool(b, guild, bp, CFG_LORE_WORLD_INFO);
  bool ret_on = setting_bool(b, guild, bp, CFG_LORE_RETRIEVAL);
  bool rec_on = setting_bool(b, guild, bp, CFG_LORE_RECALL) && guild != 0;
  int left = lines_budget(b, guild, bp);
  if ((!wi_on && !ret_on && !rec_on) || left <= 0 || !cur || !cur->text) return NULL;
  scope_set sc;
  scopes_for(b, guild, bp, &sc);
  buf wi, lore, rec;
  buf_init(&wi, 0);
  buf_init(&lore, 0);
  buf_init(&rec, 0);
  lore_items it = {0};
  /* Retrieval's query: the message answered, with the one before it for context. */
  buf q;
  buf_init(&q, STORE_LORE_QUERY_MAX);
  for (size_t i = n; i > 0; i--)
    if (hist[i - 1] != cur && hist[i - 1]->text) {
      if (buf_puts(&q, hist[i - 1]->text) || buf_putc(&q, '\n')) buf_reset(&q);
      break;
    }
  if (buf_puts(&q, cur->text)) {
    buf_reset(&q);
    if (buf_append(&q, cur->text, utf8_floor(cur->text, strlen(cur->text), STORE_LORE_QUERY_MAX)))
      err_clear();
  }
  const char *query = q.data ? q.data : "";

  if (wi_on) {
    int scan = (int)setting_num(b, guild, bp, CFG_LORE_SCAN_MESSAGES);
    const char *recent[201];
    size_t nr = 0, from = n > (size_t)scan ? n - (size_t)scan : 0;
    for (size_t i = from; i < n && nr < 200; i++)
      if (hist[i] != cur) recent[nr++] = hist[i]->text;
    recent[nr++] = cur->text;
    if (lore_wi_activate(b->db, sc.v, sc.n, recent, nr, left, count_tokens, NULL, &it)) {
      LOG_W("bot", "World Info: %s", err_msg());
      err_clear();
    }
    for (size_t i = 0; i < it.n; i++)
      add_line(&wi, &left, k_world, it.v[i].title, it.v[i].text, false);
    lore_items_free(&it);
  }
  if (ret_on && left > 0) {
    lore_search_opts o = {.scopes = sc.v,
                          .n_scopes = sc.n,
                          .k = (size_t)setting_num(b, guild, bp, CFG_LORE_TOP_K),
                          .min_cos = setting_num(b, guild, bp, CFG_LORE_MIN_SCORE),
                          .rrf_k = (int)setting_num(b, guild, bp, CFG_LORE_RRF_K),
                          .no_wi = true};
    if (lore_search(b->lore, query, &o, &it)) {
      LOG_W("bot", "lore search: %s", err_msg());
      err_clear();
    }
    for (size_t i = 0; i < it.n; i++)
      add_line(&lore, &left, k_lore, it.v[i].title, it.v[i].text, false);
    lore_items_free(&it);
  }
  if (rec_on && left > 0) {
    /* Only messages older than the conversation in the prompt. */
    uint64_t before = cur->id;
    for (size_t i = 0; i < n; i++)
      if (hist[i]->id && hist[i]->id < before) before = hist[i]->id;
    size_t k = (size_t)setting_num(b, guild, bp, CFG_LORE_RECALL_K);
    if (lore_recall(b->lore, query, guild, before, k, setting_num(b, guild, bp, CFG_LORE_MIN_SCORE),
                    &it)) {
      LOG_W("bot", "recall: %s", err_msg());
      err_clear();
    }
    for (size_t i = 0; i < it.n; i++) add_line(&rec, &left, k_recall, NULL, it.v[i].text, true);
    lore_items_free(&it);
  }
  buf_free(&q);
  char *res = NULL;
  if (wi.len || lore.len || rec.len) {
    buf out;
    buf_init(&out, 0);
    int rc = buf_puts(&out, k_header);
    if (!rc && wi.len) rc = buf_printf(&out, "%s%s", k_world, wi.data);
    if (!rc && lore.len) rc = buf_printf(&out, "%s%s", k_lore, lore.data);
    if (!rc && rec.len) rc = buf_printf(&out, "%s%s", k_recall, rec.data);
    if (rc) {
      err_clear();
      buf_free(&out);
    } else {
      if (out.len && out.data[out.len - 1] == '\n') out.data[--out.len] = 0;
      res = buf_steal(&out);
    }
  }
  buf_free(&wi);
  buf_free(&lore);
  buf_free(&rec);
  return res;
}

void knowledge__tick(bot *b, int64_t now) {
  if (!b->emb || b->n_running || b->n_pending) return;
  bool ret = cfg_bool(b->cfg, CFG_LORE_RETRIEVAL), rec = cfg_bool(b->cfg, CFG_LORE_RECALL);
  if (!ret && !rec) return;
  if (now - b->last_embed_ms < KNOWLEDGE_EMBED_EVERY_MS) return;
  b->last_embed_ms = now;
  int64_t n = 0;
  /* Lore passages without this encoder's vector first (added before embed.model was set, by a
   * command run without it, or a card's book): they are few next to a server's history. */
  if (ret && lore_embed_missing_some(b->db, b->emb, LORE_EMBED_BATCH, &n)) {
    LOG_W("bot", "embedding lore passages: %s", err_msg());
    err_clear();
    return;
  }
  if (n) {
    LOG_D("bot", "embedded %lld lore passages", (long long)n);
    return;
  }
  if (!rec) return;
  if (lore_embed_history(b->db, b->emb, LORE_EMBED_BATCH, NULL, NULL, NULL, &n)) {
    LOG_W("bot", "embedding history for recall: %s", err_msg());
    err_clear();
  } else if (n) {
    LOG_D("bot", "embedded %lld messages for recall", (long long)n);
  }
}
