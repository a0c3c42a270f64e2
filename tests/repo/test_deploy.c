/* Tests for the deployment files: the systemd units pass `systemd-analyze verify` (with the built
 * binary in ExecStart; skipped without systemd-analyze), the system unit keeps its hardening, the
 * Dockerfile's runtime stage installs a Debian package for every shared library the binary links
 * (readelf NEEDED -> ldd path -> dpkg -S), and `docker build` succeeds when a Docker daemon answers
 * and MIMIC_TEST_DOCKER=1 (it downloads packages, so it never runs by default: tests use no
 * network but loopback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

static const char *src, *bin;
static char tmp[64];

/* Runs cmd through sh, capturing stdout+stderr into out; returns the exit status. */
static int sh(const char *cmd, char *out, size_t cap) {
  char full[4096];
  snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t n = out ? fread(out, 1, cap - 1, p) : 0;
  if (out) out[n] = 0;
  char sink[256];
  while (!out && fread(sink, 1, sizeof sink, p) > 0) {}
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", src, rel);
  char *data = NULL;
  size_t n;
  if (fs_read_file(p, 1 << 20, &data, &n)) return NULL;
  return data;
}

TEST(system_unit_is_hardened) {
  char *u = slurp("deploy/mimic.service");
  REQUIRE(u);
  const char *must[] = {"User=mimic\n",
                        "NoNewPrivileges=yes\n",
                        "ProtectSystem=strict\n",
                        "ProtectHome=yes\n",
                        "PrivateTmp=yes\n",
                        "PrivateDevices=yes\n",
                        "CapabilityBoundingSet=\n",
                        "Restart=on-failure\n",
                        "ReadWritePaths=/var/lib/mimic/data /var/lib/mimic/models\n",
                        "ExecStart=/usr/local/bin/mimic run --config /var/lib/mimic/mimic.conf\n",
                        "WantedBy=multi-user.target\n"};
  for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
    if (!strstr(u, must[i])) TEST_FAIL_("deploy/mimic.service lacks %s", must[i]);
  mem_free(u);
  char *d = slurp("deploy/mimic-dashboard.desktop");
  REQUIRE(d);
  CHECK(strstr(d, "Exec=xdg-open http://127.0.0.1:8377/") != NULL);
  mem_free(d);
}

TEST(units_pass_systemd_analyze_verify) {
  if (!bin) SKIP("MIMIC_BIN not set");
  if (sh("command -v systemd-analyze", NULL, 0) != 0) SKIP("systemd-analyze is not installed");
  static char out[16384];
  char cmd[2048];
  /* The units name the installed binary; verify checks that ExecStart exists, so point it at the
   * one just built. */
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/xdg && chmod 700 %s/xdg && "
           "sed 's|/usr/local/bin/mimic|%s|' %s/deploy/mimic.service > %s/mimic.service && "
           "sed 's|%%h/.local/bin/mimic|%s|' %s/deploy/mimic-user.service > %s/mimic-user.service",
           tmp, tmp, bin, src, tmp, bin, src, tmp);
  REQUIRE(sh(cmd, out, sizeof out) == 0);
  snprintf(cmd, sizeof cmd, "cd %s && systemd-analyze verify ./mimic.service", tmp);
  int rc = sh(cmd, out, sizeof out);
  if (rc != 0 || out[0]) TEST_FAIL_("systemd-analyze verify mimic.service (%d): %s", rc, out);
  snprintf(cmd, sizeof cmd,
           "cd %s && XDG_RUNTIME_DIR=%s/xdg systemd-analyze --user verify ./mimic-user.service",
           tmp, tmp);
  rc = sh(cmd, out, sizeof out);
  if (rc != 0 && strstr(out, "Failed to initialize manager")) {
    /* no user manager in this container: check the unit's syntax in system mode */
    snprintf(cmd, sizeof cmd, "cd %s && systemd-analyze verify ./mimic-user.service", tmp);
    rc = sh(cmd, out, sizeof out);
  }
  if (rc != 0 || out[0]) TEST_FAIL_("systemd-analyze verify mimic-user.service (%d): %s", rc, out);
}

