/* Filesystem helpers (see fs.h). */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/str.h"

int fs_mkdirs(const char *dir) {
  char tmp[4096];
  if (str_lcpy(tmp, dir, sizeof tmp) >= sizeof tmp)
    return err_set(MIMIC_ERANGE, "%s: path too long", dir);
  for (char *p = tmp + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
      return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (!c) break;
    *p = c;
  }
  return 0;
}

int fs_mkdirs_for(const char *path) {
  char dir[4096];
  if (str_lcpy(dir, path, sizeof dir) >= sizeof dir)
    return err_set(MIMIC_ERANGE, "%s: path too long", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0;
  *slash = 0;
  return fs_mkdirs(dir);
}

int fs_write_atomic(const char *path, const void *data, size_t n) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  const char *d = data;
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, d + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      close(fd);
      unlink(tmp);
      return err_set(MIMIC_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    off += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp);
    return err_set(MIMIC_EIO, "%s: cannot write: %s", path, strerror(errno));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return err_set(MIMIC_EIO, "%s: cannot rename into place: %s", path, strerror(e));
  }
  return 0;
}
