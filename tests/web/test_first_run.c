/* Sessions and the first run. The dashboard's first run: with no bot token anywhere, a logged-in
 * owner lands on /setup, the page's API says no token is set and lists the GGUF files under
 * models/, and a token that cannot be checked (Discord unreachable here) ends the setup job as
 * failed with setup's own words in the log, never the token. */
#include <sys/stat.h>

#include "test.h"
#include "web_rig.h"

TEST(first_run_without_a_token) {
  rig_without_token = true;
  web_rig r;
  int st = web_rig_start(&r, false, NULL);
  if (st == 1) SKIP("the mimic binary is unavailable");
  REQUIRE(st == 0);
  char path[256];
  snprintf(path, sizeof path, "%s/models", r.dir);
  REQUIRE(mkdir(path, 0700) == 0);
  snprintf(path, sizeof path, "%s/models/tiny-q4_k_m.gguf", r.dir);
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs("GGUF", f);
  fclose(f);
  CHECK_INT(rig_login(&r, RIG_PASSWORD), 200);
  web_resp x;
  REQUIRE(rig_http(&r, "GET", "/", NULL, true, false, NULL, &x) == 0);
  CHECK_INT(x.status, 303);
  CHECK(strstr(x.head.data, "Location: /setup") != NULL);
  web_resp_free(&x);
  CHECK(rig_wait_for(&r, "/api/setup", "\"token_set\":false", 1000));
  CHECK(rig_wait_for(&r, "/api/setup", "models/tiny-q4_k_m.gguf", 1000));
  CHECK(rig_wait_for(&r, "/api/settings", "\"set\":false", 1000));
  /* No confirmation is needed while there is no token; Discord cannot be reached: setup fails. */
  REQUIRE(rig_http(&r, "POST", "/api/setup", "{\"token\":\"" RIG_TOKEN "\"}", true, true, NULL,
                   &x) == 0);
  CHECK_INT(x.status, 200);
  web_resp_free(&x);
  CHECK(rig_wait_for(&r, "/api/jobs", "\"kind\":\"setup\",\"state\":\"failed\"", 60000));
  CHECK(rig_wait_for(&r, "/api/logs/download", "Checking the token with Discord", 1000));
  REQUIRE(buf_putc(&r.seen, 0) == 0);
  CHECK(strstr(r.seen.data, RIG_TOKEN) == NULL);
  r.seen.len--;
  CHECK_INT(web_rig_stop(&r), 0);
}

/* A new password set while the dashboard runs (`mimic dashboard passwd`) ends every session. */
TEST(new_password_ends_sessions) {
  rig_without_token = false;
  web_rig r;
  int st = web_rig_start(&r, false, NULL);
  if (st == 1) SKIP("the mimic binary is unavailable");
  REQUIRE(st == 0);
  CHECK_INT(rig_login(&r, RIG_PASSWORD), 200);
  CHECK_INT(rig_status(&r, "GET", "/api/status", NULL, true, false), 200);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "echo 'another long passphrase' | %s dashboard passwd --config %s >/dev/null",
           getenv("MIMIC_BIN"), r.conf);
  CHECK_INT(rig_sh(cmd), 0);
  bool ended = false;
  uint64_t deadline = clock_mono_ms() + 20000;
  while (!ended && clock_mono_ms() < deadline) {
    ended = rig_status(&r, "GET", "/api/status", NULL, true, false) == 401;
    if (!ended) clock_sleep_ms(100);
  }
  CHECK(ended);
  CHECK_INT(rig_login(&r, RIG_PASSWORD), 401);
  CHECK_INT(rig_login(&r, "another long passphrase"), 200);
  CHECK_INT(rig_status(&r, "GET", "/api/status", NULL, true, false), 200);
  CHECK_INT(web_rig_stop(&r), 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(first_run_without_a_token);
  RUN(new_password_ends_sessions);
  curl_global_cleanup();
  TEST_MAIN_END();
}
