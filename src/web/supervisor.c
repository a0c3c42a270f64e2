/* The supervisor (web_int.h): runs the bot (`mimic run`) and the dashboard's jobs as child
 * processes, each in its own process group so a Ctrl-C meant for the dashboard does not reach them,
 * with stdout and stderr on one pipe read line by line into the ring. One thread owns the
 * children's lifecycle: it reaps them, turns a stop into SIGTERM then SIGKILL after the timeout,
 * and restarts a bot that died on its own after a backoff of 1 s doubling to 5 min (reset once a
 * run lasted a minute). Closing a browser changes nothing here: only the API's calls do. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "web/web_int.h"

extern char **environ;

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   300000
#define STABLE_MS        60000 /* a run this long resets the backoff */
#define JOBS_MAX         8
#define READERS_MAX      (JOBS_MAX + 2)
#define OPS_LINE         "serving /healthz /readyz /metrics on http://"

#define JOB_DRAIN_MS 2000 /* how long an ended job's output may still come (a grandchild) */

typedef struct job {
  pid_t pid;
  web_job_done_fn done;
  void *user;
  bool exited; /* reaped; done is called once its output is read (or JOB_DRAIN_MS pass) */
  int status;
  uint64_t exited_mono;
} job;

typedef struct reader {
  web_sup *s;
  int fd;
  pid_t pid; /* the child whose output it reads */
  bool bot;  /* the bot's output: parse its ops port */
  bool used, finished;
  pthread_t th;
} reader;

struct web_sup {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *exe;
  char **args, **env;
  web_ring *ring;
  int stop_timeout_s;
  web_bot_state state;
  bool want; /* the bot should be running */
  pid_t pid;
  int64_t started_ms, next_start_ms;
  uint64_t started_mono, stop_deadline;
  int restarts, last_exit, ops_port;
  char last_error[256];
  job jobs[JOBS_MAX];
  reader readers[READERS_MAX];
  bool quit;
  pthread_t th;
};

static char **strv_copy(char *const *v) {
  size_t n = 0;
  while (v && v[n]) n++;
  char **c = xcalloc(n + 1, sizeof *c);
  for (size_t i = 0; i < n; i++) c[i] = xstrdup(v[i]);
  return c;
}

static void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++) mem_free(v[i]);
  mem_free(v);
}

static void notice(web_sup *s, const char *fmt, ...) MIMIC_PRINTF(2, 3);
static void notice(web_sup *s, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  web__ring_push(s->ring, WEB_LINE_NOTICE, line, strlen(line));
}

/* ---- output readers ---- */

static void reader_line(reader *rd, const char *p, size_t n) {
  web__ring_push(rd->s->ring, WEB_LINE_LOG, p, n);
  if (!rd->bot) return;
  char tmp[WEB_LINE_MAX + 1];
  size_t k = n < WEB_LINE_MAX ? n : WEB_LINE_MAX;
  memcpy(tmp, p, k);
  tmp[k] = 0;
  const char *at = strstr(tmp, OPS_LINE);
  if (!at) return;
  const char *colon = strrchr(at + strlen(OPS_LINE), ':');
  int64_t port = 0;
  if (colon && str_to_i64(colon + 1, &port) == 0 && port > 0 && port < 65536) {
    pthread_mutex_lock(&rd->s->mu);
    rd->s->ops_port = (int)port;
    pthread_mutex_unlock(&rd->s->mu);
  }
  err_clear();
}

/* Reads until EOF (the child and its own children closed the pipe) or shutdown. */
static void *reader_main(void *arg) {
  reader *rd = arg;
  char acc[WEB_LINE_MAX];
  size_t n = 0;
  for (;;) {
    struct pollfd pf = {.fd = rd->fd, .events = POLLIN};
    int pr = poll(&pf, 1, 200);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      pthread_mutex_lock(&rd->s->mu);
      bool quit = rd->s->quit;
      pthread_mutex_unlock(&rd->s->mu);
      if (quit) break;
      continue;
    }
    char chunk[4096];
    ssize_t got = read(rd->fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    for (ssize_t i = 0; i < got; i++) {
      if (chunk[i] == '\n') {
        reader_line(rd, acc, n);
        n = 0;
      } else if (n < sizeof acc) {
        acc[n++] = chunk[i];
      } else { /* an over-long line is cut into pieces */
        reader_line(rd, acc, n);
        n = 0;
        acc[n++] = chunk[i];
      }
    }
  }
  if (n) reader_line(rd, acc, n);
  close(rd->fd);
  pthread_mutex_lock(&rd->s->mu);
  rd->finished = true;
  pthread_mutex_unlock(&rd->s->mu);
  return NULL;
}

