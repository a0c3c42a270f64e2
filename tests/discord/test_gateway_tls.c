/* The gateway over wss:// against the double served with TLS: a certificate the client trusts (for
 * 127.0.0.1) reaches READY; a certificate it does not trust, or one issued for another name, never
 * gets as far as Identify (so the token is never sent to an impostor). The certificates are made
 * for the test by the openssl command-line tool; the test skips when it is missing. */
#include <sys/stat.h>

#include "base/base.h"
#include "discord/gateway.h"
#include "gw_double.h"
#include "test.h"

static const char *SCEN =
    "{\"connections\":[[{\"hello\":150},{\"expect\":\"identify\"},{\"ready\":{}},"
    "{\"wait_heartbeats\":2}],[{\"hello\":150},{\"expect\":\"identify\"},"
    "{\"ready\":{}},{\"wait_heartbeats\":2}]]}";

static char dir[64];

/* Makes key.pem + cert.pem for the given subjectAltName in dir/<name>-*.pem; 0 on success. */
static int make_cert(const char *name, const char *san) {
  char cmd[1024];
  snprintf(
      cmd, sizeof cmd,
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=mimic-test -addext subjectAltName=%s -keyout %s/%s-key.pem -out %s/%s-cert.pem "
      ">/dev/null 2>&1",
      san, dir, name, dir, name);
  return system(cmd) == 0 ? 0 : -1;
}

/* Runs the gateway against a TLS double serving name's certificate, trusting ca (NULL: only the
 * system store). Returns whether READY arrived within the time, and the identifies the double saw.
 */
static bool try_ready(const char *name, const char *ca, const char *host, int *identifies) {
  char key[128], cert[128];
  snprintf(key, sizeof key, "%s/%s-key.pem", dir, name);
  snprintf(cert, sizeof cert, "%s/%s-cert.pem", dir, name);
  const char *extra[] = {"--tls", key, cert, NULL};
  rig r;
  memset(&r, 0, sizeof r);
  *identifies = -1;
  if (gwd_start(&r.d, SCEN, extra) != 0) return false;
  gateway_options o;
  char url[128];
  rig_options(&r, &o, url, sizeof url, false);
  snprintf(url, sizeof url, "wss://%s:%d", host, r.d.port);
  o.ca_file = ca;
  bool ready = false;
  if (rig_go(&r, &o) == 0) {
    discord_event *ev = rig_wait(&r, DISCORD_EV_READY, ca ? 8000 : 1500);
    ready = ev != NULL;
    discord_event_free(ev);
  }
  json_t *log = gwd_log(&r.d);
  *identifies = gwd_count_in(log, "recv", 2, -1);
  json_decref(log);
  rig_end(&r);
  return ready;
}

TEST(wss_with_a_trusted_certificate_reaches_ready) {
  int ids;
  char ca[128];
  snprintf(ca, sizeof ca, "%s/good-cert.pem", dir);
  CHECK(try_ready("good", ca, "127.0.0.1", &ids));
  CHECK(ids >= 1);
}

TEST(wss_with_an_untrusted_certificate_never_identifies) {
  int ids;
  CHECK(!try_ready("good", NULL, "127.0.0.1", &ids));
  CHECK_INT(ids, 0);
}

TEST(wss_with_a_certificate_for_another_name_never_identifies) {
  int ids;
  char ca[128];
  snprintf(ca, sizeof ca, "%s/other-cert.pem", dir);
  CHECK(!try_ready("other", ca, "127.0.0.1", &ids));
  CHECK_INT(ids, 0);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mimic-tls-XXXXXX");
  if (!mkdtemp(dir) || system("openssl version >/dev/null 2>&1") != 0 ||
      make_cert("good", "IP:127.0.0.1") != 0 ||
      make_cert("other", "DNS:not-this-host.invalid") != 0) {
    printf("skip: the openssl command-line tool is unavailable\n");
    printf("0 passed, 0 failed, 3 skipped\n");
    return 0;
  }
  RUN(wss_with_a_trusted_certificate_reaches_ready);
  RUN(wss_with_an_untrusted_certificate_never_identifies);
  RUN(wss_with_a_certificate_for_another_name_never_identifies);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
  TEST_MAIN_END();
}
