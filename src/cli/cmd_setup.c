/* `mimic setup`: the first run. Asks for the bot token (never echoed, logged or printed back),
 * verifies it (GET /users/@me), checks that the application may read message content
 * (GET /applications/@me) and says where to switch it on, prints the invite URL with the
 * permissions mimic needs and why, lists the GGUF models it finds and recommends a size for this
 * machine's memory, and writes mimic.conf (mode 0600: it holds the token), keeping a backup of a
 * file it replaces. In a terminal it asks; otherwise it reads the answers, one per line, from
 * standard input (token, model choice, "replace?"), so it can be scripted and tested. Not here:
 * the Discord calls themselves (discord/api.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/flags.h"
#include "discord/api.h"
#include "discord/rest.h"
#include "llm/gguf.h"

#define SETUP_TOKEN_MAX  512
#define SETUP_MODELS_MAX 64
#define SETUP_PATH_MAX   1024
#define GIB              (1024.0 * 1024.0 * 1024.0)

/* What mimic asks for in its invite, and why: the one list the invite URL is computed from. */
static const struct {
  uint64_t bit;
  const char *name, *why;
} perms[] = {
    {API_PERM_VIEW_CHANNEL, "View Channels", "see the channels it may talk in"},
    {API_PERM_SEND_MESSAGES, "Send Messages", "answer"},
    {API_PERM_SEND_MESSAGES_IN_THREADS, "Send Messages in Threads", "answer inside threads"},
    {API_PERM_READ_MESSAGE_HISTORY, "Read Message History",
     "read the conversation it answers, and `mimic fetch` the history it learns from"},
    {API_PERM_ADD_REACTIONS, "Add Reactions", "react to messages like the regulars do"},
    {API_PERM_MANAGE_WEBHOOKS, "Manage Webhooks",
     "speak as a persona (its own name and avatar) through a channel webhook"},
    {API_PERM_ATTACH_FILES, "Attach Files", "send reports and images (!stats, generated files)"},
    {API_PERM_EMBED_LINKS, "Embed Links", "show link previews and embeds in its messages"},
};

/* Model sizes for the recommendation: Q4_K_M files of instruct models (Qwen2.5 family figures) and
 * the memory `mimic run` holds while serving them with the engine settings setup writes (4 slots
 * of 2,048 positions, F16 KV cache). */
static const struct {
  const char *size, *example;
  double file_gib, rss_gib;
} sizes[] = {
    {"0.5B", "qwen2.5-0.5b-instruct-q4_k_m.gguf", 0.4, 0.7},
    {"1.5B", "qwen2.5-1.5b-instruct-q4_k_m.gguf", 1.0, 1.5},
    {"3B", "qwen2.5-3b-instruct-q4_k_m.gguf", 1.9, 2.6},
    {"7B", "qwen2.5-7b-instruct-q4_k_m.gguf", 4.7, 5.8},
};
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define RAM_SHARE                                                                                  \
  0.6 /* of total memory the bot may use; the rest is the system's and training's                  \
       */

typedef struct found_model {
  char path[SETUP_PATH_MAX];
  double gib;
  bool adapter;
  char arch[32];
  char name[96];
} found_model;

typedef struct setup {
  bool tty;
  bool yes;
  found_model models[SETUP_MODELS_MAX];
  int n_models;
} setup;

/* Reads one answer line from standard input (without the newline). Returns false at the end of
 * input. In a terminal with hide set, the typed characters are not echoed. */
static bool ask_line(const setup *s, bool hide, char *out, size_t cap) {
  struct termios old, quiet;
  bool restore = false;
  if (s->tty && hide && tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  fflush(stdout);
  bool ok = fgets(out, (int)cap, stdin) != NULL;
  if (restore) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    putchar('\n');
  }
  if (!ok) {
    out[0] = 0;
    return false;
  }
  size_t n = strcspn(out, "\r\n");
  if (out[n] == 0 && n + 1 == cap) { /* an overlong line: drop its rest */
    int ch;
    while ((ch = getchar()) != EOF && ch != '\n') {}
  }
  out[n] = 0;
  str_trim(out);
  return true;
}

