/* The CDN allow-list (discord/cdn.h): which image URLs may be fetched, checked without a network;
 * and a stuck download stopped by its cancel flag, against the CDN double on loopback. The other
 * fetch cases are tested against the double in tests/bot/test_bot_vision.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "discord/cdn.h"
#include "double/node_double.h"
#include "test.h"

static void ok(const char *url, const char *allowed) {
  if (discord_cdn_url_check(url, allowed) != 0) TEST_FAIL_("%s refused: %s", url, err_msg());
}

static void refused(const char *url, const char *allowed, const char *why) {
  int rc = discord_cdn_url_check(url, allowed);
  if (rc != MIMIC_EINVAL)
    TEST_FAIL_("%s: %d, not refused", url, rc);
  else if (!strstr(err_msg(), why))
    TEST_FAIL_("%s: \"%s\" lacks \"%s\"", url, err_msg(), why);
  /* the signed query never appears in the message */
  if (strstr(err_msg(), "ex=")) TEST_FAIL_("%s: the query leaked into \"%s\"", url, err_msg());
}

TEST(discord_hosts_over_https) {
  ok("https://cdn.discordapp.com/attachments/1/2/a.png?ex=65&is=66&hm=ab", NULL);
  ok("https://media.discordapp.net/attachments/1/2/a.png?width=100", "");
  ok("https://CDN.DiscordApp.com/attachments/1/2/a.png", NULL);
  ok("https://cdn.discordapp.com:443/attachments/1/2/a.png", NULL);
  ok("https://images.example.org/x.png", "cdn.example.net, images.example.org");
  ok("http://localhost:8080/a.png", "localhost");
}

TEST(everything_else_is_refused) {
  refused("http://cdn.discordapp.com/a.png?ex=1", NULL, "not https");
  refused("ftp://cdn.discordapp.com/a.png", NULL, "not https");
  refused("https://cdn.discordapp.com:8443/a.png", NULL, "port");
  refused("https://evil.com/a.png?ex=1", NULL, "not Discord's CDN");
  refused("https://cdn.discordapp.com.evil.com/a.png", NULL, "not Discord's CDN");
  refused("https://evilcdn.discordapp.com/a.png", NULL, "not Discord's CDN");
  refused("https://cdn.discordapp.com./a.png", NULL, "not Discord's CDN");
  refused("https://user:pw@cdn.discordapp.com/a.png", NULL, "user name");
  refused("https://127.0.0.1/a.png", "127.0.0.1", "IP address");
  refused("https://2130706433/a.png", "2130706433", "IP address");
  refused("https://0x7f.1/a.png", "0x7f.1", "IP address");
  refused("https://[::1]/a.png", "[::1]", "IP address");
  refused("https://169.254.169.254/latest/meta-data", NULL, "IP address");
  refused("http://localhost/a.png", NULL, "not Discord's CDN");
  refused("http://images.example.org/x.png", "images.example.org", "not https");
  refused("/relative/a.png", NULL, "valid absolute URL");
  refused("", NULL, "empty");
}

TEST(fetch_refuses_before_any_connection) {
  discord_cdn_file f;
  CHECK_INT(discord_cdn_fetch(NULL, "https://evil.com/a.png", &f), MIMIC_EINVAL);
  CHECK(f.data == NULL && f.n == 0);
  discord_cdn_file_free(&f);
}

typedef struct fetch_job {
  discord_cdn_opts o;
  char url[128];
  discord_cdn_file f;
  int rc;
  char why[256];
} fetch_job;

static void *fetch_thread(void *arg) {
  fetch_job *j = arg;
  j->rc = discord_cdn_fetch(&j->o, j->url, &j->f);
  if (j->rc) str_lcpy(j->why, err_msg(), sizeof j->why);
  return NULL;
}

/* Lines in the double's request log (each written before the double answers). */
static int logged(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

TEST(a_stuck_download_stops_when_cancelled) {
  const char *src = getenv("MIMIC_SRC");
  if (!src || system("node --version >/dev/null 2>&1") != 0) SKIP("node is missing");
  char script[512], cfg_path[64] = "/tmp/mimic_cdn_cfg_XXXXXX", log_path[80];
  snprintf(script, sizeof script, "%s/tests/double/cdn_double.js", src);
  int fd = mkstemp(cfg_path);
  REQUIRE(fd >= 0);
  snprintf(log_path, sizeof log_path, "%s.log", cfg_path);
  FILE *cf = fdopen(fd, "w");
  REQUIRE(cf);
  fprintf(cf, "{\"dir\": \"/nonexistent\", \"log\": \"%s\"}", log_path);
  fclose(cf);
  const char *args[] = {cfg_path, NULL};
  pid_t pid;
  int port = nd_spawn(script, args, &pid);
  if (port <= 0) {
    unlink(cfg_path);
    SKIP("the CDN double did not start");
  }
  atomic_bool cancel = false;
  /* A normal download with a cancel flag that stays false is unaffected. */
  fetch_job ok_job = {.o = {.allowed_hosts = "localhost", .cancel = &cancel}};
  snprintf(ok_job.url, sizeof ok_job.url, "http://localhost:%d/big/100", port);
  fetch_thread(&ok_job);
  CHECK_INT(ok_job.rc, 0);
  CHECK_INT((int)ok_job.f.n, 100);
  discord_cdn_file_free(&ok_job.f);
  /* A transfer that never ends, with a 60 s timeout: only the flag ends it sooner (as ECANCELLED).
   */
  fetch_job j = {.o = {.allowed_hosts = "localhost", .timeout_ms = 60000, .cancel = &cancel}};
  snprintf(j.url, sizeof j.url, "http://localhost:%d/stall/a.png", port);
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, fetch_thread, &j) == 0);
  /* Wait (bounded) until the double has the request, so the cancel lands mid-transfer. */
  for (int i = 0; i < 30000 && logged(log_path) < 2; i++) usleep(1000);
  CHECK_INT(logged(log_path), 2);
  atomic_store(&cancel, true);
  pthread_join(th, NULL);
  CHECK_INT(j.rc, MIMIC_ECANCELLED);
  CHECK(strstr(j.why, "cancelled") != NULL);
  CHECK(j.f.data == NULL && j.f.n == 0);
  nd_stop(&pid);
  unlink(cfg_path);
  unlink(log_path);
}

int main(void) {
  RUN(discord_hosts_over_https);
  RUN(everything_else_is_refused);
  RUN(fetch_refuses_before_any_connection);
  RUN(a_stuck_download_stops_when_cancelled);
  TEST_MAIN_END();
}
