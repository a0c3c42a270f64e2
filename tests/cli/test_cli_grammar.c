/* One CLI grammar, checked on the real binary (MIMIC_BIN): every command listed by `mimic help`,
 * and every subcommand its help lists, answers --help and -h with its usage, options and an
 * example (exit 0, with a configuration that cannot be loaded and an API that cannot be reached, so
 * nothing is loaded or connected), and names an unknown option in one line (exit 2). Then the
 * grammar itself: options after paths, --opt=value, --, missing and bad values, an option given
 * twice, and import of a folder of DiscordChatExporter files and of a data package with --author
 * after the path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

#define OUT_MAX 65536

static const char *bin;
static char tmp[256];

/* Runs `mimic ARGS` with the environment env (may be ""), stdout into out and stderr into err;
 * returns the exit status. */
static int run(const char *env, const char *args, char *out, char *err) {
  char errfile[300], cmd[4096];
  snprintf(errfile, sizeof errfile, "%s/stderr", tmp);
  snprintf(cmd, sizeof cmd, "%s %s %s 2>%s", env, bin, args, errfile);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, OUT_MAX - 1, p);
  out[n] = 0;
  int st = pclose(p);
  FILE *f = fopen(errfile, "rb");
  n = f ? fread(err, 1, OUT_MAX - 1, f) : 0;
  err[n] = 0;
  if (f) fclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Nothing may be loaded or reached while asking for help. */
#define NO_WORLD                                                                                   \
  "MIMIC_CONFIG=/nonexistent/mimic.conf MIMIC_DISCORD_API=http://127.0.0.1:1 DISCORD_TOKEN= "      \
  "MIMIC_STORE_PATH=/nonexistent/mimic.db"

/* The names listed under "commands:" in a help text (two spaces, a name, spaces). */
static int list_commands(const char *help, char names[][32], int cap) {
  const char *p = strstr(help, "commands:\n");
  int n = 0;
  if (!p) return 0;
  p += strlen("commands:\n");
  while (p[0] == ' ' && p[1] == ' ' && n < cap) {
    size_t len = strcspn(p + 2, " \n");
    if (len == 0 || len >= 32) break;
    memcpy(names[n], p + 2, len);
    names[n][len] = 0;
    n++;
    p = strchr(p, '\n');
    if (!p) break;
    p++;
  }
  return n;
}

static int checked;

/* `mimic NAME --help`, `-h` and an unknown option; then the same for NAME's subcommands. */
static void check_command(const char *name) {
  static char out[OUT_MAX], err[OUT_MAX], out2[OUT_MAX];
  char args[256], usage[128];
  snprintf(args, sizeof args, "%s --help", name);
  snprintf(usage, sizeof usage, "usage: mimic %s", name);
  int rc = run(NO_WORLD, args, out, err);
  if (rc != 0 || strncmp(out, usage, strlen(usage)) != 0 || !strstr(out, "options:") ||
      !strstr(out, "-h, --help") || !strstr(out, "example:\n  mimic ") || *err)
    TEST_FAIL_("mimic %s --help: exit %d, stdout:\n%s\nstderr:\n%s", name, rc, out, err);
  checked++;
  snprintf(args, sizeof args, "%s -h", name);
  CHECK_INT(run(NO_WORLD, args, out2, err), 0);
  CHECK_STR(out2, out);
  if (strcmp(name, "version") != 0 && strcmp(name, "help") != 0 && !strchr(name, ' ')) {
    snprintf(args, sizeof args, "help %s", name); /* mimic help CMD is the same text */
    CHECK_INT(run(NO_WORLD, args, out2, err), 0);
    CHECK_STR(out2, out);
  }

  char names[32][32];
  int n = list_commands(out, names, 32);
  snprintf(args, sizeof args, "%s --no-such-option", name);
  char want[160], see[160];
  snprintf(want, sizeof want, "mimic %s: unknown option '--no-such-option'\n", name);
  snprintf(see, sizeof see, "see 'mimic %s --help'\n", name);
  rc = run(NO_WORLD, args, out2, err);
  if (rc != 2 || strncmp(err, want, strlen(want)) != 0 || !strstr(err, see) || *out2)
    TEST_FAIL_("mimic %s --no-such-option: exit %d, stderr:\n%s", name, rc, err);
  for (int i = 0; i < n; i++) {
    char sub[96];
    snprintf(sub, sizeof sub, "%s %s", name, names[i]);
    check_command(sub);
  }
}

