/* Tests for `mimic setup` as a new owner runs it: the real binary (MIMIC_BIN) against the REST
 * double, answers on standard input (no terminal). Checks the token check, the MESSAGE CONTENT
 * verdict and where to switch it on, the invite URL and its permission integer, the models found
 * and the size recommended for a given memory, the config written (mode 0600, loadable, the
 * token inside and never on the screen), a refused token, and that an existing config is never
 * replaced silently (kept on "no", backed up with --yes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "discord/rest_double.h"
#include "llm/gguf.h"
#include "test.h"

#define TOKEN "good-token-1234567890abcdefgh"

static const char *bin;
static char dir[64];

/* The invite's permissions: View Channels, Send Messages, Send Messages in Threads, Read Message
 * History, Add Reactions, Manage Webhooks, Attach Files, Embed Links (computed by hand). */
#define PERMS "275414895680"

/* Runs `printf ANSWERS | mimic setup ARGS` in dir against the double, capturing stdout+stderr. */
static int run(const rest_double *d, const char *answers, const char *args, char *out, size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && printf '%s' | env -u DISCORD_TOKEN -u MIMIC_CONFIG MIMIC_DISCORD_API=%s %s "
           "setup %s 2>&1",
           dir, answers, d->base, bin, args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_gguf(const char *path, const char *type, const char *name) {
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "qwen2");
  gguf_set_str(w, "general.type", type);
  gguf_set_str(w, "general.name", name);
  CHECK_OK(gguf_writer_save(w, path));
  gguf_writer_destroy(w);
}

static void clean(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_INT(system(cmd), 0);
}

static char *slurp(const char *path) {
  char *data = NULL;
  size_t n;
  if (fs_read_file(path, 1 << 20, &data, &n)) return NULL;
  return data;
}

TEST(setup_writes_a_config_that_works) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  if (rd_start(&d, "{\"token\": \"" TOKEN "\", \"app_flags\": 524288}") != 0)
    SKIP("node or the double is missing");
  clean();
  char p[128];
  snprintf(p, sizeof p, "%s/models", dir);
  CHECK_OK(fs_mkdirs(p));
  snprintf(p, sizeof p, "%s/models/a-base.gguf", dir);
  write_gguf(p, "model", "Tiny Base");
  snprintf(p, sizeof p, "%s/models/b-adapter.gguf", dir);
  write_gguf(p, "adapter", "Tiny Adapter");
  static char out[65536];
  CHECK_INT(run(&d, TOKEN "\\n1\\n", "--ram 4", out, sizeof out), 0);
  CHECK(strstr(out, "OK: the bot is mimic") != NULL);
  CHECK(strstr(out, "MESSAGE CONTENT: on") != NULL);
  CHECK(strstr(out, "https://discord.com/oauth2/authorize?client_id=900000000000000001&scope=bot+"
                    "applications.commands&permissions=" PERMS) != NULL);
  CHECK(strstr(out, "Manage Webhooks") != NULL);
  CHECK(strstr(out, "1) models/a-base.gguf") != NULL);
  CHECK(strstr(out, "a LoRA adapter") != NULL);
  /* 4 GiB: 1.5B (1.5 GiB to serve) fits 60%, 3B (2.6) does not */
  CHECK(strstr(out, "1.5B   1.0 GiB file   1.5 GiB to serve  e.g. "
                    "qwen2.5-1.5b-instruct-q4_k_m.gguf   <- recommended") != NULL);
  CHECK(strstr(out, TOKEN) == NULL);
  if (test_failed_checks) printf("%s\n", out);

  snprintf(p, sizeof p, "%s/mimic.conf", dir);
  struct stat st;
  REQUIRE(stat(p, &st) == 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  char *text = slurp(p);
  REQUIRE(text);
  CHECK(strstr(text, "token = " TOKEN "\n") != NULL);
  CHECK(strstr(text, "model = models/a-base.gguf\n") != NULL);
  CHECK(strstr(text, "admins = 100000000000000000") != NULL);
  mem_free(text);
  /* mimic loads what setup wrote: the token from the file, the model relative to it */
  cfg *c = cfg_new();
  CHECK_OK(cfg_load_file(c, p));
  char *tok = cfg_token(c);
  CHECK(tok && strcmp(tok, TOKEN) == 0);
  mem_free(tok);
  CHECK(str_ends_with(cfg_str(c, CFG_ENGINE_MODEL), "/models/a-base.gguf"));
  cfg_destroy(c);

  /* an existing config is not replaced on "no" (or at the end of the answers) */
  CHECK_INT(run(&d, TOKEN "\\n1\\nn\\n", "", out, sizeof out), 1);
  CHECK(strstr(out, "Kept mimic.conf unchanged") != NULL);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "ls %s | grep -c bak- >/dev/null", dir);
  CHECK(system(cmd) != 0); /* no backup made */
  /* with --yes: the recommended model, and the old file kept as a 0600 backup */
  CHECK_INT(run(&d, TOKEN "\\n", "--yes", out, sizeof out), 0);
  CHECK(strstr(out, "Backed up the old file as mimic.conf.bak-") != NULL);
  snprintf(cmd, sizeof cmd, "test \"$(stat -c %%a %s/mimic.conf.bak-*)\" = 600", dir);
  CHECK_INT(system(cmd), 0);
  CHECK(strstr(out, TOKEN) == NULL);
  clean();
  rd_stop(&d);
}

