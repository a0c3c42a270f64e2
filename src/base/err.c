/* Per-thread error messages (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MSG_MAX 512

static _Thread_local char err_buf[ERR_MSG_MAX];
static _Thread_local int err_code;

const char *err_name(int code) {
  switch (code) {
  case MIMIC_OK: return "ok";
  case MIMIC_ENOMEM: return "out of memory";
  case MIMIC_EINVAL: return "invalid value";
  case MIMIC_EIO: return "I/O error";
  case MIMIC_EFORMAT: return "format error";
  case MIMIC_ERANGE: return "size limit exceeded";
  case MIMIC_ENOTFOUND: return "not found";
  case MIMIC_EUNSUPPORTED: return "not supported";
  case MIMIC_ENET: return "network error";
  case MIMIC_EPROTO: return "protocol error";
  case MIMIC_EDB: return "database error";
  case MIMIC_ETIMEOUT: return "timed out";
  case MIMIC_ECANCELLED: return "cancelled";
  case MIMIC_EBUSY: return "busy";
  case MIMIC_EAUTH: return "authentication error";
  case MIMIC_EFATAL: return "fatal error";
  default: return "unknown error";
  }
}

/* Formats into a scratch buffer first: an argument may be err_msg() itself (the buffer being
 * written), and vsnprintf with overlapping source and destination is undefined behaviour. */
int err_set(int code, const char *fmt, ...) {
  char msg[ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(err_buf, msg, sizeof msg);
  err_code = code;
  return code;
}

int err_prefix(int code, const char *fmt, ...) {
  char prev[ERR_MSG_MAX];
  char ctx[ERR_MSG_MAX];
  snprintf(prev, sizeof prev, "%s", err_msg()); /* err_msg() may be a short literal */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  snprintf(err_buf, sizeof err_buf, "%s: %s", ctx, prev);
  err_code = code;
  return code;
}

const char *err_msg(void) {
  if (err_buf[0]) return err_buf;
  return err_name(err_code);
}

void err_clear(void) {
  err_buf[0] = 0;
  err_code = 0;
}
