/* `mimic simulate`: the bot's whole reply flow on the terminal, without Discord. Each line typed is
 * a message in one simulated channel (from you, an admin, or "name: text" from someone else);
 * "@mimic" mentions the bot, "!commands" work as on a server, and the bot answers through the same
 * router, memory, prompt building, engine and post-processing as `mimic run`, its posts coming back
 * to it as the gateway would echo them. By default everything lives in an in-memory database, so
 * nothing touches data/mimic.db (--db FILE to use one). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bot/bot.h"
#include "cli/engine_opts.h"
#include "store/store.h"

#define SIM_LINE_MAX 4000
#define SIM_SELF     1000
#define SIM_YOU      1
#define SIM_CHANNEL  10
#define SIM_GUILD    5
#define SIM_ECHO_MAX 64

typedef struct sim {
  const char *bot_name;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool woken, restart;
  uint64_t next_id;
  struct {
    uint64_t id;
    char *text;
  } echo[SIM_ECHO_MAX];
  int n_echo;
} sim;

/* Components and files under a post: buttons as "[label]", a select as "[placeholder: a | b]",
 * files as "[file name (N bytes)]", one line each kind. */
static void sim_extras(const discord_action_row *rows, size_t n_rows, const discord_file *files,
                       size_t n_files) {
  for (size_t i = 0; i < n_rows; i++) {
    printf("   ");
    for (size_t k = 0; k < rows[i].n_items; k++) {
      const discord_component *c = &rows[i].items[k];
      if (c->type == DISCORD_COMPONENT_STRING_SELECT) {
        printf(" [%s:", c->placeholder ? c->placeholder : "choose");
        for (size_t o = 0; o < c->n_options; o++)
          printf("%s %s", o ? " |" : "", c->options[o].label);
        printf("]");
      } else {
        printf(" [%s%s%s]", c->emoji ? c->emoji : "", c->emoji && c->label ? " " : "",
               c->label ? c->label : "");
      }
    }
    printf("\n");
  }
  for (size_t i = 0; i < n_files; i++)
    printf("    [file %s (%zu bytes)]\n", files[i].filename, files[i].size);
}

static int sim_send(void *u, const bot_send *m) {
  sim *s = u;
  if (m->reply_to)
    printf("%s (replying to #%" PRIu64 "%s): %s\n", s->bot_name, m->reply_to,
           m->ping_replied_user ? ", with a ping" : "", m->text);
  else
    printf("%s: %s\n", s->bot_name, m->text);
  sim_extras(m->rows, m->n_rows, m->files, m->n_files);
  fflush(stdout);
  if (s->n_echo < SIM_ECHO_MAX) {
    s->echo[s->n_echo].id = ++s->next_id;
    s->echo[s->n_echo].text = xstrdup(m->text);
    s->n_echo++;
  }
  return 0;
}

static int sim_typing(void *u, uint64_t ch) {
  (void)ch;
  fprintf(stderr, "(%s is typing...)\n", ((sim *)u)->bot_name);
  return 0;
}

static int sim_dm(void *u, uint64_t user, const char *text) {
  fprintf(stdout, "[DM from %s to user %" PRIu64 "] %s\n", ((sim *)u)->bot_name, user, text);
  return 0;
}

static int sim_react(void *u, uint64_t ch, uint64_t msg, const char *emoji) {
  (void)u, (void)ch;
  printf("[reaction %s on #%" PRIu64 "]\n", emoji, msg);
  return 0;
}

static int sim_persona(void *u, const bot_persona_send *m) {
  (void)u;
  if (m->thread_id)
    printf("[as %s, in thread #%" PRIu64 "] %s\n", m->username, m->thread_id, m->text);
  else
    printf("[as %s] %s\n", m->username, m->text);
  sim_extras(m->rows, m->n_rows, m->files, m->n_files);
  fflush(stdout);
  return 0;
}

static int sim_respond(void *u, const bot_response *r) {
  const char *eph = r->ephemeral ? "[ephemeral] " : "";
  switch (r->type) {
  case DISCORD_RESPONSE_DEFERRED:
    printf("%s[%s is thinking...]\n", eph, ((sim *)u)->bot_name);
    break;
  case DISCORD_RESPONSE_DEFERRED_UPDATE: printf("[the interaction is acknowledged]\n"); break;
  case DISCORD_RESPONSE_AUTOCOMPLETE:
    printf("[choices:");
    for (size_t i = 0; i < r->n_choices; i++) printf("%s %s", i ? " |" : "", r->choices[i].name);
    printf("]\n");
    break;
  case DISCORD_RESPONSE_UPDATE: printf("[updates the message] %s\n", r->text ? r->text : ""); break;
  default: printf("%s%s\n", eph, r->text ? r->text : ""); break;
  }
  sim_extras(r->rows, r->n_rows, NULL, 0);
  fflush(stdout);
  return 0;
}

