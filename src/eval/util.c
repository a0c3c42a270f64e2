/* Small helpers for the eval layer's output files: HTML and CSV escaping. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval_int.h"

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