/* A pasted token: "Bot " prefix dropped, no whitespace or control characters inside. */
static bool token_clean(char *t) {
  if (strncmp(t, "Bot ", 4) == 0) memmove(t, t + 4, strlen(t + 4) + 1);
  size_t n = strlen(t);
  if (n < 20 || n > 200) return false;
  for (const char *p = t; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '#')
      return false;
  return true;
}

/* ---- the machine ---- */

/* MemTotal and MemAvailable from /proc/meminfo, in GiB (0 when unknown). */
static void meminfo(double *total, double *avail) {
  *total = *avail = 0;
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long long kb;
    if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) *total = (double)kb / (1024.0 * 1024.0);
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) *avail = (double)kb / (1024.0 * 1024.0);
  }
  fclose(f);
}

/* The largest size whose serving memory fits RAM_SHARE of total (the smallest when none does). */
static size_t recommend(double total_gib) {
  size_t best = 0;
  for (size_t i = 0; i < N_SIZES; i++)
    if (sizes[i].rss_gib <= total_gib * RAM_SHARE) best = i;
  return best;
}

/* ---- models ---- */

static void model_add(setup *s, const char *path) {
  if (s->n_models >= SETUP_MODELS_MAX) return;
  for (int i = 0; i < s->n_models; i++)
    if (strcmp(s->models[i].path, path) == 0) return;
  gguf_file *g = NULL;
  if (gguf_open(path, &g) != 0) {
    err_clear();
    return; /* not a GGUF we can read: not offered */
  }
  found_model *m = &s->models[s->n_models++];
  memset(m, 0, sizeof *m);
  str_lcpy(m->path, path, sizeof m->path);
  m->gib = (double)gguf_file_size(g) / GIB;
  char *type = gguf_get_str_dup(g, "general.type");
  char *arch = gguf_get_str_dup(g, "general.architecture");
  char *name = gguf_get_str_dup(g, "general.name");
  m->adapter = type && strcmp(type, "adapter") == 0;
  str_lcpy(m->arch, arch ? arch : "?", sizeof m->arch);
  str_lcpy(m->name, name ? name : "", sizeof m->name);
  for (char *p = m->name; *p; p++)
    if ((unsigned char)*p < 0x20) *p = ' ';
  free(type);
  free(arch);
  free(name);
  gguf_close(g);
}

/* Finds *.gguf under dir (two levels down at most), in name order. */
static void models_scan(setup *s, const char *dir, int depth) {
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, alphasort);
  if (n < 0) return;
  for (int i = 0; i < n; i++) {
    const char *nm = ents[i]->d_name;
    char p[SETUP_PATH_MAX];
    if (nm[0] != '.' && snprintf(p, sizeof p, "%s/%s", dir, nm) < (int)sizeof p) {
      struct stat st;
      if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
        models_scan(s, p, depth - 1);
      else if (S_ISREG(st.st_mode) && str_ends_with(nm, ".gguf"))
        model_add(s, p);
    }
    free(ents[i]);
  }
  free(ents);
}

/* The path as the config file should hold it: relative to the config's folder when under it. */
static const char *rel_to(const char *base_dir, const char *path) {
  size_t n = strlen(base_dir);
  if (n > 1 && strncmp(path, base_dir, n) == 0 && path[n] == '/') return path + n + 1;
  return path;
}

/* ---- the file ---- */

/* Copies path to backup with mode 0600 (the file holds a token). */
static int copy_private(const char *path, const char *backup) {
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, 1 << 20, &data, &n);
  if (rc) return rc;
  int fd = open(backup, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    mem_free(data);
    return err_set(MIMIC_EIO, "%s: cannot create the backup: %s", backup, strerror(errno));
  }
  bool ok = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  mem_free(data);
  return ok ? 0 : err_set(MIMIC_EIO, "%s: cannot write the backup", backup);
}

