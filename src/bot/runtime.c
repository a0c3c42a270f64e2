/* The bot runtime (see runtime.h). This thread owns the bot: it waits for the next typed event
 * from the Discord client, or for a wake-up when the engine signals a completion
 * (discord_client_wake), or a second, then hands the event to the bot and runs bot_poll. The bot's
 * actions are copied into discord_actions (to_discord.h) on this thread and run on the client's
 * loop thread, where they call the typed Discord actions (discord/actions.h) directly. */
#include "bot/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/metrics.h"
#include "bot/bot.h"
#include "bot/to_discord.h"
#include "bot/vision.h"
#include "discord/actions.h"
#include "discord/api.h"
#include "discord/client.h"
#include "discord/commands.h"
#include "llm/backend.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "vision/vision.h"

extern char **environ;

#define JOB_STEPS_MAX 2

typedef struct job {
  const char *name;                 /* "fetch" or "train" */
  const char *steps[JOB_STEPS_MAX]; /* mimic subcommands run one after the other */
  int step;
  pid_t pid;           /* 0: not running */
  uint64_t channel_id; /* where to report the end */
} job;

/* What the loop thread learns about persona webhooks and persona messages, handed to this thread
 * (the store's connection is this thread's): a webhook saved, used or gone, or a message posted
 * as a persona. */
typedef struct note {
  struct note *next;
  bool is_hook;
  discord_hook_info hook; /* is_hook (the token is wiped when the note is freed) */
  discord_hook_event ev;
  uint64_t channel_id, webhook_id; /* a message */
  int64_t persona_id;
  size_t n_ids;
  discord_id ids[];
} note;

typedef struct runtime {
  const bot_runtime_opts *o;
  discord_client *dc;
  bot *b;
  llm_backend *backend;
  store *db;
  discord_actions da;         /* loop thread only; set up by the first action */
  discord_hook_info *preload; /* webhooks from the store, put into da by the first action */
  size_t n_preload;
  pthread_mutex_t notes_mu;
  note *notes_head, *notes_tail;
  job jobs[2];
  volatile int restart;
  struct cmd_sync *synced; /* slash command registrations that succeeded (under notes_mu) */
  uint64_t cmds_app;       /* the application whose commands were checked (once per run) */
} runtime;

static void note_push(runtime *rt, note *n) {
  pthread_mutex_lock(&rt->notes_mu);
  if (rt->notes_tail)
    rt->notes_tail->next = n;
  else
    rt->notes_head = n;
  rt->notes_tail = n;
  pthread_mutex_unlock(&rt->notes_mu);
  discord_client_wake(rt->dc);
}

/* On the loop thread. */
static void on_hook_note(const discord_hook_info *h, discord_hook_event ev, void *user) {
  note *n = xcalloc(1, sizeof *n);
  n->is_hook = true;
  n->hook = *h;
  n->ev = ev;
  note_push(user, n);
}

/* On the loop thread: every action's outcome; persona messages are recorded. */
static void on_action_done(const discord_actions_result *res, void *user) {
  if (res->err || !res->persona || !res->tag || !res->n_parts) return;
  note *n = xcalloc(1, sizeof *n + res->n_parts * sizeof n->ids[0]);
  n->channel_id = res->channel_id;
  n->webhook_id = res->webhook_id;
  n->persona_id = (int64_t)res->tag;
  n->n_ids = res->n_parts;
  memcpy(n->ids, res->part_ids, res->n_parts * sizeof n->ids[0]);
  note_push(user, n);
}

