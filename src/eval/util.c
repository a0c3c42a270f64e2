/* Small helpers for the eval layer's output files: folders, atomic writes, escaping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "eval/eval_int.h"

int eval__mkdirs(const char *dir) {
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

int eval__write_atomic(const char *path, const char *data, size_t n) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, data + off, n - off);
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

int eval__html(buf *b, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    switch (*s) {
    case '&': rc = buf_puts(b, "&amp;"); break;
    case '<': rc = buf_puts(b, "&lt;"); break;
    case '>': rc = buf_puts(b, "&gt;"); break;
    case '"': rc = buf_puts(b, "&quot;"); break;
    case '\'': rc = buf_puts(b, "&#39;"); break;
    default: rc = buf_putc(b, *s);
    }
  }
  return rc;
}

int eval__csv_field(buf *b, const char *s) {
  int rc = buf_putc(b, '"');
  if (!rc && (*s == '=' || *s == '+' || *s == '-' || *s == '@')) rc = buf_putc(b, '\'');
  for (; *s && !rc; s++) rc = *s == '"' ? buf_puts(b, "\"\"") : buf_putc(b, *s);
  return rc ? rc : buf_putc(b, '"');
}