TEST(setup_says_where_to_switch_message_content_on) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  /* GATEWAY_GUILD_MEMBERS_LIMITED only: MESSAGE CONTENT is off */
  if (rd_start(&d, "{\"token\": \"" TOKEN "\", \"app_flags\": 32768, \"bot_public\": false}") != 0)
    SKIP("node or the double is missing");
  clean();
  CHECK_OK(fs_mkdirs(dir));
  static char out[65536];
  CHECK_INT(run(&d, TOKEN "\\n", "--ram 1", out, sizeof out), 0);
  CHECK(strstr(out, "MESSAGE CONTENT: OFF") != NULL);
  CHECK(strstr(out, "https://discord.com/developers/applications/900000000000000001/bot") != NULL);
  CHECK(strstr(out, "Privileged Gateway Intents -> MESSAGE CONTENT INTENT") != NULL);
  CHECK(strstr(out, "Switch MESSAGE CONTENT on first") != NULL);
  CHECK(strstr(out, "only you can use this link") != NULL);
  /* 1 GiB and no model: the smallest size, and where to put a download */
  CHECK(strstr(out, "0.5B   0.4 GiB file   0.7 GiB to serve  e.g. "
                    "qwen2.5-0.5b-instruct-q4_k_m.gguf   <- recommended") != NULL);
  CHECK(strstr(out, "No GGUF model found") != NULL);
  CHECK(strstr(out, TOKEN) == NULL);
  if (test_failed_checks) printf("%s\n", out);
  clean();
  rd_stop(&d);
}

TEST(setup_refuses_a_bad_token_without_printing_it) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  if (rd_start(&d, "{\"token\": \"" TOKEN "\"}") != 0) SKIP("node or the double is missing");
  clean();
  CHECK_OK(fs_mkdirs(dir));
  static char out[65536];
  CHECK_INT(run(&d, "wrong-token-0987654321zyxwvu\\n", "", out, sizeof out), 1);
  CHECK(strstr(out, "Discord refused this token") != NULL);
  CHECK(strstr(out, "wrong-token-0987654321zyxwvu") == NULL);
  char p[128];
  snprintf(p, sizeof p, "%s/mimic.conf", dir);
  CHECK(access(p, F_OK) != 0);
  /* not a token at all, and no answer */
  CHECK_INT(run(&d, "hello world\\n", "", out, sizeof out), 1);
  CHECK(strstr(out, "does not look like a bot token") != NULL);
  CHECK_INT(run(&d, "", "", out, sizeof out), 1);
  CHECK(strstr(out, "no token given") != NULL);
  /* a model that is not there */
  /* a config written elsewhere names a model outside its folder by its absolute path */
  char sub[128], gg[160];
  snprintf(sub, sizeof sub, "%s/elsewhere", dir);
  snprintf(gg, sizeof gg, "%s/m.gguf", dir);
  write_gguf(gg, "model", "Tiny");
  char args[512];
  snprintf(args, sizeof args, "--config elsewhere/mimic.conf --model m.gguf --yes");
  CHECK_INT(run(&d, TOKEN "\\n", args, out, sizeof out), 0);
  snprintf(p, sizeof p, "%s/mimic.conf", sub);
  char *text = slurp(p);
  REQUIRE(text);
  char want[256];
  snprintf(want, sizeof want, "model = %s\n", gg);
  CHECK(strstr(text, want) != NULL);
  mem_free(text);
  snprintf(p, sizeof p, "%s/mimic.conf", dir);
  CHECK_INT(run(&d, TOKEN "\\n", "--model nope.gguf", out, sizeof out), 1);
  CHECK(strstr(out, "--model nope.gguf: not a readable GGUF model (no such file)") != NULL);
  CHECK(access(p, F_OK) != 0);
  clean();
  rd_stop(&d);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (bin && access(bin, X_OK) != 0) bin = NULL;
  snprintf(dir, sizeof dir, "/tmp/mimic_setup_%d", (int)getpid());
  RUN(setup_writes_a_config_that_works);
  RUN(setup_says_where_to_switch_message_content_on);
  RUN(setup_refuses_a_bad_token_without_printing_it);
  TEST_MAIN_END();
}