/* The package names the Dockerfile's last stage installs with apt-get. */
static void runtime_packages(const char *df, char *out, size_t cap) {
  out[0] = 0;
  const char *stage = df, *p;
  while ((p = strstr(stage + 1, "\nFROM ")) != NULL) stage = p;
  const char *inst = strstr(stage, "apt-get install");
  if (!inst) return;
  const char *end = strstr(inst, "&&");
  if (!end) end = inst + strlen(inst);
  size_t o = 0;
  const char *q = inst + strlen("apt-get install");
  while (q < end) {
    while (q < end && (*q == ' ' || *q == '\\' || *q == '\n')) q++;
    const char *w = q;
    while (q < end && *q != ' ' && *q != '\\' && *q != '\n') q++;
    if (q > w && *w != '-' && o + (size_t)(q - w) + 2 < cap) {
      out[o++] = ' ';
      memcpy(out + o, w, (size_t)(q - w));
      o += (size_t)(q - w);
    }
  }
  out[o++] = ' ';
  out[o] = 0;
}

TEST(dockerfile_runtime_stage_covers_the_linked_libraries) {
  char *df = slurp("Dockerfile");
  REQUIRE(df);
  CHECK(strstr(df, "FROM debian:bookworm-slim AS build") != NULL);
  CHECK(strstr(df, "scripts/install-deps.sh") != NULL);
  CHECK(strstr(df, "\nUSER mimic\n") != NULL);
  CHECK(strstr(df, "VOLUME [\"/var/lib/mimic/data\", \"/var/lib/mimic/models\"]") != NULL);
  CHECK(strstr(df, "HEALTHCHECK") != NULL && strstr(df, "/healthz") != NULL);
  static char pkgs[4096];
  runtime_packages(df, pkgs, sizeof pkgs);
  mem_free(df);
  CHECK(strstr(pkgs, " libcurl4 ") != NULL);
  if (!bin) SKIP("MIMIC_BIN not set");
  if (sh("command -v readelf && command -v dpkg && command -v ldd", NULL, 0) != 0)
    SKIP("readelf, dpkg or ldd missing");
  /* Each NEEDED library of the binary, by the path ldd resolves it to, belongs to a package.
   * The sanitizer runtimes of a test build are not part of a release. */
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "for lib in $(readelf -d %s | sed -n 's/.*Shared library: \\[\\(.*\\)\\]/\\1/p'); do "
           "case $lib in libasan*|libubsan*|libtsan*|liblsan*) continue;; esac; "
           "path=$(ldd %s | awk -v l=\"$lib\" '$1 == l {print $3}'); "
           "pkg=$(dpkg -S \"$path\" 2>/dev/null || dpkg -S \"$(readlink -f \"$path\")\"); "
           "echo \"$lib ${pkg%%%%:*}\"; done",
           bin, bin);
  static char out[8192];
  REQUIRE(sh(cmd, out, sizeof out) == 0);
  int libs = 0;
  for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char lib[128], pkg[128] = "";
    if (sscanf(line, "%127s %127s", lib, pkg) < 1) continue;
    libs++;
    char want[160];
    snprintf(want, sizeof want, " %s ", pkg);
    if (!*pkg || !strstr(pkgs, want))
      TEST_FAIL_("the binary links %s (package %s), which the Dockerfile's runtime stage does not "
                 "install:%s",
                 lib, *pkg ? pkg : "unknown", pkgs);
  }
  CHECK(libs >= 5);
}

TEST(docker_image_builds) {
  if (sh("docker info", NULL, 0) != 0) SKIP("no Docker daemon");
  const char *want = getenv("MIMIC_TEST_DOCKER");
  if (!want || strcmp(want, "1") != 0)
    SKIP("set MIMIC_TEST_DOCKER=1 to build the image (it downloads packages)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "docker build -q -t mimic-test %s", src);
  static char out[65536];
  int rc = sh(cmd, out, sizeof out);
  if (rc != 0) TEST_FAIL_("docker build (%d): %s", rc, out);
  CHECK_INT(sh("docker run --rm mimic-test version", out, sizeof out), 0);
  CHECK(strstr(out, "mimic ") != NULL);
}

int main(void) {
  src = getenv("MIMIC_SRC");
  if (!src) src = ".";
  bin = getenv("MIMIC_BIN");
  if (bin && access(bin, X_OK) != 0) bin = NULL;
  snprintf(tmp, sizeof tmp, "/tmp/mimic_deploy_%d", (int)getpid());
  char cmd[128];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", tmp);
  if (system(cmd) != 0) return 1;
  RUN(system_unit_is_hardened);
  RUN(units_pass_systemd_analyze_verify);
  RUN(dockerfile_runtime_stage_covers_the_linked_libraries);
  RUN(docker_image_builds);
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
