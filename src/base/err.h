/* Error codes and the per-thread error message. Fallible functions return 0 or a negative MIMIC_E*
 * code; the function that detects a failure also records one sentence of context a user can act on
 * ("model.gguf: tensor blk.3.attn_q.weight: offset past end of file") with err_set(). */
#ifndef MIMIC_BASE_ERR_H
#define MIMIC_BASE_ERR_H

#define MIMIC_MUST         __attribute__((warn_unused_result))
#define MIMIC_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
  MIMIC_OK = 0,
  MIMIC_ENOMEM = -1,       /* allocation failed */
  MIMIC_EINVAL = -2,       /* bad argument or value (config, command argument) */
  MIMIC_EIO = -3,          /* file or socket I/O failed */
  MIMIC_EFORMAT = -4,      /* malformed input (JSON, GGUF, export file, frame) */
  MIMIC_ERANGE = -5,       /* a size or count over its cap */
  MIMIC_ENOTFOUND = -6,    /* no such key, tensor, row, file */
  MIMIC_EUNSUPPORTED = -7, /* valid but not supported (architecture, tensor type) */
  MIMIC_ENET = -8,         /* network or HTTP failure */
  MIMIC_EPROTO = -9,       /* peer broke the protocol */
  MIMIC_EDB = -10,         /* database failure */
  MIMIC_ETIMEOUT = -11,
  MIMIC_ECANCELLED = -12,
  MIMIC_EBUSY = -13, /* queue full, resource in use */
  MIMIC_EAUTH = -14, /* credentials rejected or missing */
  MIMIC_EFATAL = -15 /* unrecoverable condition reported by a peer (e.g. gateway fatal close) */
};

/* Short name of a code ("format error"). Never NULL. */
const char *err_name(int code);

/* Records the message for the calling thread and returns code, so callers write
 * `return err_set(MIMIC_EFORMAT, "%s: bad magic", path);`. The message is truncated to 512 bytes.
 * The arguments may include err_msg() (formatting goes through a scratch buffer), but to add
 * context to the current message say so with err_prefix instead. */
int err_set(int code, const char *fmt, ...) MIMIC_PRINTF(2, 3);

/* Prefixes the current message with context: "ctx: previous message", so callers write
 * `if (rc) return err_prefix(rc, "%s:%d", path, line);` rather than passing err_msg() to err_set.
 * fmt's arguments may include err_msg(). Returns code. */
int err_prefix(int code, const char *fmt, ...) MIMIC_PRINTF(2, 3);

/* The last message recorded on this thread, or the code's name when none was. Borrowed; valid until
 * the next err_set on this thread. */
const char *err_msg(void);

/* Forgets the current message. */
void err_clear(void);

#endif