TEST(every_command_answers_help_and_names_unknown_options) {
  if (!bin) SKIP("MIMIC_BIN not set");
  static char out[OUT_MAX], err[OUT_MAX];
  CHECK_INT(run(NO_WORLD, "help", out, err), 0);
  char names[64][32];
  int n = list_commands(out, names, 64);
  CHECK(n >= 20);
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], "help") != 0) check_command(names[i]);
  CHECK(checked >= n + 6); /* the groups' subcommands were found and checked too */
  /* --config is offered where the configuration is read, and only there */
  CHECK_INT(run(NO_WORLD, "prepare --help", out, err), 0);
  CHECK(strstr(out, "--config FILE") != NULL);
  CHECK(strstr(out, "(default: collect.gap_min = 30)") != NULL); /* from the key table */
  CHECK_INT(run(NO_WORLD, "quantize --help", out, err), 0);
  CHECK(strstr(out, "--config") == NULL);
  /* an unknown command */
  CHECK_INT(run(NO_WORLD, "frobnicate", out, err), 2);
  CHECK(strstr(err, "unknown command 'frobnicate'") != NULL);
}

TEST(values_are_checked_and_named) {
  if (!bin) SKIP("MIMIC_BIN not set");
  static char out[OUT_MAX], err[OUT_MAX];
  CHECK_INT(run(NO_WORLD, "prepare --gap-min", out, err), 2);
  CHECK(strstr(err, "mimic prepare: --gap-min needs a value (N)") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare --gap-min abc", out, err), 2);
  CHECK(strstr(err, "--gap-min: 'abc' is not a whole number from 1 to 10080") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare --valid=2", out, err), 2); /* the key's bounds */
  CHECK(strstr(err, "--valid: '2' is not a number from 0 to 0.9") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare --user 0", out, err), 2);
  CHECK(strstr(err, "is not a Discord id") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare --kto --kto", out, err), 2);
  CHECK(strstr(err, "--kto given twice") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare --kto=yes", out, err), 2);
  CHECK(strstr(err, "--kto takes no value") != NULL);
  CHECK_INT(run(NO_WORLD, "prepare extra", out, err), 2);
  CHECK(strstr(err, "unexpected argument 'extra'") != NULL);
  CHECK_INT(run(NO_WORLD, "quantize a.gguf", out, err), 2);
  CHECK(strstr(err, "missing IN.gguf OUT.gguf TYPE") != NULL);
  CHECK_INT(run(NO_WORLD, "generate -x", out, err), 2);
  CHECK(strstr(err, "unknown option '-x'") != NULL);
  /* -n is the reply length and -p the prompt everywhere */
  CHECK_INT(run(NO_WORLD, "generate -n 0 -p hi", out, err), 2);
  CHECK(strstr(err, "--max-tokens: '0' is not a whole number") != NULL);
  CHECK_INT(run(NO_WORLD, "bench -p 16", out, err), 2);
  CHECK(strstr(err, "unknown option '-p'") != NULL);
  /* the configuration is read after the options: a broken one is reported then */
  CHECK_INT(run(NO_WORLD, "prepare --config /nonexistent/x.conf", out, err), 1);
  CHECK(strstr(err, "/nonexistent/x.conf") != NULL);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static int copy_file(const char *from, const char *to) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
  return system(cmd);
}

TEST(import_a_folder_of_exports_and_options_after_paths) {
  if (!bin) SKIP("MIMIC_BIN not set");
  const char *src = getenv("MIMIC_SRC");
  if (!src) src = ".";
  static char out[OUT_MAX], err[OUT_MAX];
  char env[512], dir[300], from[700], to[700], args[1200];
  snprintf(env, sizeof env, "MIMIC_CONFIG=/dev/null MIMIC_STORE_PATH=%s/a.db", tmp);
  snprintf(dir, sizeof dir, "%s/exports", tmp);
  mkdir(dir, 0700);
  const char *files[] = {"cozy-crater-general.json", "cozy-crater-memes.json"};
  for (int i = 0; i < 2; i++) {
    snprintf(from, sizeof from, "%s/demo/sample-community/%s", src, files[i]);
    snprintf(to, sizeof to, "%s/%s", dir, files[i]);
    if (copy_file(from, to) != 0) SKIP("demo/sample-community not found");
  }
  /* the folder, with an option after it: each export on its own line, then the total */
  snprintf(args, sizeof args, "import %s --quiet", dir);
  CHECK_INT(run(env, args, out, err), 0);
  CHECK(strstr(out, "cozy-crater-general.json: ") != NULL);
  CHECK(strstr(out, "cozy-crater-memes.json: ") != NULL);
  CHECK(strstr(out, "total: ") != NULL);
  CHECK(strstr(err, "--author") == NULL);
  /* a file after --: taken as a name even when it looks like an option */
  snprintf(args, sizeof args, "import --quiet -- %s/%s", dir, files[0]);
  CHECK_INT(run(env, args, out, err), 0);
  CHECK(strstr(out, " 0 new") != NULL); /* imported before: nothing twice */
  /* a folder that is neither layout */
  snprintf(args, sizeof args, "import %s --quiet", tmp);
  snprintf(to, sizeof to, "%s/empty", tmp);
  mkdir(to, 0700);
  snprintf(args, sizeof args, "import %s --quiet", to);
  CHECK_INT(run(env, args, out, err), 1);
  CHECK(strstr(err, "neither a Discord data package") != NULL);

  /* a data package without account/user.json: --author after the path names the owner */
  char pkg[400], p[600];
  snprintf(pkg, sizeof pkg, "%s/package", tmp);
  mkdir(pkg, 0700);
  snprintf(p, sizeof p, "%s/Messages", pkg);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/Messages/c111", pkg);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/Messages/c111/channel.json", pkg);
  write_file(p, "{\"id\": \"111\", \"type\": \"GUILD_TEXT\", \"name\": \"general\", \"guild\": "
                "{\"id\": \"9\", \"name\": \"Some Server\"}}");
  snprintf(p, sizeof p, "%s/Messages/c111/messages.json", pkg);
  write_file(p, "[{\"ID\": 793112643291643904, \"Timestamp\": \"2020-11-30 23:30:03\", "
                "\"Contents\": \"hello\", \"Attachments\": \"\"}]");
  snprintf(args, sizeof args, "import %s --quiet", pkg);
  CHECK_INT(run(env, args, out, err), 1);
  CHECK(strstr(err, "--author") != NULL);
  snprintf(args, sizeof args, "import %s --author 4242 --quiet", pkg);
  CHECK_INT(run(env, args, out, err), 0);
  CHECK(strstr(out, "1 messages read, 1 new") != NULL);

  /* options after the command's value-taking options and --opt=value */
  snprintf(args, sizeof args, "prepare --out=%s/ds --gap-min=20 --kto", tmp);
  CHECK_INT(run(env, args, out, err), 0);
  CHECK(strstr(out, "KTO: ") != NULL);
  snprintf(p, sizeof p, "%s/ds/manifest.json", tmp);
  CHECK(access(p, F_OK) == 0);
}

TEST(privacy_verbs_share_one_shape) {
  if (!bin) SKIP("MIMIC_BIN not set");
  static char out[OUT_MAX], err[OUT_MAX];
  char env[512];
  snprintf(env, sizeof env, "MIMIC_CONFIG=/dev/null MIMIC_STORE_PATH=%s/p.db", tmp);
  CHECK_INT(run(env, "privacy opt-out 77 'asked'", out, err), 0);
  CHECK(strstr(out, "user 77: opt-out") != NULL);
  CHECK_INT(run(env, "privacy list", out, err), 0);
  CHECK(strstr(out, "77") != NULL);
  CHECK_INT(run(env, "privacy purge 77", out, err), 0);
  CHECK(strstr(out, "user 77 purged") != NULL);
  CHECK_INT(run(env, "purge --user 77", out, err), 0); /* the older spelling */
  CHECK(strstr(out, "user 77 purged") != NULL);
  CHECK_INT(run(env, "privacy opt-out abc", out, err), 2);
  CHECK(strstr(err, "'abc' is not a user id") != NULL);
  CHECK_INT(run(env, "privacy forget 77", out, err), 2);
  CHECK(strstr(err, "unknown command 'forget'") != NULL);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  snprintf(tmp, sizeof tmp, "/tmp/mimic-grammar-XXXXXX");
  if (!mkdtemp(tmp)) return 1;
  RUN(every_command_answers_help_and_names_unknown_options);
  RUN(values_are_checked_and_named);
  RUN(import_a_folder_of_exports_and_options_after_paths);
  RUN(privacy_verbs_share_one_shape);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  TEST_MAIN_END();
}