static int sim_edit_original(void *u, const bot_followup *f) {
  (void)u;
  printf("[edits its answer] %s\n", f->text ? f->text : "");
  sim_extras(f->rows, f->n_rows, NULL, 0);
  fflush(stdout);
  return 0;
}

static int sim_followup(void *u, const bot_followup *f) {
  (void)u;
  printf("%s[follow-up] %s\n", f->ephemeral ? "[ephemeral] " : "", f->text ? f->text : "");
  sim_extras(f->rows, f->n_rows, f->files, f->n_files);
  fflush(stdout);
  return 0;
}

static int sim_restart(void *u) {
  ((sim *)u)->restart = true;
  printf("[the bot asks the runtime to restart; the simulation ends]\n");
  return 0;
}

static int sim_job(void *u, const char *job, uint64_t by, uint64_t ch) {
  (void)u, (void)by, (void)ch;
  printf("[the bot asks the runtime to start '%s' (not run by the simulator)]\n", job);
  return 0;
}

static void sim_wake(void *u) {
  sim *s = u;
  pthread_mutex_lock(&s->mu);
  s->woken = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* One MESSAGE_CREATE in the simulated channel. */
static int sim_message(bot *b, uint64_t id, uint64_t author, const char *name, bool is_bot,
                       const char *text, bool mention) {
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_MESSAGE_CREATE;
  discord_message *m = &ev.u.message;
  discord_id self = SIM_SELF;
  m->id = id;
  m->channel_id = SIM_CHANNEL;
  m->guild_id = SIM_GUILD;
  m->has_author = true;
  m->author = (discord_user){.id = author,
                             .username = name,
                             .global_name = "",
                             .discriminator = "0",
                             .avatar = "",
                             .bot = is_bot};
  m->member.nick = "";
  m->content = text;
  m->has_content = true;
  m->timestamp_ms = clock_wall_ms();
  m->channel_type = 0;
  if (mention) {
    m->mentions = &self;
    m->n_mentions = 1;
  }
  return bot_handle_event(b, &ev);
}

/* Lets the bot work until nothing is in flight, polling at least every second (typing refresh). */
static void sim_settle(sim *s, bot *b) {
  bot_poll(b);
  while (bot_inflight(b) > 0 || s->n_echo > 0) {
    for (int i = 0; i < s->n_echo; i++) {
      if (sim_message(b, s->echo[i].id, SIM_SELF, s->bot_name, true, s->echo[i].text, false)) {
        cli_error("%s", err_msg());
        err_clear();
      }
      mem_free(s->echo[i].text);
    }
    s->n_echo = 0;
    if (bot_inflight(b) == 0) break;
    pthread_mutex_lock(&s->mu);
    if (!s->woken) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    s->woken = false;
    pthread_mutex_unlock(&s->mu);
    bot_poll(b);
  }
}

/* Replaces "@NAME" (the bot's name, any case) with the mention markup and says whether it was
 * there. */
static bool sim_mention(const char *in, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name), o = 0;
  bool hit = false;
  for (const char *p = in; *p && o + 1 < cap;) {
    if (p[0] == '@' && strncasecmp(p + 1, name, nl) == 0) {
      int w = snprintf(out + o, cap - o, "<@%d>", SIM_SELF);
      if (w < 0 || (size_t)w >= cap - o) break;
      o += (size_t)w;
      p += 1 + nl;
      hit = true;
      continue;
    }
    out[o++] = *p++;
  }
  out[o] = 0;
  return hit || strstr(in, "<@1000>") != NULL;
}

