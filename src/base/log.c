/* Logging (see log.h). One mutex serialises formatting, redaction and the write of each line;
 * the log file's rotation and retention and the hashing of user ids happen under it too. */
#include "base/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/str.h"

#define LOG_LINE_MAX    8192
#define LOG_MAX_SECRETS 8
#define LOG_MAX_TRACE   32

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static log_level log_threshold = LOG_INFO;
static char *log_secrets[LOG_MAX_SECRETS];
static int log_nsecrets;
static char log_trace[LOG_MAX_TRACE][32];
static int log_ntrace;
static int log_trace_all;
static FILE *log_file;
static log_sink_fn log_sink;
static void *log_sink_user;
static int64_t (*log_clock)(void) = clock_wall_ms;
static uint8_t log_user_key[16];
static bool log_hash_users;

#define DAY_MS 86400000LL

/* The rotating log file (log_file_open), under log_mu. */
static struct {
  FILE *f;
  char *path;
  int64_t max_bytes;
  int retention_days;
  int64_t day; /* UTC day number of the lines in the live file */
} rot;

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void log_set_level(log_level lv) { log_threshold = lv; }

int log_level_parse(const char *s, log_level *out) {
  static const char *names[] = {"error", "warn", "info", "debug", "trace"};
  for (int i = 0; i < 5; i++)
    if (str_ieq(s, names[i])) {
      *out = (log_level)i;
      return 0;
    }
  return err_set(MIMIC_EINVAL, "unknown log level '%s' (use error, warn, info, debug or trace)", s);
}

void log_set_trace(const char *subsystems) {
  pthread_mutex_lock(&log_mu);
  log_ntrace = 0;
  log_trace_all = 0;
  const char *p = subsystems ? subsystems : "";
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 0 && n < sizeof log_trace[0] && log_ntrace < LOG_MAX_TRACE) {
      memcpy(log_trace[log_ntrace], p, n);
      log_trace[log_ntrace][n] = 0;
      if (strcmp(log_trace[log_ntrace], "all") == 0) log_trace_all = 1;
      log_ntrace++;
    }
    p += n;
    if (*p == ',') p++;
  }
  pthread_mutex_unlock(&log_mu);
}

bool log_enabled(log_level lv, const char *subsys) {
  if (lv <= log_threshold) return true;
  if (lv != LOG_TRACE && lv != LOG_DEBUG) return false;
  if (log_trace_all) return true;
  for (int i = 0; i < log_ntrace; i++)
    if (subsys && strcmp(log_trace[i], subsys) == 0) return true;
  return false;
}

void log_set_file(FILE *f) {
  pthread_mutex_lock(&log_mu);
  log_file = f;
  pthread_mutex_unlock(&log_mu);
}

void log_set_sink(log_sink_fn fn, void *user) {
  pthread_mutex_lock(&log_mu);
  log_sink = fn;
  log_sink_user = user;
  pthread_mutex_unlock(&log_mu);
}

void log_add_secret(const char *secret) {
  if (!secret || strlen(secret) < 8) return;
  pthread_mutex_lock(&log_mu);
  if (log_nsecrets < LOG_MAX_SECRETS) log_secrets[log_nsecrets++] = xstrdup(secret);
  pthread_mutex_unlock(&log_mu);
}

static void rot_close_locked(void) {
  if (rot.f) fclose(rot.f);
  rot.f = NULL;
  free(rot.path);
  rot.path = NULL;
}

void log_reset(void) {
  pthread_mutex_lock(&log_mu);
  rot_close_locked();
  log_hash_users = false;
  log_clock = clock_wall_ms;
  for (int i = 0; i < log_nsecrets; i++) free(log_secrets[i]);
  log_nsecrets = 0;
  log_file = NULL;
  log_sink = NULL;
  log_ntrace = 0;
  log_trace_all = 0;
  log_threshold = LOG_INFO;
  pthread_mutex_unlock(&log_mu);
}