/* On this thread: the notes into the store. */
static void notes_drain(runtime *rt) {
  pthread_mutex_lock(&rt->notes_mu);
  note *n = rt->notes_head;
  rt->notes_head = rt->notes_tail = NULL;
  pthread_mutex_unlock(&rt->notes_mu);
  while (n) {
    note *next = n->next;
    int rc = 0;
    if (n->is_hook) {
      const discord_hook_info *h = &n->hook;
      if (n->ev == DISCORD_HOOK_GONE) {
        rc = store_hook_delete(rt->db, h->id);
      } else if (n->ev == DISCORD_HOOK_USED) {
        rc = store_hook_used(rt->db, h->id, (int64_t)h->uses, h->last_used_ms);
      } else {
        store_hook sh = {.channel_id = h->channel_id,
                         .webhook_id = h->id,
                         .uses = (int64_t)h->uses,
                         .last_used_ms = h->last_used_ms};
        str_lcpy(sh.key, h->key, sizeof sh.key);
        str_lcpy(sh.token, h->token, sizeof sh.token);
        rc = store_hook_put(rt->db, &sh);
        memset(sh.token, 0, sizeof sh.token);
      }
      memset(n->hook.token, 0, sizeof n->hook.token);
    } else {
      int64_t now = clock_wall_ms();
      for (size_t i = 0; i < n->n_ids && !rc; i++)
        rc = store_persona_msg_put(rt->db, n->ids[i], n->channel_id, n->persona_id, n->webhook_id,
                                   now);
    }
    if (rc) {
      LOG_W("bot", "persona webhooks: %s", err_msg());
      err_clear();
    }
    mem_free(n);
    n = next;
  }
}

static int preload_hook(const store_hook *h, void *user) {
  runtime *rt = user;
  rt->preload = xrealloc(rt->preload, (rt->n_preload + 1) * sizeof *rt->preload);
  discord_hook_info *d = &rt->preload[rt->n_preload++];
  memset(d, 0, sizeof *d);
  d->channel_id = h->channel_id;
  d->id = h->webhook_id;
  d->uses = (uint64_t)h->uses;
  d->last_used_ms = h->last_used_ms;
  str_lcpy(d->key, h->key, sizeof d->key);
  str_lcpy(d->token, h->token, sizeof d->token);
  return 0;
}

/* ---- actions: copied on the bot thread, run on the loop thread ---- */

typedef struct act {
  runtime *rt;
  discord_action *x; /* owned */
} act;

/* On the loop thread: the typed Discord call the action stands for. The actions context lives
 * there and only there (its REST client is the loop's). */
static void act_run(rest *r, void *user) {
  act *a = user;
  runtime *rt = a->rt;
  discord_actions *da = &rt->da;
  if (!da->rest) {
    discord_actions_init(da, r);
    da->done = on_action_done;
    da->done_user = rt;
    da->hook_note = on_hook_note;
    da->hook_user = rt;
    for (size_t i = 0; i < rt->n_preload; i++) discord_actions_hook_put(da, &rt->preload[i]);
    if (rt->n_preload) memset(rt->preload, 0, rt->n_preload * sizeof *rt->preload);
  }
  if (discord_action_run(da, a->x)) LOG_W("bot", "action refused: %s", err_msg());
  mem_free(a);
}

/* Hands x (taken) to the loop thread. */
static int act_post(runtime *rt, discord_action *x) {
  act *a = xcalloc(1, sizeof *a);
  a->rt = rt;
  a->x = x;
  int rc = discord_client_call(rt->dc, act_run, a);
  if (rc) {
    discord_action_free(x);
    mem_free(a);
    return err_set(rc, "Discord client is stopping");
  }
  return 0;
}

static int do_send(void *user, const bot_send *m) { return act_post(user, bot_action_send(m)); }

static int do_typing(void *user, uint64_t channel_id) {
  return act_post(user, discord_action_typing(channel_id));
}

static int do_dm(void *user, uint64_t user_id, const char *text) {
  return act_post(user, bot_action_dm(user_id, text));
}

static int do_react(void *user, uint64_t channel_id, uint64_t message_id, const char *emoji) {
  return act_post(user, discord_action_react(channel_id, message_id, emoji));
}

static int do_persona(void *user, const bot_persona_send *m) {
  return act_post(user, bot_action_persona_send(m));
}

static int do_respond(void *user, const bot_response *r) {
  return act_post(user, bot_action_respond(r));
}

static int do_edit_original(void *user, const bot_followup *f) {
  return act_post(user, bot_action_edit_original(f));
}

static int do_edit_message(void *user, const discord_edit *e) {
  return act_post(user, discord_action_edit_message(e));
}

static int do_followup(void *user, const bot_followup *f) {
  return act_post(user, bot_action_followup(f));
}

static int do_restart(void *user) {
  runtime *rt = user;
  rt->restart = 1;
  return 0;
}

/* ---- jobs: `mimic fetch`, `mimic prepare` + `mimic train`, each a child process ---- */