int cmd_simulate(int argc, char **argv) {
  const char *db = ":memory:", *you = "you";
  sim s = {.bot_name = "mimic", .next_id = 1000000};
  cli_llm o;
  cli_llm_init(&o);
  const cli_opt opts[] = {{.name = "db",
                           .type = CLI_PATH,
                           .dest = &db,
                           .meta = "FILE",
                           .help = "keep the simulation in this database (default: in memory)"},
                          {.name = "name",
                           .type = CLI_STR,
                           .dest = &you,
                           .meta = "YOU",
                           .help = "your name in the channel (default you)"},
                          {.name = "bot-name",
                           .type = CLI_STR,
                           .dest = &s.bot_name,
                           .meta = "NAME",
                           .help = "the bot's name (default mimic)"},
                          CLI_LLM_MODEL_OPTS(&o),
                          CLI_LLM_SAMPLING_OPTS(&o),
                          CLI_LLM_BACKEND_OPTS(&o),
                          {0}};
  const cli_spec spec = {
      .name = "simulate",
      .summary = "The bot's reply flow and !commands on the terminal, without Discord. Lines: "
                 "text (from you, an\nadmin), 'name: text' (from someone else), '@mimic' to "
                 "mention the bot, !commands as on a\nserver, /quit to leave. bot.* settings "
                 "come from the configuration.",
      .example = "simulate --model models/base.gguf --lora models/adapter.gguf",
      .config = true,
      .opts = opts};
  cli_args a;
  int rc;
  cfg *c = cli_start(&spec, argc, argv, &a, &rc);
  if (!c) return rc;
  if ((rc = cli_llm_finish(&o, &spec, &a, c))) {
    cfg_destroy(c);
    return rc;
  }
  o.slots = 2;
  /* Only what a flag changed is set, as "command line": the rest keeps its source for !status. */
  char num[32];
  int crc = 0;
  snprintf(num, sizeof num, "%d", o.req.max_tokens);
  if (o.req.max_tokens != cfg_int(c, CFG_ENGINE_MAX_TOKENS))
    crc = cfg_set(c, "engine.max_tokens", num, CFG_SRC_CLI);
  snprintf(num, sizeof num, "%g", (double)o.req.sampling.temperature);
  if (!crc && o.req.sampling.temperature != (float)cfg_num(c, CFG_ENGINE_TEMPERATURE))
    crc = cfg_set(c, "engine.temperature", num, CFG_SRC_CLI);
  snprintf(num, sizeof num, "%d", o.ctx);
  if (!crc && o.ctx != cfg_int(c, CFG_ENGINE_CTX)) crc = cfg_set(c, "engine.ctx", num, CFG_SRC_CLI);
  snprintf(num, sizeof num, "%d", SIM_YOU);
  if (!crc) crc = cfg_set(c, "bot.admins", num, CFG_SRC_CLI);
  if (crc) {
    cli_error("%s", err_msg());
    cfg_destroy(c);
    return 2;
  }
  store *st = NULL;
  llm_backend *be = NULL;
  bot *b = NULL;
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  int status = 1;
  if (store_open(db, &st)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (!(be = cli_llm_open(&o))) goto out;
  bot_actions act = {.user = &s,
                     .send = sim_send,
                     .typing = sim_typing,
                     .send_dm = sim_dm,
                     .react = sim_react,
                     .request_restart = sim_restart,
                     .start_job = sim_job,
                     .persona_send = sim_persona,
                     .respond = sim_respond,
                     .edit_original = sim_edit_original,
                     .followup = sim_followup};
  bot_opts bo = {.config = c,
                 .db = st,
                 .backend = be,
                 .actions = &act,
                 .wake = sim_wake,
                 .wake_user = &s,
                 .model_name = o.model,
                 .seed = o.req.sampling.seed != LLM_SEED_RANDOM ? o.req.sampling.seed : 0};
  if (bot_new(&bo, &b)) {
    cli_error("%s", err_msg());
    goto out;
  }
  discord_event ready;
  memset(&ready, 0, sizeof ready);
  ready.type = DISCORD_EV_READY;
  ready.u.ready.user = (discord_user){.id = SIM_SELF,
                                      .username = s.bot_name,
                                      .global_name = "",
                                      .discriminator = "0",
                                      .avatar = "",
                                      .bot = true};
  ready.u.ready.session_id = ready.u.ready.resume_gateway_url = "";
  if (bot_handle_event(b, &ready)) err_clear();
  fprintf(stderr,
          "simulating #general with %s (response rate %g); you are %s, an admin. /quit to leave.\n",
          s.bot_name, cfg_num(c, CFG_BOT_RESPONSE_RATE), you);
  char line[SIM_LINE_MAX], text[SIM_LINE_MAX + 64];
  uint64_t next_user = 100;
  while (!s.restart && fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    if (strcmp(line, "/quit") == 0) break;
    if (!line[0]) continue;
    /* "name: text" speaks as someone else (each name gets its own id). */
    const char *who = you, *body = line;
    uint64_t author = SIM_YOU;
    char other[64];
    const char *colon = strstr(line, ": ");
    if (colon && colon > line && (size_t)(colon - line) < sizeof other &&
        !memchr(line, ' ', (size_t)(colon - line))) {
      memcpy(other, line, (size_t)(colon - line));
      other[colon - line] = 0;
      if (strcmp(other, you) != 0) {
        who = other;
        author = next_user + (uint64_t)(other[0] & 0x3f);
      }
      body = colon + 2;
    }
    bool mention = sim_mention(body, s.bot_name, text, sizeof text);
    char *fixed = utf8_repair(text, strlen(text));
    if (sim_message(b, ++s.next_id, author, who, false, fixed ? fixed : "", mention)) {
      cli_error("%s", err_msg());
      err_clear();
    }
    mem_free(fixed);
    sim_settle(&s, b);
  }
  status = 0;
out:
  bot_destroy(b);
  for (int i = 0; i < s.n_echo; i++) mem_free(s.echo[i].text);
  llm_backend_destroy(be);
  store_close(st);
  pthread_cond_destroy(&s.cv);
  pthread_mutex_destroy(&s.mu);
  cfg_destroy(c);
  return status;
}