/* Replaces every registered secret in line (in place; the replacement is never longer). */
static void redact(char *line) {
  static const char mark[] = "[redacted]";
  for (int i = 0; i < log_nsecrets; i++) {
    size_t sl = strlen(log_secrets[i]);
    char *hit;
    while ((hit = strstr(line, log_secrets[i])) != NULL) {
      size_t ml = sizeof mark - 1 < sl ? sizeof mark - 1 : sl;
      memcpy(hit, mark, ml);
      memmove(hit + ml, hit + sl, strlen(hit + sl) + 1);
    }
  }
}

/* ---- the log file ---- */

static int64_t day_of(int64_t ms) { return ms >= 0 ? ms / DAY_MS : (ms - DAY_MS + 1) / DAY_MS; }

/* "YYYY-MM-DD" of a day number. */
static void day_text(int64_t day, char out[11]) {
  char ts[32];
  clock_iso8601(day * DAY_MS, ts);
  memcpy(out, ts, 10);
  out[10] = 0;
}

/* The day of a log file's last line, by its timestamp (its last change's when unreadable). */
static int64_t file_day(int fd, const struct stat *st) {
  char tail[4096 + 1];
  off_t from = st->st_size > 4096 ? st->st_size - 4096 : 0;
  ssize_t n = pread(fd, tail, 4096, from);
  if (n > 1) {
    tail[n] = 0;
    if (tail[n - 1] == '\n') tail[--n] = 0;
    char *last = strrchr(tail, '\n');
    last = last ? last + 1 : tail;
    char iso[32];
    int64_t ms;
    size_t len = strcspn(last, " ");
    if (len < sizeof iso) {
      memcpy(iso, last, len);
      iso[len] = 0;
      if (clock_parse_iso8601(iso, &ms) == 0) return day_of(ms);
      err_clear();
    }
  }
  return day_of((int64_t)st->st_mtime * 1000);
}

/* Opens rot.path for appending (lock held); the live file's day is its last line's. */
static int rot_open_locked(int64_t now) {
  if (fs_mkdirs_for(rot.path)) return MIMIC_EIO;
  int fd = open(rot.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return err_set(MIMIC_EIO, "%s: cannot open the log file: %s", rot.path, strerror(errno));
  struct stat st;
  rot.day = day_of(now);
  if (fstat(fd, &st) == 0 && st.st_size > 0) rot.day = file_day(fd, &st);
  rot.f = fdopen(fd, "a");
  if (!rot.f) {
    close(fd);
    return err_set(MIMIC_EIO, "%s: cannot open the log file", rot.path);
  }
  return 0;
}

int log_file_prune(const char *path, int days, int64_t now_ms) {
  if (days <= 0) return 0;
  char dir[4096];
  str_lcpy(dir, path, sizeof dir);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : path;
  if (slash)
    *slash = 0;
  else
    str_lcpy(dir, ".", sizeof dir);
  size_t bl = strlen(base);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int64_t oldest = day_of(now_ms) - days;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *nm = e->d_name;
    if (strncmp(nm, base, bl) != 0 || nm[bl] != '.' || strlen(nm + bl + 1) < 10) continue;
    char iso[32];
    snprintf(iso, sizeof iso, "%.10sT00:00:00Z", nm + bl + 1);
    const char *rest = nm + bl + 11;
    if (*rest && *rest != '.') continue;
    int64_t ms;
    if (clock_parse_iso8601(iso, &ms) != 0) {
      err_clear();
      continue;
    }
    char full[4352];
    if (day_of(ms) < oldest && snprintf(full, sizeof full, "%s/%s", dir, nm) < (int)sizeof full &&
        unlink(full) == 0)
      n++;
  }
  closedir(d);
  return n;
}

/* Starts a new live file (lock held): renames the current one to PATH.DAY[.N], unless another
 * process already did (the path no longer names our file), then reopens and prunes. */