/* Writes text to path through a 0600 temporary file and a rename. */
static int write_private(const char *path, const char *text) {
  char tmp[SETUP_PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n && fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return err_set(MIMIC_EIO, "%s: cannot write: %s", path, strerror(errno));
  }
  return 0;
}

/* Appends to a buf whose cap the config text never reaches (an error is remembered in *rc). */
static void put(buf *b, int *rc, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static void put(buf *b, int *rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!*rc) *rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
}

static int conf_text(buf *b, const char *token, const char *api, const char *model,
                     uint64_t owner_id) {
  char ts[32];
  int rc = 0;
  clock_iso8601(clock_wall_ms(), ts);
  put(b, &rc,
      "# mimic configuration, written by `mimic setup` on %s.\n"
      "# It holds the bot token: keep it private (mode 0600). Every key and its default:\n"
      "# mimic.conf.example; what each does: docs/config.md. Relative paths are from this\n"
      "# file's folder.\n\n",
      ts);
  put(b, &rc,
      "[log]\nlevel = info\nfile = data/logs/mimic.log     # rotated daily; kept "
      "log.retention_days\n\n");
  put(b, &rc, "[data]\ndir = data\n\n");
  put(b, &rc, "[discord]\ntoken = %s\n", token);
  if (strcmp(api, cfg_key_default(CFG_DISCORD_API)) != 0) put(b, &rc, "api = %s\n", api);
  put(b, &rc, "\n[bot]\n");
  if (owner_id)
    put(b, &rc, "admins = %" PRIu64 "                # the application's owner\n", owner_id);
  else
    put(b, &rc, "admins =                       # your Discord user id, for the !commands\n");
  put(b, &rc, "response_rate = %s\n\n", cfg_key_default(CFG_BOT_RESPONSE_RATE));
  put(b, &rc,
      "[engine]\nbackend = local\nmodel = %s\nthreads = 0\nslots = 4\nctx = 2048\n"
      "kv_type = f16\n",
      model);
  return rc;
}

/* ---- the steps ---- */

static int step_token(setup *s, const cfg *c, char *tok, size_t cap) {
  const char *env = cfg_str(c, CFG_DISCORD_TOKEN);
  printf("1. The bot token\n");
  if (*env) {
    str_lcpy(tok, env, cap);
    printf("   Using the token in DISCORD_TOKEN.\n");
  } else {
    printf("   Developer Portal (https://discord.com/developers/applications) -> your application\n"
           "   -> Bot -> Reset Token, then paste it here%s: ",
           s->tty ? " (it is not shown)" : "");
    if (!ask_line(s, true, tok, cap) || !*tok) {
      if (!s->tty) putchar('\n');
      cli_error("no token given: paste the bot token, or set DISCORD_TOKEN");
      return 1;
    }
    if (!s->tty) putchar('\n');
  }
  if (!token_clean(tok)) {
    cli_error("that does not look like a bot token (20 to 200 characters, no spaces); copy it "
              "again from the Bot page");
    return 1;
  }
  log_add_secret(tok);
  return 0;
}

