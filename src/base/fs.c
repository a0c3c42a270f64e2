/* Filesystem helpers (see fs.h). */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
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

int fs_read_stream(FILE *f, const char *what, size_t cap, char **data, size_t *n) {
  *data = NULL;
  *n = 0;
  buf b;
  buf_init(&b, cap);
  char chunk[65536];
  size_t k;
  int rc = 0;
  while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if ((rc = buf_append(&b, chunk, k)) == MIMIC_ERANGE)
      rc = err_set(MIMIC_ERANGE, "%s: over the %zu-byte cap", what, cap);
    else if (rc)
      rc = err_set(rc, "%s: out of memory reading it", what);
  }
  if (!rc && ferror(f)) rc = err_set(MIMIC_EIO, "%s: read error", what);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *n = b.len;
  *data = buf_steal(&b);
  return 0;
}

int fs_read_file(const char *path, size_t cap, char **data, size_t *n) {
  *data = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  int rc = fs_read_stream(f, path, cap, data, n);
  fclose(f);
  return rc;
}