/* Whether a reader of pid's output has not reached its end yet. Called with mu held. */
static bool output_pending(web_sup *s, pid_t pid) {
  for (int i = 0; i < READERS_MAX; i++)
    if (s->readers[i].used && !s->readers[i].finished && s->readers[i].pid == pid) return true;
  return false;
}

/* Starts a reader on fd; joins finished ones first. Called with mu held. */
static void reader_add(web_sup *s, int fd, bool bot, pid_t pid) {
  for (int i = 0; i < READERS_MAX; i++) {
    reader *rd = &s->readers[i];
    if (rd->used && rd->finished) {
      pthread_join(rd->th, NULL);
      rd->used = false;
    }
    if (rd->used) continue;
    rd->finished = false;
    rd->s = s;
    rd->fd = fd;
    rd->pid = pid;
    rd->bot = bot;
    rd->used = true;
    if (pthread_create(&rd->th, NULL, reader_main, rd) == 0) return;
    rd->used = false;
    break;
  }
  LOG_W("web", "no reader free for a child's output; it is discarded");
  close(fd);
}

/* ---- spawning ---- */

static pid_t spawn(web_sup *s, char *const *args, char *const *extra_env, bool bot) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    err_set(MIMIC_EIO, "cannot make a pipe for the child: %s", strerror(errno));
    return -1;
  }
  size_t ne = 0, nx = 0;
  while (environ && environ[ne]) ne++;
  while (extra_env && extra_env[nx]) nx++;
  char **envp = xcalloc(ne + nx + 1, sizeof *envp);
  size_t k = 0;
  for (size_t i = 0; i < nx; i++) envp[k++] = extra_env[i];
  for (size_t i = 0; i < ne; i++) {
    /* an extra entry replaces the inherited one of the same name */
    const char *eq = strchr(environ[i], '=');
    size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    bool dup = false;
    for (size_t j = 0; j < nx && !dup; j++) dup = strncmp(extra_env[j], environ[i], len) == 0;
    if (!dup) envp[k++] = environ[i];
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setpgroup(&at, 0);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  sigaddset(&def, SIGHUP);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&at, &def);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, s->exe, &fa, &at, args, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  mem_free(envp);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    err_set(MIMIC_EIO, "cannot start %s: %s", s->exe, strerror(rc));
    return -1;
  }
  reader_add(s, p[0], bot, pid);
  return pid;
}

/* Starts the bot. Called with mu held. */
static void bot_spawn(web_sup *s) {
  s->ops_port = 0;
  pid_t pid = spawn(s, s->args, s->env, true);
  if (pid < 0) {
    s->state = WEB_BOT_ERROR;
    s->want = false;
    str_lcpy(s->last_error, err_msg(), sizeof s->last_error);
    notice(s, "bot error: %s", s->last_error);
    err_clear();
    return;
  }
  s->pid = pid;
  s->state = WEB_BOT_RUNNING;
  s->started_ms = clock_wall_ms();
  s->started_mono = clock_mono_ms();
  LOG_I("web", "bot started (pid %d)", (int)pid);
  notice(s, "bot started (pid %d)", (int)pid);
}

static void describe_exit(int status, char *out, size_t cap, int *code) {
  if (WIFSIGNALED(status)) {
    *code = -WTERMSIG(status);
    snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    *code = WEXITSTATUS(status);
    snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
  }
}