static int step_verify(const cfg *c, const char *tok, api_self *me, api_application *app) {
  rest *r = NULL;
  rest_opts o;
  int status = 1;
  if (rest_opts_from_cfg(c, tok, &o) != 0 || rest_new(NULL, &o, &r) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("\n2. Checking the token with Discord (GET /users/@me)\n");
  int rc = api_self_get(r, me);
  if (rc != 0) {
    if (rc == MIMIC_EAUTH)
      cli_error("Discord refused this token. Reset it on the Bot page and run mimic setup again");
    else
      cli_error("%s", err_msg());
    goto out;
  }
  printf("   OK: the bot is %s (id %" PRIu64 ")%s\n", me->username, me->id,
         me->bot ? "" : " -- this is not a bot account; use a bot token");
  if (api_application_get(r, app) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  status = 0;
out:
  rest_destroy(r);
  return status;
}

static void step_intents(const api_application *app) {
  printf("\n3. Privileged intents of \"%s\" (GET /applications/@me)\n", app->name);
  if (api_application_message_content(app)) {
    printf("   MESSAGE CONTENT: on. mimic can read what people write.\n");
    return;
  }
  printf("   MESSAGE CONTENT: OFF. Without it the bot receives empty messages and can neither\n"
         "   learn nor answer. Switch it on:\n"
         "     https://discord.com/developers/applications/%" PRIu64 "/bot\n"
         "     -> Privileged Gateway Intents -> MESSAGE CONTENT INTENT -> on -> Save Changes\n"
         "   (an app past Discord's review threshold must have it approved first). mimic needs no\n"
         "   other privileged intent: not PRESENCE, not SERVER MEMBERS.\n",
         app->id);
}

static void step_invite(const api_application *app) {
  uint64_t bits = 0;
  for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++) bits |= perms[i].bit;
  char url[256];
  if (api_invite_url(app->id, bits, true, url, sizeof url) != 0) return;
  printf("\n4. Invite the bot to your server (open this link, pick the server)\n   %s\n", url);
  printf("   It asks for exactly these permissions (integer %" PRIu64 "):\n", bits);
  for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++)
    printf("     %-25s to %s\n", perms[i].name, perms[i].why);
  printf("     and the applications.commands scope, for its slash commands.\n");
  if (!app->bot_public)
    printf("   The bot is private (Public Bot off): only you can use this link, as intended.\n");
  if (app->code_grant)
    printf("   Note: Requires OAuth2 Code Grant is on (Bot page); switch it off, or the link "
           "fails.\n");
}

/* Lists the models, recommends a size and picks the base model. *choice: index into s->models or
 * -1 (none found: the config names models/base.gguf). Returns 0 or 1 after printing why. */
static int step_models(setup *s, const char *model_opt, double ram_gib, int *choice) {
  double total, avail;
  meminfo(&total, &avail);
  if (ram_gib > 0) total = avail = ram_gib;
  printf("\n5. The model\n");
  size_t rec = recommend(total);
  if (total > 0)
    printf("   This machine has %.1f GiB of memory (%.1f GiB available). Sizes (Q4_K_M) and the "
           "memory\n   mimic run holds while serving them:\n",
           total, avail);
  else
    printf("   The memory of this machine is unknown. Sizes (Q4_K_M) and the memory mimic run "
           "holds\n   while serving them:\n");
  for (size_t i = 0; i < N_SIZES; i++)
    printf("     %-5s %4.1f GiB file  %4.1f GiB to serve  e.g. %s%s\n", sizes[i].size,
           sizes[i].file_gib, sizes[i].rss_gib, sizes[i].example,
           i == rec && total > 0 ? "   <- recommended" : "");
  printf("   Training an adapter (mimic train) needs about twice the serving memory.\n");
  *choice = -1;
  if (model_opt) {
    model_add(s, model_opt);
    for (int i = 0; i < s->n_models; i++)
      if (strcmp(s->models[i].path, model_opt) == 0 && !s->models[i].adapter) *choice = i;
    if (*choice < 0) {
      cli_error("--model %s: not a readable GGUF model (%s)", model_opt,
                access(model_opt, R_OK) ? "no such file" : "an adapter or not GGUF");
      return 1;
    }
    printf("   Using %s.\n", model_opt);
    return 0;
  }
  int n_base = 0, first = -1, best = -1;
  for (int i = 0; i < s->n_models; i++) {
    found_model *m = &s->models[i];
    if (m->adapter) continue;
    if (first < 0) first = i;
    if (m->gib <= sizes[rec].file_gib * 1.3 && (best < 0 || m->gib > s->models[best].gib)) best = i;
    n_base++;
  }
  if (n_base == 0) {
    printf("   No GGUF model found under models/ or data/. Download one, for example\n"
           "     %s from huggingface.co (Qwen/Qwen2.5-%s-Instruct-GGUF),\n"
           "   into models/ and set engine.model in the config (it now names models/base.gguf).\n",
           sizes[rec].example, sizes[rec].size);
    return 0;
  }
  if (best < 0) best = first;
  printf("   Found:\n");
  for (int i = 0; i < s->n_models; i++) {
    found_model *m = &s->models[i];
    printf("     %s%d) %s  %.2f GiB  %s%s%s%s\n", i == best ? "*" : " ", i + 1, m->path, m->gib,
           m->arch, *m->name ? " \"" : "", m->name, *m->name ? "\"" : "");
    if (m->adapter) printf("        (a LoRA adapter: set it as engine.adapter, not as the base)\n");
  }
  *choice = best;
  if (s->yes) {
    printf("   Using %d) %s.\n", best + 1, s->models[best].path);
    return 0;
  }
  printf("   Which one is the base model? [%d] ", best + 1);
  char line[64];
  if (!ask_line(s, false, line, sizeof line) || !*line) {
    if (!s->tty) putchar('\n');
    return 0;
  }
  if (!s->tty) putchar('\n');
  int64_t k;
  if (str_to_i64(line, &k) != 0 || k < 1 || k > s->n_models || s->models[k - 1].adapter) {
    err_clear();
    cli_error("'%s' is not one of the models listed (give its number)", line);
    return 1;
  }
  *choice = (int)k - 1;
  return 0;
}

