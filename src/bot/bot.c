/* The bot object (see bot.h): construction and teardown, settings (the config pushed into the
 * router and memory, live settings set and restored), the privacy flags that make someone ignored,
 * and bot_poll's periodic work. Events are events.c, the reply queue queue.c, commands admin.c. */
#include <inttypes.h>
#include <string.h>

#include "base/metrics.h"

#define BOT_LEVEL BOT_L_BOT
#include "bot/bot_int.h"
#include "store/webhooks.h"

/* ---- settings ---- */

void bot_settings_apply(bot *b) {
  const cfg *c = b->cfg;
  router_params p = {
      .rate = cfg_num(c, CFG_BOT_RESPONSE_RATE),
      .active_boost = cfg_num(c, CFG_BOT_ACTIVE_BOOST),
      .active_window_ms = cfg_int(c, CFG_BOT_ACTIVE_WINDOW_S) * 1000,
      .cooldown_ms = cfg_int(c, CFG_BOT_COOLDOWN_S) * 1000,
      .flood_per_min = (int)cfg_int(c, CFG_BOT_USER_FLOOD_PER_MIN),
      .keywords = cfg_str(c, CFG_BOT_KEYWORDS),
      .allow_bots = cfg_str(c, CFG_BOT_ALLOW_BOTS),
      .channels = cfg_str(c, CFG_BOT_CHANNELS),
  };
  if (b->router)
    router_set_params(b->router, &p);
  else
    b->router = router_new(b->self_id, &p);
  map_set_ids(&b->admins, cfg_str(c, CFG_BOT_ADMINS));
  const char *pre = cfg_str(c, CFG_BOT_PREFIX);
  str_lcpy(b->prefix, pre && *pre ? pre : "!", sizeof b->prefix);
  b->queue_max = (size_t)cfg_int(c, CFG_BOT_QUEUE_MAX);
  b->context_messages = (int)cfg_int(c, CFG_BOT_CONTEXT_MESSAGES);
  b->bot_turns_max = (int)cfg_int(c, CFG_BOT_BOT_TURNS_MAX);
  int mem_msgs = b->context_messages > 10 ? b->context_messages : 10;
  if (b->mem)
    memory_set_limits(b->mem, mem_msgs, cfg_int(c, CFG_BOT_MEMORY_TTL_S) * 1000);
  else
    b->mem = memory_new(mem_msgs, cfg_int(c, CFG_BOT_MEMORY_TTL_S) * 1000);
}

static int restore_setting(const char *scope, const char *key, const char *value, int64_t updated,
                           void *user) {
  (void)scope;
  (void)updated;
  bot *b = user;
  if (!cfg_key_find(key)) {
    LOG_W("bot", "live setting %s is not a known key any more; ignored", key);
    return 0;
  }
  bool changed = strcmp(cfg_str(b->cfg, cfg_key_id(cfg_key_find(key))), value) != 0;
  if (cfg_set(b->cfg, key, value, CFG_SRC_LIVE)) {
    LOG_W("bot", "live setting %s = \"%s\" is no longer valid (%s); ignored", key, value,
          err_msg());
    err_clear();
  } else if (changed) {
    LOG_I("bot", "live setting %s = %s (from the store)", key, value);
  }
  return 0;
}

bool bot__settings_persist(const bot *b) {
  /* SQLite's in-memory databases: ":memory:", "" (a private temporary one) and memory URIs. */
  const char *p = store_path(b->db);
  return p && *p && strcmp(p, ":memory:") != 0 && strncmp(p, "file::memory:", 13) != 0 &&
         strstr(p, "mode=memory") == NULL;
}

int bot_setting_set(bot *b, const char *key, const char *value) {
  const cfg_key *k = cfg_key_find(key);
  if (!k) return err_set(MIMIC_EINVAL, "%s is not a setting", key);
  if (k->secret) return err_set(MIMIC_EINVAL, "%s cannot be set live", key);
  int rc = cfg_set(b->cfg, key, value, CFG_SRC_LIVE);
  if (rc) return rc;
  rc = store_setting_set(b->db, "", key, value);
  if (rc)
    return err_prefix(rc, "%s was applied but not saved (it will not survive a restart)", key);
  bot_settings_apply(b);
  LOG_I("bot", "live setting %s = %s", key, value);
  return 0;
}

static int load_flag(uint64_t user, uint32_t flag, const char *reason, int64_t set_ms, void *u);

int bot_settings_reload(bot *b) {
  int rc = store_setting_each(b->db, "", restore_setting, b);
  if (!rc) bot_settings_apply(b);
  if (!rc) rc = store_user_flag_each(b->db, load_flag, b); /* new exclusions and opt-outs */
  return rc;
}

void bot_drain(bot *b) { b->restarting = true; }

/* ---- privacy ---- */

static void set_ignored(bot *b, uint64_t user, uint32_t flags) {
  bool ign = (flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) != 0;
  if (ign)
    map_put(&b->ignored, user, (void *)(uintptr_t)flags);
  else
    map_del(&b->ignored, user);
  if (b->router) router_set_ignored_user(b->router, user, ign);
  if (ign && b->mem) memory_forget_user(b->mem, user);
  if (ign) queue__drop_user(b, user);
}