/* The bot's end. Called with mu held. */
static void bot_ended(web_sup *s, int status) {
  char how[128];
  describe_exit(status, how, sizeof how, &s->last_exit);
  s->pid = 0;
  s->ops_port = 0;
  bool asked = s->state == WEB_BOT_STOPPING;
  if (asked || (s->last_exit == 0 && !WIFSIGNALED(status))) {
    s->state = WEB_BOT_STOPPED;
    if (!asked) s->want = false;
    LOG_I("web", "bot stopped (%s)", how);
    notice(s, "bot stopped (%s)", how);
    if (s->want) { /* a restart: start again at once */
      s->restarts = 0;
      bot_spawn(s);
    }
    return;
  }
  snprintf(s->last_error, sizeof s->last_error, "the bot %s", how);
  if (clock_mono_ms() - s->started_mono >= STABLE_MS) s->restarts = 0;
  int64_t delay = BACKOFF_FIRST_MS;
  for (int i = 0; i < s->restarts && delay < BACKOFF_MAX_MS; i++) delay *= 2;
  if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
  s->restarts++;
  s->state = WEB_BOT_BACKOFF;
  s->next_start_ms = clock_wall_ms() + delay;
  LOG_W("web", "bot crashed (%s); restarting in %lld s", how, (long long)(delay / 1000));
  notice(s, "bot crashed (%s); restarting in %lld s", how, (long long)(delay / 1000));
}

static void *sup_main(void *arg) {
  web_sup *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->quit || s->pid > 0) {
    int status;
    if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid) bot_ended(s, status);
    for (int i = 0; i < JOBS_MAX; i++) {
      job *j = &s->jobs[i];
      if (j->pid > 0 && !j->exited && waitpid(j->pid, &status, WNOHANG) == j->pid) {
        j->exited = true;
        j->status = status;
        j->exited_mono = clock_mono_ms();
      }
      /* The end is told after the job's last output line, so a page that follows the job's
       * lines until its end notice misses none. */
      if (j->pid > 0 && j->exited &&
          (!output_pending(s, j->pid) || clock_mono_ms() - j->exited_mono >= JOB_DRAIN_MS)) {
        pid_t pid = j->pid;
        web_job_done_fn done = j->done;
        void *user = j->user;
        status = j->status;
        *j = (job){0};
        pthread_mutex_unlock(&s->mu);
        if (done) done(user, pid, status);
        pthread_mutex_lock(&s->mu);
      }
    }
    if (s->state == WEB_BOT_STOPPING && s->pid > 0 && clock_mono_ms() >= s->stop_deadline) {
      LOG_W("web", "bot did not stop within %d s; killing it", s->stop_timeout_s);
      notice(s, "bot did not stop within %d s; killed", s->stop_timeout_s);
      kill(-s->pid, SIGKILL);
      s->stop_deadline = UINT64_MAX;
    }
    if (s->state == WEB_BOT_BACKOFF && !s->quit && clock_wall_ms() >= s->next_start_ms) {
      if (s->want)
        bot_spawn(s);
      else
        s->state = WEB_BOT_STOPPED;
    }
    if (s->quit && s->pid > 0 && s->state != WEB_BOT_STOPPING) {
      s->state = WEB_BOT_STOPPING;
      s->want = false;
      s->stop_deadline = clock_mono_ms() + (uint64_t)s->stop_timeout_s * 1000;
      kill(s->pid, SIGTERM);
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 100 * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &dl);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