/* Writes the config; an existing file is replaced only when the user agrees (or --yes), after a
 * backup. Returns 0 or 1. */
static int step_write(setup *s, const char *path, const char *text) {
  printf("\n6. The configuration\n");
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      cli_error("%s is a folder; give the config file's path with --config", path);
      return 1;
    }
    char backup[SETUP_PATH_MAX + 40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = (size_t)snprintf(backup, sizeof backup, "%s.bak-", path);
    strftime(backup + n, sizeof backup - n, "%Y%m%d-%H%M%S", &tm);
    if (!s->yes) {
      printf("   %s exists. Replace it (the old one is kept as %s)? [y/N] ", path, backup);
      char line[16];
      bool got = ask_line(s, false, line, sizeof line);
      if (!s->tty) putchar('\n');
      if (!got || (strcmp(line, "y") != 0 && strcmp(line, "yes") != 0)) {
        printf("   Kept %s unchanged. Run mimic setup --yes to replace it (with a backup).\n",
               path);
        return 1;
      }
    }
    if (access(backup, F_OK) == 0) {
      size_t m = strlen(backup);
      snprintf(backup + m, sizeof backup - m, "-%d", (int)getpid());
    }
    if (copy_private(path, backup) != 0) {
      cli_error("%s", err_msg());
      return 1;
    }
    printf("   Backed up the old file as %s (mode 0600).\n", backup);
  }
  if (fs_mkdirs_for(path) != 0 || write_private(path, text) != 0) {
    cli_error("%s", err_msg());
    return 1;
  }
  printf("   Wrote %s (mode 0600: it holds the token, which is not shown here).\n", path);
  return 0;
}