static void rot_rotate_locked(int64_t now) {
  struct stat ours, there;
  bool moved =
      fstat(fileno(rot.f), &ours) == 0 &&
      (stat(rot.path, &there) != 0 || ours.st_ino != there.st_ino || ours.st_dev != there.st_dev);
  if (!moved) {
    char day[11], dst[4352];
    day_text(rot.day, day);
    snprintf(dst, sizeof dst, "%s.%s", rot.path, day);
    for (int i = 1; access(dst, F_OK) == 0 && i < 10000; i++)
      snprintf(dst, sizeof dst, "%s.%s.%d", rot.path, day, i);
    if (rename(rot.path, dst) != 0) return; /* keep writing where we are */
  }
  fclose(rot.f);
  rot.f = NULL;
  if (rot_open_locked(now) != 0) {
    err_clear();
    return; /* no file: lines still reach stderr */
  }
  rot.day = day_of(now);
  log_file_prune(rot.path, rot.retention_days, now);
}

/* Writes a line to the log file, rotating first when the day changed or the size would pass the
 * cap (lock held). */
static void rot_write_locked(const char *line, size_t n, int64_t now) {
  struct stat st;
  bool big = rot.max_bytes > 0 && fstat(fileno(rot.f), &st) == 0 && st.st_size > 0 &&
             (int64_t)st.st_size + (int64_t)n > rot.max_bytes;
  if (day_of(now) != rot.day || big) rot_rotate_locked(now);
  if (!rot.f) return;
  fwrite(line, 1, n, rot.f);
  fflush(rot.f);
}

int log_file_open(const log_file_opts *o) {
  pthread_mutex_lock(&log_mu);
  rot_close_locked();
  rot.path = xstrdup(o->path);
  rot.max_bytes = o->max_bytes;
  rot.retention_days = o->retention_days;
  int64_t now = log_clock();
  int rc = rot_open_locked(now);
  if (rc) {
    rot_close_locked();
  } else {
    if (rot.day != day_of(now)) rot_rotate_locked(now); /* yesterday's file */
    log_file_prune(rot.path, rot.retention_days, now);
  }
  pthread_mutex_unlock(&log_mu);
  return rc;
}

void log_file_close(void) {
  pthread_mutex_lock(&log_mu);
  rot_close_locked();
  pthread_mutex_unlock(&log_mu);
}

void log_set_clock(int64_t (*now_ms)(void)) {
  pthread_mutex_lock(&log_mu);
  log_clock = now_ms ? now_ms : clock_wall_ms;
  pthread_mutex_unlock(&log_mu);
}

/* ---- user ids ---- */

/* SipHash-2-4 (Aumasson and Bernstein) of one 64-bit word: a keyed hash made for short inputs. It
 * lives here rather than in base/hash.h because it is a keyed PRF, not a table hash, and the log
 * is its only user. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
  do {                                                                                             \
    v0 += v1;                                                                                      \
    v1 = ROTL(v1, 13);                                                                             \
    v1 ^= v0;                                                                                      \
    v0 = ROTL(v0, 32);                                                                             \
    v2 += v3;                                                                                      \
    v3 = ROTL(v3, 16);                                                                             \
    v3 ^= v2;                                                                                      \
    v0 += v3;                                                                                      \
    v3 = ROTL(v3, 21);                                                                             \
    v3 ^= v0;                                                                                      \
    v2 += v1;                                                                                      \
    v1 = ROTL(v1, 17);                                                                             \
    v1 ^= v2;                                                                                      \
    v2 = ROTL(v2, 32);                                                                             \
  } while (0)

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t siphash_u64(const uint8_t key[16], uint64_t m) {
  uint64_t k0 = le64(key), k1 = le64(key + 8);
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  v3 ^= m; /* the 8-byte message is one block, little-endian */
  SIPROUND;
  SIPROUND;
  v0 ^= m;
  uint64_t b = 8ull << 56; /* the last block: just the length */
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static void tag_locked(uint64_t id, char out[24]) {
  if (!log_hash_users) {
    snprintf(out, 24, "%llu", (unsigned long long)id);
    return;
  }
  uint64_t h = siphash_u64(log_user_key, id);
  snprintf(out, 24, "u-%012llx", (unsigned long long)(h & 0xffffffffffffull));
}

void log_user_tag(uint64_t id, char out[24]) {
  pthread_mutex_lock(&log_mu);
  tag_locked(id, out);
  pthread_mutex_unlock(&log_mu);
}

void log_set_user_key(const uint8_t key[16]) {
  pthread_mutex_lock(&log_mu);
  log_hash_users = key != NULL;
  if (key) memcpy(log_user_key, key, sizeof log_user_key);
  pthread_mutex_unlock(&log_mu);
}