web_sup *web__sup_new(const char *exe, char *const *args, char *const *env, web_ring *ring,
                      int stop_timeout_s) {
  web_sup *s = xcalloc(1, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->exe = xstrdup(exe);
  s->args = strv_copy(args);
  s->env = strv_copy(env);
  s->ring = ring;
  s->stop_timeout_s = stop_timeout_s > 0 ? stop_timeout_s : 30;
  MIMIC_ASSERT(pthread_create(&s->th, NULL, sup_main, s) == 0);
  return s;
}

void web__sup_destroy(web_sup *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->quit = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  /* Jobs end with the dashboard: their output pipe is about to close, and a job nobody watches
   * would write to no one. Each is asked to stop (its process group gets SIGTERM). */
  for (int i = 0; i < JOBS_MAX; i++)
    if (s->jobs[i].pid > 0) {
      int st = s->jobs[i].status;
      bool ended = s->jobs[i].exited;
      if (!ended) {
        kill(-s->jobs[i].pid, SIGTERM);
        LOG_W("web", "stopping job pid %d with the dashboard", (int)s->jobs[i].pid);
        ended = waitpid(s->jobs[i].pid, &st, 0) == s->jobs[i].pid;
      }
      if (ended && s->jobs[i].done)
        s->jobs[i].done(s->jobs[i].user, s->jobs[i].pid, st); /* records the end, frees user */
      s->jobs[i].pid = 0;
    }
  for (int i = 0; i < READERS_MAX; i++)
    if (s->readers[i].used) pthread_join(s->readers[i].th, NULL);
  strv_free(s->args);
  strv_free(s->env);
  mem_free(s->exe);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  mem_free(s);
}

int web__sup_start(web_sup *s) {
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  if (s->pid > 0) {
    rc = err_set(MIMIC_EBUSY, "the bot is already running (pid %d)", (int)s->pid);
  } else {
    s->want = true;
    s->restarts = 0;
    s->last_error[0] = 0;
    bot_spawn(s);
    if (s->state == WEB_BOT_ERROR) rc = err_set(MIMIC_EIO, "%s", s->last_error);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int web__sup_stop(web_sup *s) {
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  s->want = false;
  if (s->state == WEB_BOT_BACKOFF || s->state == WEB_BOT_ERROR) {
    s->state = WEB_BOT_STOPPED;
  } else if (s->pid <= 0) {
    rc = err_set(MIMIC_ENOTFOUND, "the bot is not running");
  } else if (s->state != WEB_BOT_STOPPING) {
    s->state = WEB_BOT_STOPPING;
    s->stop_deadline = clock_mono_ms() + (uint64_t)s->stop_timeout_s * 1000;
    kill(s->pid, SIGTERM);
    LOG_I("web", "stopping the bot (pid %d): it finishes its replies first", (int)s->pid);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int web__sup_restart(web_sup *s) {
  pthread_mutex_lock(&s->mu);
  if (s->pid <= 0) {
    pthread_mutex_unlock(&s->mu);
    return web__sup_start(s);
  }
  s->want = true; /* bot_ended starts it again once it stopped */
  if (s->state != WEB_BOT_STOPPING) {
    s->state = WEB_BOT_STOPPING;
    s->stop_deadline = clock_mono_ms() + (uint64_t)s->stop_timeout_s * 1000;
    kill(s->pid, SIGTERM);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

int web__sup_signal(web_sup *s, int sig) {
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  if (s->pid <= 0 || s->state != WEB_BOT_RUNNING)
    rc = err_set(MIMIC_ENOTFOUND, "the bot is not running");
  else if (kill(s->pid, sig) != 0)
    rc = err_set(MIMIC_EIO, "cannot signal the bot: %s", strerror(errno));
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void web__sup_status(web_sup *s, web_sup_status *out) {
  pthread_mutex_lock(&s->mu);
  memset(out, 0, sizeof *out);
  out->state = s->state;
  out->pid = s->pid;
  out->started_ms = s->pid > 0 ? s->started_ms : 0;
  out->restarts = s->restarts;
  out->next_start_ms = s->next_start_ms;
  out->last_exit = s->last_exit;
  str_lcpy(out->last_error, s->last_error, sizeof out->last_error);
  out->ops_port = s->ops_port;
  pthread_mutex_unlock(&s->mu);
}

const char *web__bot_state_name(web_bot_state st) {
  static const char *const names[] = {"stopped",  "starting", "running",
                                      "stopping", "backoff",  "error"};
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

pid_t web__sup_spawn_job(web_sup *s, char *const *args, char *const *env, web_job_done_fn done,
                         void *user) {
  pthread_mutex_lock(&s->mu);
  int slot = -1;
  for (int i = 0; i < JOBS_MAX && slot < 0; i++)
    if (s->jobs[i].pid <= 0) slot = i;
  pid_t pid;
  if (slot < 0) {
    pid = err_set(MIMIC_EBUSY, "%d jobs are already running; wait for one to end", JOBS_MAX);
  } else {
    pid = spawn(s, args, env, false);
    if (pid > 0)
      s->jobs[slot] = (job){.pid = pid, .done = done, .user = user};
    else
      pid = MIMIC_EIO;
  }
  pthread_mutex_unlock(&s->mu);
  return pid;
}