static int job_spawn(runtime *rt, job *j) {
  const char *exe = rt->o->self_exe ? rt->o->self_exe : "/proc/self/exe";
  char *argv[8];
  int n = 0;
  argv[n++] = "mimic";
  argv[n++] = (char *)j->steps[j->step];
  if (strcmp(j->steps[j->step], "train") == 0) {
    argv[n++] = "--out";
    argv[n++] = BOT_RUNTIME_ADAPTER;
  }
  if (rt->o->config_path) {
    argv[n++] = "--config";
    argv[n++] = (char *)rt->o->config_path;
  }
  argv[n] = NULL;
  /* The child writes its progress to its own log file in the data folder. */
  char log[512];
  snprintf(log, sizeof log, "%s/%s.log", cfg_str(rt->o->config, CFG_DATA_DIR), j->name);
  if (fs_mkdirs(cfg_str(rt->o->config, CFG_DATA_DIR)) != 0) LOG_W("bot", "%s", err_msg());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = posix_spawn(&j->pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    j->pid = 0;
    return err_set(MIMIC_EIO, "could not start 'mimic %s': %s", j->steps[j->step], strerror(rc));
  }
  LOG_I("bot", "job %s: started 'mimic %s' (pid %d), log in %s", j->name, j->steps[j->step],
        (int)j->pid, log);
  return 0;
}

static int do_job(void *user, const char *name, uint64_t by, uint64_t channel_id) {
  runtime *rt = user;
  for (int i = 0; i < 2; i++) {
    job *j = &rt->jobs[i];
    if (strcmp(j->name, name) != 0) continue;
    if (j->pid) return err_set(MIMIC_EBUSY, "%s is already running", name);
    j->step = 0;
    j->channel_id = channel_id;
    LOG_I("bot", "job %s requested by user %llu", name, (unsigned long long)by);
    return job_spawn(rt, j);
  }
  return err_set(MIMIC_EINVAL, "unknown job '%s'", name);
}

/* Reaps finished children: starts a job's next step, hot-loads a new adapter after training, and
 * tells the channel that asked how it ended. */
static void jobs_reap(runtime *rt) {
  for (int i = 0; i < 2; i++) {
    job *j = &rt->jobs[i];
    int st;
    if (!j->pid || waitpid(j->pid, &st, WNOHANG) != j->pid) continue;
    j->pid = 0;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (ok && j->step + 1 < JOB_STEPS_MAX && j->steps[j->step + 1]) {
      j->step++;
      if (job_spawn(rt, j) == 0) continue;
      ok = false;
    }
    char msg[256];
    if (ok && strcmp(j->name, "train") == 0 && rt->backend) {
      int rc = llm_backend_adapter_load(rt->backend, "", BOT_RUNTIME_ADAPTER,
                                        (float)cfg_num(rt->o->config, CFG_ENGINE_ADAPTER_SCALE));
      snprintf(msg, sizeof msg, "Training finished%s.",
               rc ? " but the new adapter could not be loaded (see the log)"
                  : "; the new voice is live");
      if (rc) LOG_W("bot", "adapter reload: %s", err_msg());
    } else {
      snprintf(msg, sizeof msg, "%s %s (see %s/%s.log).", j->name, ok ? "finished" : "failed",
               cfg_str(rt->o->config, CFG_DATA_DIR), j->name);
    }
    LOG_I("bot", "job %s: %s", j->name, msg);
    if (j->channel_id) {
      bot_send m = {.channel_id = j->channel_id, .text = msg};
      if (do_send(rt, &m)) LOG_W("bot", "could not report the job: %s", err_msg());
    }
  }
}

static void wake(void *user) { discord_client_wake(((runtime *)user)->dc); }

/* ---- slash commands: registered at READY when their definitions changed ---- */

typedef struct cmd_sync {
  runtime *rt;
  json_t *arr; /* owned: the array sent */
  uint64_t app, guild;
  char hash[17];
  struct cmd_sync *next;
} cmd_sync;

static void cmd_sync_free(cmd_sync *s) {
  if (!s) return;
  json_decref(s->arr);
  mem_free(s);
}

/* On the loop thread: the overwrite's outcome. A success is handed to the bot thread, which
 * records the hash (the store is its). */
