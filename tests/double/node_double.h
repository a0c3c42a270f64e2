/* Test helper shared by the doubles' rigs (rest_double.h, gw_double.h, the CDN double): runs
 * `node SCRIPT ARGS...` with its stdout on a pipe and reads the first line, on which every double
 * prints {"port": N, ...} once it listens. Header-only (static functions) so each test executable
 * stays one file. */
#ifndef MIMIC_TEST_NODE_DOUBLE_H
#define MIMIC_TEST_NODE_DOUBLE_H
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"

extern char **environ;

/* Starts node on script with up to ten args (NULL-terminated, may be NULL) and waits up to 15 s
 * for the port line. Returns the port and sets *pid, or -1 with nothing left running when node
 * cannot start or no port line comes (the caller SKIPs or fails). */
static inline int nd_spawn(const char *script, const char *const *args, pid_t *pid) {
  *pid = 0;
  if (!getenv("NODE_PATH")) setenv("NODE_PATH", "/usr/share/nodejs:/usr/lib/nodejs", 1);
  int pfd[2];
  if (pipe(pfd) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  char *argv[13] = {"node", (char *)script};
  int k = 2;
  for (int i = 0; args && args[i] && k < 12; i++) argv[k++] = (char *)args[i];
  argv[k] = NULL;
  int rc = posix_spawnp(pid, "node", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    *pid = 0;
    return -1;
  }
  char line[256];
  size_t got = 0;
  struct pollfd p = {pfd[0], POLLIN, 0};
  uint64_t deadline = clock_mono_ms() + 15000;
  while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
    long left = (long)(deadline - clock_mono_ms());
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
    ssize_t r = read(pfd[0], line + got, sizeof line - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(pfd[0]);
  line[got] = 0;
  const char *q = strstr(line, "\"port\":");
  char num[16] = {0};
  for (int i = 0; q && i < 15 && q[7 + i] >= '0' && q[7 + i] <= '9'; i++) num[i] = q[7 + i];
  int64_t port = 0;
  if (!q || str_to_i64(num, &port) != 0 || port <= 0 || port > 65535) {
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
    return -1;
  }
  return (int)port;
}

/* Stops a double started by nd_spawn (no-op when *pid is 0). */
static inline void nd_stop(pid_t *pid) {
  if (*pid > 0) {
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
  }
  *pid = 0;
}

#endif