int log_user_key_load(const char *path) {
  uint8_t key[16];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
      return err_set(MIMIC_EIO, "no random bytes for the log salt: %s", strerror(errno));
    if (fs_mkdirs_for(path)) return MIMIC_EIO;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    if (fd >= 0) ok = close(fd) == 0 && ok;
    if (!ok) return err_set(MIMIC_EIO, "%s: cannot write the log salt: %s", path, strerror(errno));
  } else {
    bool ok = fd >= 0 && read(fd, key, sizeof key) == (ssize_t)sizeof key;
    if (fd >= 0) close(fd);
    if (!ok)
      return err_set(MIMIC_EIO,
                     "%s: cannot read the log salt (16 bytes); delete it to make a new one", path);
  }
  log_set_user_key(key);
  return 0;
}

/* Whether the digits at p (inside s) are a user id by what precedes them: a mention "<@" / "<@!",
 * or one of the words below and one to three of " =:#\"'". */
static bool id_context(const char *s, const char *p) {
  if (p - s >= 2 && p[-1] == '@' && p[-2] == '<') return true;
  if (p - s >= 3 && p[-1] == '!' && p[-2] == '@' && p[-3] == '<') return true;
  const char *q = p;
  int seps = 0;
  while (q > s && seps < 3 && strchr(" =:#\"'", q[-1])) {
    q--;
    seps++;
  }
  if (!seps) return false;
  const char *w = q;
  while (w > s && (isalpha((unsigned char)w[-1]) || w[-1] == '_')) w--;
  static const char *words[] = {"user",      "users",  "user_id", "author",
                                "author_id", "member", "by",      "from"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if ((size_t)(q - w) == strlen(words[i]) && strncasecmp(w, words[i], (size_t)(q - w)) == 0)
      return true;
  return false;
}

/* Replaces the user ids in s by their tags, in place (a tag is never longer than an id). */
static void hash_ids_locked(char *s) {
  char *p = s;
  while (*p) {
    if (!isdigit((unsigned char)*p) || (p > s && isalnum((unsigned char)p[-1]))) {
      p++;
      continue;
    }
    char *e = p;
    while (isdigit((unsigned char)*e)) e++;
    size_t n = (size_t)(e - p);
    if (n >= 15 && n <= 20 && !isalnum((unsigned char)*e) && id_context(s, p)) {
      char digits[21];
      memcpy(digits, p, n);
      digits[n] = 0;
      uint64_t id;
      if (str_to_u64(digits, &id) == 0) {
        char tag[24];
        tag_locked(id, tag);
        size_t tl = strlen(tag);
        memcpy(p, tag, tl);
        memmove(p + tl, e, strlen(e) + 1);
        p += tl;
        continue;
      }
      err_clear();
    }
    p = e;
  }
}

void log_write(log_level lv, const char *subsys, const char *fmt, ...) {
  if (!log_enabled(lv, subsys)) return;
  char line[LOG_LINE_MAX];
  char ts[32];
  int64_t now = log_clock();
  clock_iso8601(now, ts);
  int off = snprintf(line, sizeof line, "%s %-5s %s: ", ts, level_names[lv], subsys ? subsys : "-");
  if (off < 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + off, sizeof line - (size_t)off - 1, fmt, ap);
  va_end(ap);
  /* Control characters from outside input would let a message forge log lines. */
  for (char *p = line + off; *p; p++)
    if ((unsigned char)*p < 0x20 && *p != '\t') *p = ' ';
  pthread_mutex_lock(&log_mu);
  if (log_hash_users) hash_ids_locked(line + off);
  redact(line);
  size_t n = strlen(line);
  line[n] = '\n';
  fwrite(line, 1, n + 1, stderr);
  if (log_file) {
    fwrite(line, 1, n + 1, log_file);
    fflush(log_file);
  }
  if (rot.f) rot_write_locked(line, n + 1, now);
  line[n] = 0;
  if (log_sink) log_sink(lv, line, log_sink_user);
  pthread_mutex_unlock(&log_mu);
}