static void on_sync_done(const rest_result *res, void *user) {
  cmd_sync *s = user;
  if (res->err) {
    if (res->err != MIMIC_ECANCELLED)
      LOG_W("bot", "registering the slash commands failed: %s (mimic commands sync retries)",
            res->message ? res->message : "error");
    cmd_sync_free(s);
    return;
  }
  runtime *rt = s->rt;
  pthread_mutex_lock(&rt->notes_mu);
  s->next = rt->synced;
  rt->synced = s;
  pthread_mutex_unlock(&rt->notes_mu);
  discord_client_wake(rt->dc);
}

static void sync_run(rest *r, void *user) {
  cmd_sync *s = user;
  if (api_commands_overwrite(r, s->app, s->guild, s->arr, on_sync_done, s)) {
    LOG_W("bot", "registering the slash commands: %s", err_msg());
    cmd_sync_free(s);
  }
}

/* Records the registrations that succeeded (bot thread). */
static void sync_drain(runtime *rt) {
  pthread_mutex_lock(&rt->notes_mu);
  cmd_sync *s = rt->synced;
  rt->synced = NULL;
  pthread_mutex_unlock(&rt->notes_mu);
  while (s) {
    cmd_sync *next = s->next;
    if (rt->db && bot_commands_hash_put(rt->db, s->app, s->guild, s->hash))
      LOG_W("bot", "recording the slash commands' hash: %s", err_msg());
    else
      LOG_I("bot", "registered %zu slash commands %s", json_array_size(s->arr),
            s->guild ? "in a server" : "globally");
    cmd_sync_free(s);
    s = next;
  }
}

/* Sends the command definitions for app (globally, or to each of bot.commands_guilds) where the
 * hash recorded by the last registration differs. Once per run. */
static void commands_sync(runtime *rt, uint64_t app) {
  if (!app || rt->cmds_app == app || !cfg_bool(rt->o->config, CFG_BOT_COMMANDS_SYNC)) return;
  rt->cmds_app = app;
  discord_command defs[BOT_COMMANDS_MAX];
  size_t n = bot_commands(defs, BOT_COMMANDS_MAX);
  if (n > BOT_COMMANDS_MAX || discord_commands_check(defs, n)) {
    LOG_W("bot", "slash commands not registered: %s",
          n > BOT_COMMANDS_MAX ? "too many" : err_msg());
    err_clear();
    return;
  }
  json_t *arr = discord_commands_json(defs, n);
  char hash[17];
  discord_commands_hash(arr, hash);
  uint64_t guilds[32];
  size_t ng = 0;
  const char *g = cfg_str(rt->o->config, CFG_BOT_COMMANDS_GUILDS);
  while (g && *g && ng < 32) {
    char tok[32];
    size_t k = 0;
    while (*g && *g != ',' && k + 1 < sizeof tok) tok[k++] = *g++;
    tok[k] = 0;
    if (*g == ',') g++;
    uint64_t id;
    if (str_to_u64(str_trim(tok), &id) == 0 && id)
      guilds[ng++] = id;
    else
      err_clear();
  }
  if (!ng) guilds[ng++] = 0;
  for (size_t i = 0; i < ng; i++) {
    char stored[17];
    if (bot_commands_hash_get(rt->db, app, guilds[i], stored)) {
      LOG_W("bot", "%s", err_msg());
      err_clear();
      stored[0] = 0;
    }
    if (strcmp(stored, hash) == 0) {
      LOG_I("bot", "slash commands unchanged since the last registration (%s)", hash);
      continue;
    }
    cmd_sync *s = xcalloc(1, sizeof *s);
    s->rt = rt;
    s->arr = json_incref(arr);
    s->app = app;
    s->guild = guilds[i];
    memcpy(s->hash, hash, sizeof s->hash);
    if (discord_client_call(rt->dc, sync_run, s)) {
      err_clear();
      cmd_sync_free(s);
    }
  }
  json_decref(arr);
}

/* ---- the vision model: opened on the first image, closed when idle ---- */

/* describe and idle run on the bot's vision worker thread only (never at once); cancel comes
 * from the bot thread when the bot stops, so the model pointer is guarded. */
typedef struct rt_vision {
  const cfg *c;
  pthread_mutex_t mu;
  vis_vlm *vlm;
  bool stopping;
} rt_vision;

