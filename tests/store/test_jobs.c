/* Long jobs' progress rows: add, progress, finish (the first ending wins), listing newest first. */
#include <math.h>

#include "base/base.h"
#include "store/jobs.h"
#include "test.h"

static int collect(const store_job *j, void *user) {
  int64_t *ids = user;
  for (int i = 0; i < 4; i++)
    if (!ids[i]) {
      ids[i] = j->id;
      break;
    }
  return 0;
}

TEST(test_job_lifecycle) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  int64_t a = 0, b = 0;
  CHECK_OK(store_job_add(s, "train", STORE_JOB_QUEUED, 0, &a));
  CHECK_OK(store_job_add(s, "fetch", STORE_JOB_RUNNING, 42, &b));
  CHECK(a > 0 && b > a);
  store_job j;
  CHECK_OK(store_job_get(s, a, &j));
  CHECK_STR(j.kind, "train");
  CHECK_INT(j.state, STORE_JOB_QUEUED);
  CHECK(isnan(j.loss));
  CHECK_OK(store_job_progress(s, a, 77, 5, 10, 2.5, "step 5/10", "/tmp/x.csv"));
  CHECK_OK(store_job_progress(s, a, 0, 6, 10, NAN, NULL, NULL));
  CHECK_OK(store_job_get(s, a, &j));
  CHECK_INT(j.state, STORE_JOB_RUNNING);
  CHECK_INT(j.pid, 77);
  CHECK_INT(j.done, 6);
  CHECK_INT(j.total, 10);
  CHECK_NEAR(j.loss, 2.5, 1e-9);
  CHECK_STR(j.message, "step 5/10");
  CHECK_STR(j.log_path, "/tmp/x.csv");
  CHECK_OK(store_job_finish(s, a, STORE_JOB_DONE, "trained"));
  CHECK_OK(store_job_finish(s, a, STORE_JOB_FAILED, "exit 1")); /* ignored: already ended */
  CHECK_OK(store_job_progress(s, a, 0, 7, 10, NAN, NULL, NULL));
  CHECK_OK(store_job_get(s, a, &j));
  CHECK_INT(j.state, STORE_JOB_DONE);
  CHECK_STR(j.message, "trained");
  CHECK(j.finished_ms > 0);
  CHECK(store_job_progress(s, 999, 0, 1, 1, NAN, NULL, NULL) == MIMIC_ENOTFOUND);
  CHECK(store_job_get(s, 999, &j) == MIMIC_ENOTFOUND);
  err_clear();
  int64_t ids[4] = {0};
  CHECK_OK(store_job_each(s, 10, collect, ids));
  CHECK(ids[0] == b && ids[1] == a && ids[2] == 0);
  CHECK_STR(store_job_state_name(STORE_JOB_CANCELLED), "cancelled");
  store_close(s);
}

int main(void) {
  RUN(test_job_lifecycle);
  TEST_MAIN_END();
}
