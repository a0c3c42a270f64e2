/* The bot runtime (see runtime.h). This thread owns the bot: it waits for the next typed event
 * from the Discord client, or for a wake-up when the engine signals a completion
 * (discord_client_wake), or a second, then hands the event to the bot and runs bot_poll. The bot's
 * actions are copied into discord_actions (to_discord.h) on this thread and run on the client's
 * loop thread, where they call the typed Discord actions (discord/actions.h) directly. */
#include "bot/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/to_discord.h"
#include "discord/actions.h"
#include "discord/client.h"
#include "llm/backend.h"
#include "store/store.h"

extern char **environ;

#define JOB_STEPS_MAX 2

typedef struct job {
  const char *name;                 /* "fetch" or "train" */
  const char *steps[JOB_STEPS_MAX]; /* mimic subcommands run one after the other */
  int step;
  pid_t pid;           /* 0: not running */
  uint64_t channel_id; /* where to report the end */
} job;

typedef struct runtime {
  const bot_runtime_opts *o;
  discord_client *dc;
  bot *b;
  llm_backend *backend;
  discord_actions da; /* loop thread only; set up by the first action */
  job jobs[2];
  volatile int restart;
} runtime;

/* ---- actions: copied on the bot thread, run on the loop thread ---- */

typedef struct act {
  runtime *rt;
  discord_action *x; /* owned */
} act;

/* On the loop thread: the typed Discord call the action stands for. The actions context lives
 * there and only there (its REST client is the loop's). */
static void act_run(rest *r, void *user) {
  act *a = user;
  discord_actions *da = &a->rt->da;
  if (!da->rest) discord_actions_init(da, r);
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

int bot_runtime_run(const bot_runtime_opts *o) {
  runtime rt = {.o = o};
  rt.jobs[0] = (job){.name = "fetch", .steps = {"fetch", NULL}};
  rt.jobs[1] = (job){.name = "train", .steps = {"prepare", "train"}};
  store *db = NULL;
  int rc;
  const char *db_path = cfg_str(o->config, CFG_STORE_PATH);
  if ((rc = fs_mkdirs_for(db_path)) || (rc = store_open(db_path, &db))) goto out;
  if (llm_backend_from_config(o->config, &rt.backend) != 0) {
    LOG_W("bot", "no model (%s): storing history and answering commands only", err_msg());
    rt.backend = NULL;
  }
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
                         .followup = do_followup};
  bot_opts bo = {.config = o->config,
                 .db = db,
                 .backend = rt.backend,
                 .actions = &actions,
                 .wake = wake,
                 .wake_user = &rt};
  if ((rc = bot_new(&bo, &rt.b))) goto out;
  if ((rc = discord_client_start(rt.dc))) goto out;

  /* log.retention_days also bounds the bot's reply log in the database (bot.c keeps a week). */
  int64_t keep_ms = cfg_int(o->config, CFG_LOG_RETENTION_DAYS) * 86400000LL, pruned_ms = 0;
  bool stopping = false;
  for (;;) {
    int64_t now = clock_wall_ms();
    if (now - pruned_ms >= 3600000) {
      if (store_bot_prune(db, now - keep_ms)) {
        LOG_W("bot", "pruning the reply log: %s", err_msg());
        err_clear();
      }
      pruned_ms = now;
    }
    if ((*o->stop || rt.restart) && !stopping) {
      LOG_I("bot", "%s: disconnecting", rt.restart ? "restart requested" : "stopping");
      discord_client_stop(rt.dc);
      stopping = true;
    }
    discord_event *ev = discord_client_next_event(rt.dc, 1000);
    if (ev && ev->type == DISCORD_EV_STOPPED) {
      if (ev->u.stopped.fatal) rc = err_set(MIMIC_EFATAL, "%s", ev->u.stopped.message);
      discord_event_free(ev);
      break;
    }
    if (ev) {
      /* Events that arrive while stopping are still stored: nothing the gateway delivered is lost
       * (replies they start are cancelled by bot_destroy). */
      if (bot_handle_event(rt.b, ev) != 0) LOG_W("bot", "%s", err_msg());
      discord_event_free(ev);
    }
    bot_poll(rt.b);
    jobs_reap(&rt);
  }
  if (!rc && rt.restart) rc = BOT_RUNTIME_RESTART;
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
  llm_backend_destroy(rt.backend);
  store_close(db);
  return rc;
}