static int rt_describe(void *user, const vis_image *img, const char *prompt, char **out) {
  rt_vision *v = user;
  pthread_mutex_lock(&v->mu);
  vis_vlm *vlm = v->vlm;
  bool stopping = v->stopping;
  pthread_mutex_unlock(&v->mu);
  if (stopping) return err_set(MIMIC_ECANCELLED, "the bot is stopping");
  if (!vlm) {
    vis_vlm_params p = {.n_threads = (int)cfg_int(v->c, CFG_VISION_THREADS),
                        .low_detail = cfg_bool(v->c, CFG_VISION_LOW_DETAIL)};
    uint64_t t0 = clock_mono_ns();
    int rc =
        vis_vlm_open(cfg_str(v->c, CFG_VISION_MODEL), cfg_str(v->c, CFG_VISION_MMPROJ), &p, &vlm);
    if (rc) return err_prefix(rc, "loading the vision model");
    LOG_I("bot", "vision model loaded in %.1f s", (double)(clock_mono_ns() - t0) / 1e9);
    pthread_mutex_lock(&v->mu);
    v->vlm = vlm;
    if (v->stopping) vis_vlm_cancel(vlm);
    pthread_mutex_unlock(&v->mu);
  }
  return vis_describe(vlm, img, prompt, out);
}

static void rt_vision_idle(void *user) {
  rt_vision *v = user;
  pthread_mutex_lock(&v->mu);
  vis_vlm *vlm = v->vlm;
  v->vlm = NULL;
  pthread_mutex_unlock(&v->mu);
  if (!vlm) return;
  vis_vlm_close(vlm);
  LOG_I("bot", "vision model unloaded after vision.idle_unload_s without an image");
}

static void rt_vision_cancel(void *user) {
  rt_vision *v = user;
  pthread_mutex_lock(&v->mu);
  v->stopping = true;
  vis_vlm_cancel(v->vlm);
  pthread_mutex_unlock(&v->mu);
}

