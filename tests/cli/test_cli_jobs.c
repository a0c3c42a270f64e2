/* Tests that long commands keep their row in the jobs table (cli/job.h), the one truth the
 * dashboard's bars, !status and the terminal read: `mimic prepare` and `mimic eval` started by hand
 * add a row and finish it (done, or failed with the error); started by the dashboard they update
 * the row named by $MIMIC_JOB_ID instead of adding one. The real binary, MIMIC_BIN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "store/jobs.h"
#include "store/store.h"
#include "test.h"

static const char *bin;
static char dir[256];

static int run(const char *args) {
  char full[4096];
  snprintf(full, sizeof full,
           "cd %s && unset MIMIC_CONFIG MIMIC_STORE_PATH MIMIC_JOB_ID && export "
           "MIMIC_DATA_DIR=%s/data && (%s) >/dev/null 2>&1",
           dir, dir, args);
  int st = system(full);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct rows {
  store_job v[16];
  int n;
} rows;

static int take(const store_job *j, void *u) {
  rows *r = u;
  if (r->n < 16) r->v[r->n++] = *j;
  return 0;
}

static rows jobs(void) {
  rows r = {0};
  char path[512];
  snprintf(path, sizeof path, "%s/data/mimic.db", dir);
  store *s = NULL;
  if (store_open(path, &s) == 0) {
    if (store_job_each(s, 16, take, &r)) err_clear();
    store_close(s);
  } else {
    err_clear();
  }
  return r;
}

static const store_job *of_kind(const rows *r, const char *kind) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->v[i].kind, kind) == 0) return &r->v[i];
  return NULL;
}

TEST(prepare_and_eval_keep_a_row) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s prepare", bin);
  CHECK_INT(run(cmd), 0); /* an empty store: empty datasets */
  rows r = jobs();
  const store_job *p = of_kind(&r, "prepare");
  REQUIRE(p != NULL);
  CHECK_STR(store_job_state_name(p->state), "done");
  CHECK(p->finished_ms > 0);
  /* eval without a model fails: its row says so */
  snprintf(cmd, sizeof cmd, "%s eval --model %s/none.gguf", bin, dir);
  CHECK(run(cmd) != 0);
  r = jobs();
  const store_job *e = of_kind(&r, "eval");
  REQUIRE(e != NULL);
  CHECK_STR(store_job_state_name(e->state), "failed");
  CHECK(e->message[0] != 0);
  CHECK(e->finished_ms > 0);
}

TEST(a_started_job_updates_its_own_row) {
  char path[512];
  snprintf(path, sizeof path, "%s/data/mimic.db", dir);
  store *s = NULL;
  REQUIRE(store_open(path, &s) == 0);
  int64_t id = 0;
  CHECK_OK(store_job_add(s, "prepare", STORE_JOB_QUEUED, 0, &id));
  store_close(s);
  int before = jobs().n;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "MIMIC_JOB_ID=%lld %s prepare", (long long)id, bin);
  CHECK_INT(run(cmd), 0);
  rows r = jobs();
  CHECK_INT(r.n, before); /* no row added */
  REQUIRE(store_open(path, &s) == 0);
  store_job j;
  CHECK_OK(store_job_get(s, id, &j));
  CHECK_STR(store_job_state_name(j.state), "done");
  store_close(s);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (!bin) {
    printf("skip: MIMIC_BIN not set\n");
    return 0;
  }
  snprintf(dir, sizeof dir, "/tmp/mimic_test_jobs_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  RUN(prepare_and_eval_keep_a_row);
  RUN(a_started_job_updates_its_own_row);
  char rm[512];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0) printf("could not remove %s\n", dir);
  TEST_MAIN_END();
}