int bot__privacy_refresh(bot *b, uint64_t user_id) {
  uint32_t flags = 0;
  int rc = store_user_flags(b->db, user_id, &flags);
  if (rc) return rc;
  set_ignored(b, user_id, flags);
  return 0;
}

int bot_privacy_reload(bot *b, uint64_t user_id) { return bot__privacy_refresh(b, user_id); }

static int load_flag(uint64_t user, uint32_t flag, const char *reason, int64_t set_ms, void *u) {
  (void)reason;
  (void)set_ms;
  bot *b = u;
  uintptr_t have = (uintptr_t)map_get(&b->ignored, user);
  if (flag & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT))
    set_ignored(b, user, (uint32_t)have | flag);
  return 0;
}

/* ---- construction ---- */

int bot_new(const bot_opts *o, bot **out) {
  *out = NULL;
  if (!o || !o->config || !o->db)
    return err_set(MIMIC_EINVAL, "bot: a config and a store are required");
  bot *b = xcalloc(1, sizeof *b);
  b->cfg = o->config;
  b->db = o->db;
  b->backend = o->backend;
  if (o->actions) b->act = *o->actions;
  b->wake = o->wake;
  b->wake_user = o->wake_user;
  b->now_fn = o->now_ms;
  b->clock_user = o->clock_user;
  prng_seed(&b->rng, o->seed ? o->seed : clock_mono_ns());
  b->persona = xstrdup(o->persona ? o->persona : "");
  b->model_name = xstrdup(o->model_name ? o->model_name : cfg_str(b->cfg, CFG_ENGINE_MODEL));
  b->adapter_name =
      xstrdup(o->adapter_name ? o->adapter_name : cfg_str(b->cfg, CFG_ENGINE_ADAPTER));
  map_init(&b->chans);
  map_init(&b->ignored);
  map_init(&b->admins);
  map_init(&b->dm_choice);
  pthread_mutex_init(&b->done_mu, NULL);
  pthread_cond_init(&b->done_cv, NULL);
  b->emb = o->embedder;
  if (!b->emb) b->emb = b->emb_owned = lore_embedder_from_config(b->cfg, 2);
  b->lore = lore_retriever_new(b->db, b->emb);
  b->started_ms = bot__now(b);
  b->last_prune_ms = b->last_stats_prune_ms = b->started_ms;

  int rc = store_setting_each(b->db, "", restore_setting, b);
  if (rc) goto fail;
  bot_settings_apply(b);
  rc = store_user_flag_each(b->db, load_flag, b);
  if (rc) goto fail;
  if ((rc = persona__load(b, true))) goto fail;
  rc = vision__start(b, o->vision);
  if (!rc) rc = pjobs__start(b);
  if (rc) goto fail;
  *out = b;
  return 0;
fail:
  rc = err_prefix(rc, "starting the bot");
  bot_destroy(b);
  return rc;
}

void bot_destroy(bot *b) {
  if (!b) return;
  vision__stop(b); /* first: its worker may wake the loop */
  games__stop(b);
  queue__shutdown(b);
  pjobs__stop(b);
  map_free(&b->ignored);
  map_free(&b->admins);
  lore_retriever_free(b->lore);
  lore_embedder_destroy(b->emb_owned);
  router_destroy(b->router);
  memory_destroy(b->mem);
  persona__free(b);
  pthread_mutex_destroy(&b->done_mu);
  pthread_cond_destroy(&b->done_cv);
  mem_free(b->persona);
  mem_free(b->model_name);
  mem_free(b->adapter_name);
  mem_free(b);
}

uint64_t bot_self_id(const bot *b) { return b->self_id; }

/* ---- polling ---- */

int bot_poll(bot *b) {
  vision__poll(b); /* first: a described image releases its reply for queue__poll to start */
  int handled = queue__poll(b);
  games__poll(b); /* deadlines, finished game generations, games resumed after a restart */
  metrics_gauge_set("mimic_queue_depth", "Replies queued or generating.", NULL, NULL,
                    (double)bot_inflight(b));
  int64_t now = bot__now(b);
  if (now - b->last_prune_ms >= BOT_PRUNE_EVERY_MS) {
    memory_prune(b->mem, now);
    b->last_prune_ms = now;
  }
  knowledge__tick(b, now);
  pjobs__tick(b, now);
  if (persona__load(b, false)) { /* `mimic persona edit` or the dashboard changed the cast */
    LOG_W("bot", "%s", err_msg());
    err_clear();
  }
  if (now - b->last_stats_prune_ms >= 3600000) {
    if (store_bot_prune(b->db, now - BOT_STATS_KEEP_MS)) {
      LOG_W("bot", "pruning old statistics: %s", err_msg());
      err_clear();
    }
    if (store_persona_msg_prune(b->db, now - BOT_PERSONA_MSG_KEEP_MS, NULL)) {
      LOG_W("bot", "pruning old persona message records: %s", err_msg());
      err_clear();
    }
    b->last_stats_prune_ms = now;
  }
  if (b->restarting && !b->restart_requested && bot_inflight(b) == 0) {
    b->restart_requested = true;
    LOG_I("bot", "in-flight replies done; asking the runtime to restart");
    if (b->act.request_restart && b->act.request_restart(b->act.user)) {
      LOG_E("bot", "restart refused: %s", err_msg());
      err_clear();
    }
  }
  return handled;
}