int bot_runtime_run(const bot_runtime_opts *o) {
  runtime rt = {.o = o};
  rt_vision rv = {.c = o->config}; /* before any goto out: closed there */
  pthread_mutex_init(&rv.mu, NULL);
  rt.jobs[0] = (job){.name = "fetch", .steps = {"fetch", NULL}};
  rt.jobs[1] = (job){.name = "train", .steps = {"prepare", "train"}};
  store *db = NULL;
  int rc;
  const char *db_path = cfg_str(o->config, CFG_STORE_PATH);
  pthread_mutex_init(&rt.notes_mu, NULL);
  if ((rc = fs_mkdirs_for(db_path)) || (rc = store_open(db_path, &db))) goto out;
  rt.db = db;
  if ((rc = store_hook_each(db, preload_hook, &rt))) goto out;
  if (llm_backend_from_config(o->config, &rt.backend) != 0) {
    LOG_W("bot", "no model (%s): storing history and answering commands only", err_msg());
    rt.backend = NULL;
  }
  metrics_gauge_set("mimic_model_loaded", "1 when a model answers.", NULL, NULL,
                    rt.backend != NULL);
  if (rt.backend)
    metrics_gauge_set("mimic_model_info", "The model and adapter in use.", "model",
                      cfg_str(o->config, CFG_ENGINE_MODEL), 1);
  if ((rc = discord_client_new(o->config, o->token, &rt.dc))) goto out;
  bot_actions actions = {.user = &rt,
                         .send = do_send,
                         .typing = do_typing,
                         .send_dm = do_dm,
                         .react = do_react,
                         .request_restart = do_restart,
                         .start_job = do_job,
                         .persona_send = do_persona,
                         .respond = do_respond,
                         .edit_original = do_edit_original,
                         .followup = do_followup,
                         .edit_message = do_edit_message};
  /* Images are described when a vision model is configured (loaded on the first image). */
  const char *vm = cfg_str(o->config, CFG_VISION_MODEL),
             *vp = cfg_str(o->config, CFG_VISION_MMPROJ);
  bool have_vision = vm && *vm && vp && *vp;
  /* ... or sent to an OpenAI-compatible server with a vision model as they are. */
  bool to_server = cfg_bool(o->config, CFG_VISION_OPENAI_IMAGES) &&
                   strcmp(cfg_str(o->config, CFG_ENGINE_BACKEND), "openai") == 0;
  bot_vision bv = {.user = &rv,
                   .describe = have_vision ? rt_describe : NULL,
                   .idle = rt_vision_idle,
                   .cancel = rt_vision_cancel,
                   .model_name = vm};
  if (to_server)
    LOG_I("bot", "images go to the OpenAI-compatible server as image_url parts");
  else if (!have_vision)
    LOG_I("bot", "no vision.model/vision.mmproj: images are named, not described");
  bot_opts bo = {.config = o->config,
                 .db = db,
                 .backend = rt.backend,
                 .actions = &actions,
                 .wake = wake,
                 .wake_user = &rt,
                 .vision = have_vision || to_server ? &bv : NULL};
  if ((rc = bot_new(&bo, &rt.b))) goto out;
  if ((rc = discord_client_start(rt.dc))) goto out;

  /* log.retention_days also bounds the bot's reply log in the database (bot.c keeps a week). */
  int64_t keep_ms = cfg_int(o->config, CFG_LOG_RETENTION_DAYS) * 86400000LL, pruned_ms = 0;
  bool stopping = false, draining = false;
  for (;;) {
    int64_t now = clock_wall_ms();
    if (now - pruned_ms >= 3600000) {
      if (store_bot_prune(db, now - keep_ms)) {
        LOG_W("bot", "pruning the reply log: %s", err_msg());
        err_clear();
      }
      pruned_ms = now;
    }
    if (rt.backend) { /* with engine.idle_unload_s the weights come and go: say which */
      llm_model_state ms = llm_backend_model_state(rt.backend);
      metrics_gauge_set("mimic_model_resident",
                        "1 when the model's weights are in memory (0: unloaded while idle, or "
                        "loading).",
                        NULL, NULL, ms == LLM_MODEL_LOADED);
    }
    if (*o->stop && !draining) { /* finish the replies in flight first (as !restart does) */
      LOG_I("bot", "stopping: finishing %zu replies in flight", bot_inflight(rt.b));
      bot_drain(rt.b);
      draining = true;
    }
    if (o->reload && *o->reload) {
      *o->reload = 0;
      if (bot_settings_reload(rt.b)) LOG_W("bot", "live settings not reloaded: %s", err_msg());
      /* the dashboard's persona pages change the cast too */
      if (bot_persona_reload(rt.b)) LOG_W("bot", "personas not reloaded: %s", err_msg());
    }
    if (rt.restart && !stopping) {
      LOG_I("bot", "%s: disconnecting", draining ? "stopping" : "restart requested");
      discord_client_stop(rt.dc);
      stopping = true;
    }
    discord_event *ev = discord_client_next_event(rt.dc, 1000);
    notes_drain(&rt); /* first: an echo of a persona's message is then known as ours */
    if (ev && ev->type == DISCORD_EV_STOPPED) {
      if (ev->u.stopped.fatal) rc = err_set(MIMIC_EFATAL, "%s", ev->u.stopped.message);
      discord_event_free(ev);
      break;
    }
    sync_drain(&rt);
    if (ev && ev->type == DISCORD_EV_READY) commands_sync(&rt, ev->u.ready.application_id);
    if (ev) {
      /* Events that arrive while stopping are still stored: nothing the gateway delivered is lost
       * (replies they start are cancelled by bot_destroy). */
      if (bot_handle_event(rt.b, ev) != 0) LOG_W("bot", "%s", err_msg());
      discord_event_free(ev);
    }
    bot_poll(rt.b);
    jobs_reap(&rt);
  }
  if (!rc && rt.restart && !draining) rc = BOT_RUNTIME_RESTART;
out:
  if (rc < 0) {
    /* Keep the message: the teardown below may log and set errors of its own. */
    char keep[512];
    str_lcpy(keep, err_msg(), sizeof keep);
    bot_destroy(rt.b);
    discord_client_destroy(rt.dc);
    err_set(rc, "%s", keep);
  } else {
    bot_destroy(rt.b);
    discord_client_destroy(rt.dc);
  }
  discord_actions_free(&rt.da); /* the client, and its REST client, are gone: no outcome is due */
  if (db) notes_drain(&rt);     /* what the last outcomes taught */
  if (db) sync_drain(&rt);
  mem_free(rt.preload);
  pthread_mutex_destroy(&rt.notes_mu);
  vis_vlm_close(rv.vlm); /* the bot, and its vision worker, are gone */
  pthread_mutex_destroy(&rv.mu);
  llm_backend_destroy(rt.backend);
  store_close(db);
  return rc;
}
