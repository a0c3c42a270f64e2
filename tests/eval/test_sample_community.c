/* The shipped sample community (demo/sample-community/ (one JSON per channel)): it imports cleanly,
 * `prepare` yields training and validation sets, the filters have bots, a webhook and system
 * messages to drop, and the regulars' voices are as distinct as the demo promises (measured with
 * the style metrics). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "eval/eval.h"
#include "store/store.h"
#include "test.h"

static char tmpdir[64];

/* Assistant replies of a TRL messages JSONL grouped by speaker name. */
typedef struct voice {
  char name[64];
  char **msgs;
  size_t n;
} voice;

static voice voices[32];
static size_t n_voices;

static void add_reply(const char *content) {
  char name[64];
  if (!eval_speaker(content, name, sizeof name)) return;
  voice *v = NULL;
  for (size_t i = 0; i < n_voices; i++)
    if (strcmp(voices[i].name, name) == 0) v = &voices[i];
  if (!v) {
    if (n_voices == 32) return;
    v = &voices[n_voices++];
    str_lcpy(v->name, name, sizeof v->name);
  }
  v->msgs = xrealloc(v->msgs, (v->n + 1) * sizeof *v->msgs);
  v->msgs[v->n++] = xstrdup(eval_strip_speaker(content));
}

static size_t read_sft(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char *line = xalloc(1 << 20);
  size_t n = 0;
  while (fgets(line, 1 << 20, f)) {
    json_t *j = jv_parse(line, strlen(line), path);
    if (!j) continue;
    json_t *msgs = json_object_get(j, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    if (last && strcmp(jv_str(last, "role", ""), "assistant") == 0) {
      add_reply(jv_str(last, "content", ""));
      n++;
    }
    json_decref(j);
  }
  mem_free(line);
  fclose(f);
  return n;
}

static const voice *find_voice(const char *name) {
  for (size_t i = 0; i < n_voices; i++)
    if (strcmp(voices[i].name, name) == 0) return &voices[i];
  return NULL;
}

TEST(imports_and_prepares) {
  const char *src = getenv("MIMIC_SRC");
  char dir[4096], path[4400], db[128], out[128];
  snprintf(dir, sizeof dir, "%s/demo/sample-community", src ? src : ".");
  DIR *d = opendir(dir);
  if (!d) SKIP("demo/sample-community not found (set MIMIC_SRC)");
  snprintf(db, sizeof db, "%s/mimic.db", tmpdir);
  store *s = NULL;
  REQUIRE(store_open(db, &s) == 0);
  int files = 0;
  int64_t total = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!str_ends_with(e->d_name, ".json")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    collect_import_stats st;
    CHECK_OK(collect_import_dce(s, path, NULL, &st));
    CHECK_INT(st.skipped_invalid, 0);
    total += st.inserted;
    files++;
  }
  closedir(d);
  CHECK(files >= 3); /* several channels */
  CHECK(total >= 2500 && total <= 4000);

  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  snprintf(out, sizeof out, "%s/exports", tmpdir);
  o.out_dir = out;
  o.system_prompt = "You are a regular on this Discord server.";
  collect_prepare_stats ps;
  CHECK_OK(collect_prepare(s, &o, &ps));
  CHECK(ps.drop_bot > 0);    /* the bots and the webhook */
  CHECK(ps.drop_system > 0); /* joins and pins */
  CHECK(ps.sft_train > 1000);
  CHECK(ps.sft_valid > 20);
  CHECK(ps.dpo_train > 0); /* reactions give preference pairs */
  store_close(s);

  snprintf(path, sizeof path, "%s/sft-messages.train.jsonl", out);
  CHECK_INT(read_sft(path), ps.sft_train);
  snprintf(path, sizeof path, "%s/sft-messages.valid.jsonl", out);
  CHECK_INT(read_sft(path), ps.sft_valid);
  CHECK(n_voices >= 5);
  CHECK(find_voice("RaidBot") == NULL && find_voice("LevelUp") == NULL &&
        find_voice("Patch Notes") == NULL);
}

/* Each regular sounds like themselves: checks on the style profile of their training replies. */
TEST(voices_are_distinct) {
  if (!n_voices) SKIP("no data (previous test skipped)");
  struct {
    const char *name;
    eval_style st;
  } v[] = {{"owl", {0}}, {"DEX", {0}},   {"mochi", {0}}, {"Professor Quill", {0}},
           {"k", {0}},   {"Benny", {0}}, {"jay", {0}}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const voice *x = find_voice(v[i].name);
    if (!x) {
      printf("  no replies by %s\n", v[i].name);
      CHECK(0);
      continue;
    }
    CHECK(x->n >= 50);
    CHECK_OK(eval_style_compute((const char *const *)x->msgs, x->n, &v[i].st));
  }
  CHECK(v[0].st.rate_lower_start > 0.9 &&
        v[0].st.rate_end_punct < 0.1);                          /* owl: lowercase, no punctuation */
  CHECK(v[1].st.rate_caps > 0.8);                               /* DEX: ALL CAPS */
  CHECK(v[2].st.rate_emoji > 0.6);                              /* mochi: emoji */
  CHECK(v[3].st.rate_end_punct > 0.8 && v[3].st.len_mean > 40); /* Quill: long, punctuated */
  CHECK(v[4].st.len_mean < 8);                                  /* k: terse */
  CHECK(v[6].st.rate_caps < 0.05);                              /* jay: lowercase slang */
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (i != 3) CHECK(v[3].st.len_mean > v[i].st.len_mean); /* Quill is the long-winded one */
  /* Benny's typos: his vocabulary overlaps owl's less than his own halves overlap each other. */
  const voice *b = find_voice("Benny");
  double self = 0;
  if (b && b->n >= 4)
    CHECK_OK(eval_vocab_jaccard((const char *const *)b->msgs, b->n / 2,
                                (const char *const *)b->msgs + b->n / 2, b->n - b->n / 2, &self));
  CHECK(self > 0.2);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_sample_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  log_set_level(LOG_WARN);
  RUN(imports_and_prepares);
  RUN(voices_are_distinct);
  for (size_t i = 0; i < n_voices; i++) {
    for (size_t k = 0; k < voices[i].n; k++) mem_free(voices[i].msgs[k]);
    mem_free(voices[i].msgs);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