int cmd_setup(int argc, char **argv) {
  const char *conf = NULL, *model = NULL, *models_dir = NULL;
  double ram = 0;
  bool yes = false;
  const cli_opt opts[] = {
      {.name = "config",
       .type = CLI_PATH,
       .dest = &conf,
       .meta = "FILE",
       .help = "the configuration file to write (default: MIMIC_CONFIG, else ./mimic.conf)"},
      {.name = "model",
       .type = CLI_PATH,
       .dest = &model,
       .meta = "FILE",
       .help = "the base GGUF model (default: ask, among those found)"},
      {.name = "models",
       .type = CLI_PATH,
       .dest = &models_dir,
       .meta = "DIR",
       .help = "also look for GGUF files in DIR (models/ and data/ are always searched)"},
      {.name = "ram",
       .type = CLI_DOUBLE,
       .dest = &ram,
       .meta = "GIB",
       .help = "recommend for this much memory instead of this machine's (/proc/meminfo)",
       .min = 0.1,
       .max = 65536},
      {.name = "yes",
       .short_name = 'y',
       .type = CLI_BOOL,
       .dest = &yes,
       .help = "take the defaults: the recommended model, and replace an existing config after "
               "backing it up"},
      {0}};
  const cli_spec spec = {
      .name = "setup",
      .summary =
          "The first run: asks for the bot token and checks it with Discord, checks the MESSAGE "
          "CONTENT\nintent, prints the invite link with the permissions mimic needs, finds GGUF "
          "models and\nrecommends a size for this machine, and writes mimic.conf (mode 0600). "
          "Without a terminal\nit reads the answers from standard input, one per line: the "
          "token (unless DISCORD_TOKEN\nis set), the model's number (when models are found and "
          "--model is not given), and y to\nreplace an existing config (unless --yes).",
      .example = "setup\nsetup --yes --model models/base.gguf < answers.txt",
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  setup *s = xcalloc(1, sizeof *s);
  s->tty = isatty(STDIN_FILENO) == 1;
  s->yes = yes;
  int status = 1;
  buf text;
  buf_init(&text, 1 << 16);
  char tok[SETUP_TOKEN_MAX] = "";
  cfg *c = cfg_new();
  if (cfg_load_env(c) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (!conf) conf = getenv("MIMIC_CONFIG");
  if (!conf || !*conf) conf = "mimic.conf";
  char base_dir[SETUP_PATH_MAX];
  str_lcpy(base_dir, conf, sizeof base_dir);
  char *slash = strrchr(base_dir, '/');
  if (slash)
    *slash = 0;
  else
    str_lcpy(base_dir, ".", sizeof base_dir);
  if (!*base_dir) str_lcpy(base_dir, "/", sizeof base_dir);
  printf("mimic setup: writes %s in %d steps.\n\n", conf, 6);
  if ((status = step_token(s, c, tok, sizeof tok))) goto out;
  api_self me;
  api_application app;
  if ((status = step_verify(c, tok, &me, &app))) goto out;
  step_intents(&app);
  step_invite(&app);
  char dir[SETUP_PATH_MAX + 16];
  const char *scan[] = {"models", "data"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(dir, sizeof dir, "%s/%s", base_dir, scan[i]);
    models_scan(s, strcmp(base_dir, ".") == 0 ? scan[i] : dir, 2);
  }
  if (models_dir) models_scan(s, models_dir, 2);
  int choice;
  if ((status = step_models(s, model, ram, &choice))) goto out;
  /* The model as the config should name it: relative to the config's folder when it is inside
   * it, else absolute (a path relative to where setup ran would not resolve from the config). */
  char abs_model[PATH_MAX], abs_base[PATH_MAX];
  const char *mpath = "models/base.gguf";
  if (choice >= 0) {
    mpath = s->models[choice].path;
    if (realpath(mpath, abs_model)) /* a folder not made yet holds no model: absolute */
      mpath = realpath(base_dir, abs_base) ? rel_to(abs_base, abs_model) : abs_model;
  }
  if (conf_text(&text, tok, cfg_str(c, CFG_DISCORD_API), mpath, app.owner_id) != 0) {
    cli_error("%s", err_msg());
    status = 1;
    goto out;
  }
  if ((status = step_write(s, conf, text.data))) goto out;
  printf("\nNext:\n  mimic run --config %s          # the bot (Ctrl-C stops it)\n", conf);
  printf(
      "  mimic fetch --config %s        # its servers' history, to learn from (docs/collect.md)\n",
      conf);
  printf("  deploy/mimic.service           # run it as a service (docs/operations.md)\n");
  if (!api_application_message_content(&app))
    printf("Switch MESSAGE CONTENT on first (step 3), or the bot sees only empty messages.\n");
  if (choice < 0) printf("Put a GGUF model at models/base.gguf first (step 5).\n");
  status = 0;
out:
  explicit_bzero(tok, sizeof tok);
  if (text.data) explicit_bzero(text.data, text.len);
  buf_free(&text);
  cfg_destroy(c);
  mem_free(s);
  return status;
}
