/* End to end through the command line, the way the offline demo runs: a community in the store,
 * `mimic prepare`'s real dataset files, `mimic purge` of one person, `mimic train --from-scratch`
 * on the default SFT file (which acknowledges the purge), `mimic train --stage dpo` over the result
 * on the default DPO file, and mimic's engine loading both outputs. */
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "store/store.h"
#include "test.h"

static char dir[128];

static uint64_t next_id = 9000;

static uint64_t post(store *s, uint64_t author, int64_t ts, const char *text, uint64_t ref,
                     int reactions) {
  store_msg m = {0};
  m.id = next_id++;
  m.channel_id = 100;
  m.guild_id = 1;
  m.author_id = author;
  m.ts_ms = ts;
  m.content = text;
  m.type = ref ? 19 : 0;
  m.ref_message_id = ref;
  store_reaction r = {.emoji = "😂", .emoji_name = "😂", .count = reactions};
  if (reactions) {
    m.reactions = &r;
    m.n_reactions = 1;
    m.has = STORE_HAS_REACTIONS;
  }
  if (store_msg_upsert(s, &m, NULL)) abort();
  return m.id;
}

static void community(store *s) {
  store_channel ch = {.id = 100, .guild_id = 1, .type = STORE_CH_GUILD_TEXT};
  str_lcpy(ch.name, "general", sizeof ch.name);
  if (store_channel_upsert(s, &ch)) abort();
  const char *names[] = {"ann", "ben", "cat", "dan"};
  for (int u = 0; u < 4; u++) {
    store_user su = {.id = (uint64_t)u + 1};
    str_lcpy(su.name, names[u], sizeof su.name);
    if (store_user_upsert(s, &su)) abort();
  }
  const char *lines[] = {"who's up for a game", "gg ez",    "lol that map", "brb food",
                         "same honestly",       "wait what"};
  int64_t t0 = 1700000000000LL;
  for (int c = 0; c < 10; c++) {
    int64_t t = t0 + (int64_t)c * 3600000;
    char text[96];
    snprintf(text, sizeof text, "%s %d", lines[c % 6], c);
    uint64_t q = post(s, 1, t, text, 0, 0);
    post(s, 2, t + 60000, lines[(c + 1) % 6], 0, 0);
    post(s, 3, t + 120000, lines[(c + 2) % 6], q, 2);
    post(s, 1, t + 180000, lines[(c + 3) % 6], q, 0);
    post(s, 2, t + 240000, lines[(c + 4) % 6], 0, 1);
    if (c == 0)
      post(s, 4, t + 300000, "dan was here once", 0, 0); /* the person who asks to be purged */
  }
}

/* Runs cmd; on failure prints the file its output went to (after " > "). */
static int sh(const char *cmd) {
  int st = system(cmd);
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  const char *gt = strstr(cmd, " > ");
  if (rc != 0 && gt) {
    char path[512];
    if (sscanf(gt + 3, "%511s", path) == 1) {
      FILE *f = fopen(path, "r");
      char line[512];
      while (f && fgets(line, sizeof line, f)) printf("     | %s", line);
      if (f) fclose(f);
    }
  }
  return rc;
}

static int pending_fn(const store_purge *p, void *user) {
  (void)p;
  (*(int *)user)++;
  return 0;
}

static int pending(void) {
  char db[256];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  store *s = NULL;
  if (store_open(db, &s)) return -1;
  int n = 0;
  if (store_purge_each(s, true, pending_fn, &n) != 0) n = -1;
  store_close(s);
  return n;
}

TEST(prepare_purge_train_dpo) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set (run through ctest)");
  char db[256], exports[256];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  snprintf(exports, sizeof exports, "%s/exports", dir);
  store *s = NULL;
  CHECK_OK(store_open(db, &s));
  REQUIRE(s);
  community(s);
  collect_prepare_opts po;
  collect_prepare_defaults(&po);
  po.out_dir = exports;
  po.valid_frac = 0.2;
  collect_prepare_stats st;
  CHECK_OK(collect_prepare(s, &po, &st));
  store_close(s);
  CHECK(st.sft_train > 5);
  CHECK(st.dpo_train > 0);

  char env[600], cmd[2048];
  snprintf(env, sizeof env, "cd %s && MIMIC_STORE_PATH=%s MIMIC_DATA_DIR=%s", dir, db, dir);
  snprintf(cmd, sizeof cmd, "%s %s purge --user 4 > %s/purge.out 2>&1", env, bin, dir);
  CHECK_INT(sh(cmd), 0);
  CHECK_INT(pending(), 1);
  snprintf(cmd, sizeof cmd,
           "%s %s train --from-scratch --layers 1 --width 32 --heads 2 --steps 6 --seq-len 128 "
           "--eval-every 3 "
           "--threads 2 --no-progress > %s/train.out 2>&1",
           env, bin, dir);
  CHECK_INT(sh(cmd), 0);
  CHECK_INT(pending(), 0); /* the run read the rewritten files: the purge is acknowledged */
  snprintf(
      cmd, sizeof cmd,
      "%s %s train --stage dpo --base models/scratch.gguf --out models/dpo.gguf --rank 2 --steps 3 "
      "--seq-len 256 --threads 2 --no-progress > %s/dpo.out 2>&1",
      env, bin, dir);
  CHECK_INT(sh(cmd), 0);
  char m1[256], m2[256];
  snprintf(m1, sizeof m1, "%s/models/scratch.gguf", dir);
  snprintf(m2, sizeof m2, "%s/models/dpo.gguf", dir);
  llm_model *m = NULL;
  llm_lora *l = NULL;
  CHECK_OK(llm_model_load(m1, &m));
  REQUIRE(m);
  CHECK_OK(llm_lora_load(m, m2, &l));
  CHECK(l && llm_lora_n_adapted(l) == 7);
  llm_lora_destroy(l);
  llm_model_destroy(m);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mimic-test-e2e-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  log_set_level(LOG_WARN);
  RUN(prepare_purge_train_dpo);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (!getenv("MIMIC_KEEP") && system(cmd) != 0) printf("could not remove %s\n", dir);
  TEST_MAIN_END();
}
