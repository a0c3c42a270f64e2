/* The dashboard beyond loopback: refused without --allow-remote, refused without TLS, and with both
 * it serves HTTPS (libmicrohttpd's GnuTLS) on all addresses: the session cookie is Secure, HSTS is
 * sent, and /metrics from a non-loopback address of this machine needs the bearer token. Uses
 * openssl(1) for a throwaway certificate. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include "test.h"
#include "web_rig.h"

/* A non-loopback IPv4 address of this machine, or false. */
static bool outside_address(char *out, size_t cap) {
  struct ifaddrs *ifa = NULL, *i;
  bool found = false;
  if (getifaddrs(&ifa) != 0) return false;
  for (i = ifa; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
        !(i->ifa_flags & IFF_UP))
      continue;
    found = inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out,
                      (socklen_t)cap) != NULL;
  }
  freeifaddrs(ifa);
  return found;
}

TEST(refuses_remote_without_flag_or_tls) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set (run through ctest)");
  web_rig r;
  /* The rig makes the config and password; the dashboards below must refuse before listening. */
  static const char *const no_flag[] = {"--listen", "0.0.0.0:0", NULL};
  char said[8192];
  int st = web_rig_start_with(&r, false, NULL, no_flag, said, sizeof said);
  if (st == 1) SKIP("the mimic binary is unavailable");
  CHECK(st == -1);
  CHECK(strstr(said, "--allow-remote") != NULL);
  web_rig_stop(&r);
  static const char *const no_tls[] = {"--listen", "0.0.0.0:0", "--allow-remote", NULL};
  st = web_rig_start_with(&r, false, NULL, no_tls, said, sizeof said);
  CHECK(st == -1);
  CHECK(strstr(said, "needs TLS") != NULL);
  web_rig_stop(&r);
}

TEST(https_beyond_loopback) {
  if (rig_sh("openssl version >/dev/null 2>&1") != 0) SKIP("openssl is not installed");
  char ip[64];
  if (!outside_address(ip, sizeof ip)) SKIP("this machine has no non-loopback IPv4 address");
  char dir[] = "/tmp/mimic-tls-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char cmd[1024], cert[128], key[128];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 -subj /CN=mimic "
           ">/dev/null 2>&1",
           key, cert);
  REQUIRE(rig_sh(cmd) == 0);
  web_rig r;
  const char *const args[] = {
      "--listen", "0.0.0.0:0", "--allow-remote", "--tls-cert", cert, "--tls-key", key, NULL};
  int st = web_rig_start_with(&r, false, NULL, args, NULL, 0);
  if (st == 1) SKIP("the mimic binary is unavailable");
  REQUIRE(st == 0);
  CHECK(strncmp(r.base, "https://", 8) == 0);
  snprintf(r.base, sizeof r.base, "https://%s:%d", ip, r.port);
  r.insecure = true;
  CHECK_INT(rig_status(&r, "GET", "/healthz", NULL, false, false), 200);
  CHECK_INT(rig_status(&r, "GET", "/metrics", NULL, false, false), 401);
  static const char *const bad[] = {"Authorization: Bearer nope", NULL};
  static const char *const good[] = {"Authorization: Bearer " RIG_MTOKEN, NULL};
  web_resp x;
  REQUIRE(rig_http(&r, "GET", "/metrics", NULL, false, false, bad, &x) == 0);
  CHECK_INT(x.status, 401);
  web_resp_free(&x);
  REQUIRE(rig_http(&r, "GET", "/metrics", NULL, false, false, good, &x) == 0);
  CHECK_INT(x.status, 200);
  CHECK(strstr(x.body.data, "mimic_dashboard_bot_running") != NULL);
  web_resp_free(&x);
  CHECK_INT(rig_status(&r, "GET", "/status", NULL, false, false), 303);
  REQUIRE(rig_http(&r, "POST", "/api/login", "{\"password\":\"" RIG_PASSWORD "\"}", false, false,
                   NULL, &x) == 0);
  CHECK_INT(x.status, 200);
  CHECK(strstr(x.head.data, "; Secure") != NULL);
  CHECK(strstr(x.head.data, "Strict-Transport-Security") != NULL);
  web_resp_free(&x);
  /* Plain HTTP on the TLS port gets no page. */
  snprintf(r.base, sizeof r.base, "http://%s:%d", ip, r.port);
  CHECK(rig_status(&r, "GET", "/healthz", NULL, false, false) != 200);
  CHECK_INT(web_rig_stop(&r), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  rig_sh(cmd);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(refuses_remote_without_flag_or_tls);
  RUN(https_beyond_loopback);
  curl_global_cleanup();
  TEST_MAIN_END();
}
