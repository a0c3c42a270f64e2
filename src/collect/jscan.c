/* The streamed JSON scanner (see collect_int.h): finds value boundaries in a JSON text read block
 * by block, so an export of any size is processed one message at a time. It is not a JSON parser:
 * Jansson checks each value it cuts out. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect_int.h"

void jscan_init_mem(jscan *j, const char *data, size_t n, const char *name) {
  memset(j, 0, sizeof *j);
  j->name = name;
  j->fd = -1;
  j->blk = data;
  j->blk_len = n;
  j->line = 1;
  j->eof = true; /* no more blocks after this one */
}

int jscan_init_fd(jscan *j, int fd, const char *name) {
  memset(j, 0, sizeof *j);
  j->name = name;
  j->fd = fd;
  j->own = xalloc(JSCAN_BLOCK);
  j->blk = j->own;
  j->line = 1;
  return 0;
}

void jscan_free(jscan *j) {
  mem_free(j->own);
  j->own = NULL;
}

uint64_t jscan_offset(const jscan *j) { return j->base + j->pos; }

/* Loads the next block when the current one is used up. Returns 1 when bytes are available, 0 at
 * end of input, or a negative error. */
static int refill(jscan *j) {
  if (j->pos < j->blk_len) return 1;
  if (j->eof) return 0;
  j->base += j->blk_len;
  j->pos = 0;
  j->blk_len = 0;
  for (;;) {
    ssize_t r = read(j->fd, j->own, JSCAN_BLOCK);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return err_set(MIMIC_EIO, "%s: read error at byte %llu: %s", j->name,
                     (unsigned long long)j->base, strerror(errno));
    if (r == 0) {
      j->eof = true;
      return 0;
    }
    j->blk_len = (size_t)r;
    return 1;
  }
}

int jscan_error(const jscan *j, int code, uint64_t off, uint64_t line, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return err_set(code, "%s: byte %llu (line %llu): %s", j->name, (unsigned long long)off,
                 (unsigned long long)line, msg);
}

int jscan_peek(jscan *j, int *err) {
  *err = 0;
  for (;;) {
    int r = refill(j);
    if (r < 0) {
      *err = r;
      return -1;
    }
    if (r == 0) return -1;
    unsigned char c = (unsigned char)j->blk[j->pos];
    if (c == '\n') {
      j->line++;
      j->pos++;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      j->pos++;
    } else if (c == 0xEF && jscan_offset(j) == 0 && j->blk_len >= 3 &&
               (unsigned char)j->blk[1] == 0xBB && (unsigned char)j->blk[2] == 0xBF) {
      j->pos += 3; /* UTF-8 byte order mark, written by some Windows tools */
    } else {
      return c;
    }
  }
}

void jscan_advance(jscan *j) {
  if (j->pos < j->blk_len) {
    if (j->blk[j->pos] == '\n') j->line++;
    j->pos++;
  }
}

int jscan_expect(jscan *j, char c, const char *what) {
  int err;
  int got = jscan_peek(j, &err);
  if (err) return err;
  if (got < 0)
    return jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                       "unexpected end of file, expected '%c' %s (the file looks truncated)", c,
                       what);
  if (got != (unsigned char)c) {
    char shown[8];
    if (got >= 0x20 && got < 0x7f)
      snprintf(shown, sizeof shown, "'%c'", got);
    else
      snprintf(shown, sizeof shown, "0x%02x", got);
    return jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line, "expected '%c' %s, found %s", c,
                       what, shown);
  }
  jscan_advance(j);
  return 0;
}

int jscan_value(jscan *j, buf *out, uint64_t *start_off, uint64_t *start_line) {
  buf_reset(out);
  int err;
  int c = jscan_peek(j, &err);
  if (err) return err;
  *start_off = jscan_offset(j);
  *start_line = j->line;
  if (c < 0)
    return jscan_error(j, MIMIC_EFORMAT, *start_off, *start_line,
                       "unexpected end of file where a value should start (the file looks "
                       "truncated)");
  int depth = 0;
  bool in_str = false, esc = false, done = false;
  bool scalar = c != '{' && c != '[' && c != '"';
  while (!done) {
    int r = refill(j);
    if (r < 0) return r;
    if (r == 0) {
      if (scalar && !in_str && depth == 0) break; /* a bare number at the very end */
      return jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                         "unexpected end of file inside a value that starts at byte %llu "
                         "(line %llu): the file looks truncated",
                         (unsigned long long)*start_off, (unsigned long long)*start_line);
    }
    size_t i = j->pos, n = j->blk_len;
    const char *b = j->blk;
    uint64_t lines = 0;
    for (; i < n; i++) {
      char ch = b[i];
      if (ch == '\n') lines++;
      if (in_str) {
        if (esc)
          esc = false;
        else if (ch == '\\')
          esc = true;
        else if (ch == '"') {
          in_str = false;
          if (depth == 0) {
            i++;
            done = true;
            break;
          }
        }
        continue;
      }
      if (scalar) {
        if (ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\n' || ch == '\r' ||
            ch == '\t') {
          if (ch == '\n') lines--;
          done = true;
          break;
        }
        continue;
      }
      if (ch == '"')
        in_str = true;
      else if (ch == '{' || ch == '[')
        depth++;
      else if (ch == '}' || ch == ']') {
        if (--depth == 0) {
          i++;
          done = true;
          break;
        }
      }
    }
    if (buf_append(out, b + j->pos, i - j->pos))
      return jscan_error(j, MIMIC_ERANGE, *start_off, *start_line,
                         "a value longer than %zu bytes (the cap for one message); the file is "
                         "not a chat export or is damaged",
                         out->limit);
    j->line += lines;
    j->pos = i;
  }
  return 0;
}

json_t *jscan_parse(const jscan *j, const buf *b, uint64_t off, uint64_t line, const char *what) {
  json_error_t e;
  json_t *v = json_loadb(b->data ? b->data : "", b->len, JSON_DECODE_ANY, &e);
  if (!v) {
    /* Jansson's position is relative to the value; make it absolute. Its line is 1-based. */
    uint64_t aoff = off + (e.position > 0 ? (uint64_t)e.position : 0);
    uint64_t aline = line + (e.line > 1 ? (uint64_t)(e.line - 1) : 0);
    jscan_error(j, MIMIC_EFORMAT, aoff, aline, "%s: %s", what, e.text);
  }
  return v;
}
