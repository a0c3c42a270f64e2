/* Who may use the dashboard (web_int.h): one password, stored as an Argon2id hash in the store's
 * settings (scope "web"), sessions held in memory and named by a random 256-bit id in an HttpOnly
 * SameSite=Strict cookie, and login throttling per client address. A login always makes a new
 * session id and drops the one the browser presented, so an id planted before login is worth
 * nothing after it (session fixation). Sessions end with the dashboard process. */
#include <argon2.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "web/web_int.h"

/* Argon2id with OWASP's minimum: 19 MiB, 2 passes, 1 lane; a login costs ~50 ms of one core. */
#define PW_T_COST   2
#define PW_M_COST   19456
#define PW_LANES    1
#define PW_SALT     16
#define PW_HASH_LEN 32
#define PW_SCOPE    "web"
#define PW_KEY      "password_argon2id"

#define THROTTLE_FREE    5      /* failures before a client must wait */
#define THROTTLE_MAX_MS  900000 /* the longest wait */
#define THROTTLE_CLIENTS 64
/* Beyond one address: after this many failures in a row from anyone, every login waits too
 * (1 s doubling up to GLOBAL_MAX_MS), so rotating addresses buys no more guesses; the owner waits
 * at most a minute. */
#define GLOBAL_FREE   20
#define GLOBAL_MAX_MS 60000
/* Password checks at once (each holds PW_M_COST KiB): more are told to retry in a second. */
#define VERIFY_MAX 2
#define COOKIE     "mimic_session"

typedef struct session {
  char sid[WEB_ID_HEX + 1];
  char csrf[WEB_ID_HEX + 1];
  int64_t created_ms, used_ms;
} session;

typedef struct throttle {
  char client[64];
  int failures;
  int64_t until_ms;
  bool checking; /* a password check of this client is under way */
} throttle;

struct web_auth {
  pthread_mutex_t mu;
  session sessions[WEB_SESSIONS_MAX];
  throttle clients[THROTTLE_CLIENTS];
  throttle global; /* failures from every client since the last success */
  char *pw_seen;   /* the stored hash when last looked at (web__auth_watch_password) */
  int verifying;   /* password checks under way */
};

int web__random_hex(char *out, size_t n_bytes) {
  unsigned char raw[64];
  if (n_bytes > sizeof raw) return err_set(MIMIC_ERANGE, "too many random bytes asked");
  size_t got = 0;
  while (got < n_bytes) {
    ssize_t n = getrandom(raw + got, n_bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return err_set(MIMIC_EIO, "no random numbers from the kernel: %s", strerror(errno));
    got += (size_t)n;
  }
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n_bytes; i++) {
    out[2 * i] = hx[raw[i] >> 4];
    out[2 * i + 1] = hx[raw[i] & 15];
  }
  out[2 * n_bytes] = 0;
  return 0;
}

bool web__secure_eq(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  unsigned char d = (unsigned char)(na != nb);
  size_t n = na < nb ? na : nb;
  for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

int web__hash_password(const char *password, char *out, size_t cap) {
  unsigned char salt[PW_SALT];
  size_t got = 0;
  while (got < sizeof salt) {
    ssize_t n = getrandom(salt + got, sizeof salt - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return err_set(MIMIC_EIO, "no random numbers from the kernel: %s", strerror(errno));
    got += (size_t)n;
  }
  int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, password, strlen(password), salt,
                                 sizeof salt, PW_HASH_LEN, out, cap);
  if (rc != ARGON2_OK)
    return err_set(MIMIC_EINVAL, "cannot hash the password: %s", argon2_error_message(rc));
  return 0;
}

int web_password_set(store *s, const char *password) {
  size_t n = password ? strlen(password) : 0;
  if (n < WEB_PASSWORD_MIN)
    return err_set(MIMIC_EINVAL, "the password must be at least %d characters long",
                   WEB_PASSWORD_MIN);
  if (n > 1024) return err_set(MIMIC_EINVAL, "the password is longer than 1024 bytes");
  char enc[256];
  int rc = web__hash_password(password, enc, sizeof enc);
  if (!rc) rc = store_setting_set(s, PW_SCOPE, PW_KEY, enc);
  return rc;
}

bool web_password_exists(store *s) {
  buf b;
  buf_init(&b, 512);
  bool ok = store_setting_get(s, PW_SCOPE, PW_KEY, &b) == 0 && b.len > 0;
  buf_free(&b);
  err_clear();
  return ok;
}

void web__auth_watch_password(web_auth *a, store *db, pthread_mutex_t *db_mu) {
  buf b;
  buf_init(&b, 512);
  pthread_mutex_lock(db_mu);
  int rc = store_setting_get(db, PW_SCOPE, PW_KEY, &b);
  pthread_mutex_unlock(db_mu);
  if (rc || buf_putc(&b, 0)) {
    err_clear();
    buf_free(&b);
    return;
  }
  pthread_mutex_lock(&a->mu);
  if (a->pw_seen && strcmp(a->pw_seen, b.data) != 0) {
    for (int i = 0; i < WEB_SESSIONS_MAX; i++) memset(&a->sessions[i], 0, sizeof a->sessions[i]);
    LOG_I("web", "the dashboard password changed: every session ended");
  }
  mem_free(a->pw_seen);
  a->pw_seen = xstrdup(b.data);
  pthread_mutex_unlock(&a->mu);
  buf_free(&b);
}

web_auth *web__auth_new(void) {
  web_auth *a = xcalloc(1, sizeof *a);
  pthread_mutex_init(&a->mu, NULL);
  return a;
}

void web__auth_destroy(web_auth *a) {
  if (!a) return;
  pthread_mutex_destroy(&a->mu);
  mem_free(a->pw_seen);
  memset(a, 0, sizeof *a); /* no session id outlives the dashboard in freed memory */
  mem_free(a);
}

/* The client's throttle row. A new client takes a free row, else the one with the fewest failures
 * whose wait is over and no check under way (a client still waiting keeps its row while another
 * can be reused). Called with mu held. */
static throttle *throttle_of(web_auth *a, const char *client, int64_t now) {
  throttle *free_row = NULL, *reuse = NULL;
  for (int i = 0; i < THROTTLE_CLIENTS; i++) {
    throttle *t = &a->clients[i];
    if (strcmp(t->client, client) == 0) return t;
    if (!t->client[0] && !free_row) free_row = t;
    bool idle = t->until_ms <= now && !t->checking;
    if (idle && (!reuse || t->failures < reuse->failures)) reuse = t;
  }
  throttle *t = free_row ? free_row : reuse;
  if (!t) { /* every row waits: the one whose wait ends first */
    t = &a->clients[0];
    for (int i = 1; i < THROTTLE_CLIENTS; i++)
      if (!a->clients[i].checking && a->clients[i].until_ms < t->until_ms) t = &a->clients[i];
  }
  memset(t, 0, sizeof *t);
  str_lcpy(t->client, client, sizeof t->client);
  return t;
}

static void drop_session(web_auth *a, const char *sid) {
  if (!sid) return;
  for (int i = 0; i < WEB_SESSIONS_MAX; i++)
    if (a->sessions[i].sid[0] && web__secure_eq(a->sessions[i].sid, sid))
      memset(&a->sessions[i], 0, sizeof a->sessions[i]);
}

int web__auth_login(web_auth *a, store *db, pthread_mutex_t *db_mu, const char *client,
                    const char *password, char sid[WEB_ID_HEX + 1], char csrf[WEB_ID_HEX + 1],
                    int *retry_s) {
  *retry_s = 0;
  int64_t now = clock_wall_ms();
  pthread_mutex_lock(&a->mu);
  throttle *t = throttle_of(a, client, now);
  int64_t until = t->until_ms > a->global.until_ms ? t->until_ms : a->global.until_ms;
  if (until > now) {
    *retry_s = (int)((until - now + 999) / 1000);
    pthread_mutex_unlock(&a->mu);
    return err_set(MIMIC_EBUSY, "too many failed logins; try again in %d s", *retry_s);
  }
  /* One check at a time per client (parallel guesses would all pass the wait above before the
   * first failure is counted), and at most VERIFY_MAX at once overall. */
  if (t->checking || a->verifying >= VERIFY_MAX) {
    *retry_s = 1;
    pthread_mutex_unlock(&a->mu);
    return err_set(MIMIC_EBUSY, "another login is being checked; try again in 1 s");
  }
  t->checking = true;
  a->verifying++;
  pthread_mutex_unlock(&a->mu);

  buf enc;
  buf_init(&enc, 512);
  pthread_mutex_lock(db_mu);
  int rc = store_setting_get(db, PW_SCOPE, PW_KEY, &enc);
  pthread_mutex_unlock(db_mu);
  if (rc == MIMIC_ENOTFOUND || (!rc && enc.len == 0)) {
    buf_free(&enc);
    return err_set(MIMIC_ENOTFOUND, "no password is set: run `mimic dashboard passwd`");
  }
  if (!rc) rc = buf_putc(&enc, 0);
  bool ok = !rc && password && strlen(password) <= 1024 &&
            argon2id_verify(enc.data, password, strlen(password)) == ARGON2_OK;
  buf_free(&enc);

  pthread_mutex_lock(&a->mu);
  t->checking = false; /* the row stays this client's while checking is set */
  a->verifying--;
  if (rc) {
    pthread_mutex_unlock(&a->mu);
    return rc;
  }
  if (!ok) {
    now = clock_wall_ms();
    t->failures++;
    if (t->failures >= THROTTLE_FREE) {
      int64_t wait = 1000;
      for (int i = THROTTLE_FREE; i < t->failures && wait < THROTTLE_MAX_MS; i++) wait *= 2;
      if (wait > THROTTLE_MAX_MS) wait = THROTTLE_MAX_MS;
      t->until_ms = now + wait;
    }
    a->global.failures++;
    if (a->global.failures >= GLOBAL_FREE) {
      int64_t wait = 1000;
      for (int i = GLOBAL_FREE; i < a->global.failures && wait < GLOBAL_MAX_MS; i++) wait *= 2;
      if (wait > GLOBAL_MAX_MS) wait = GLOBAL_MAX_MS;
      a->global.until_ms = now + wait;
    }
    pthread_mutex_unlock(&a->mu);
    LOG_W("web", "failed dashboard login from %s", client);
    return err_set(MIMIC_EAUTH, "wrong password");
  }
  t->failures = 0;
  t->until_ms = 0;
  a->global.failures = 0;
  a->global.until_ms = 0;
  session *slot = &a->sessions[0];
  for (int i = 0; i < WEB_SESSIONS_MAX; i++) {
    session *s = &a->sessions[i];
    if (!s->sid[0] || now - s->used_ms > WEB_SESSION_TTL_MS) {
      slot = s;
      break;
    }
    if (s->used_ms < slot->used_ms) slot = s;
  }
  rc = web__random_hex(slot->sid, WEB_ID_HEX / 2);
  if (!rc) rc = web__random_hex(slot->csrf, WEB_ID_HEX / 2);
  if (rc) {
    memset(slot, 0, sizeof *slot);
  } else {
    slot->created_ms = slot->used_ms = now;
    str_lcpy(sid, slot->sid, WEB_ID_HEX + 1);
    str_lcpy(csrf, slot->csrf, WEB_ID_HEX + 1);
  }
  pthread_mutex_unlock(&a->mu);
  if (!rc) LOG_I("web", "dashboard login from %s", client);
  return rc;
}

bool web__auth_session(web_auth *a, web_req *r, char csrf[WEB_ID_HEX + 1]) {
  const char *sid = web__cookie(r, COOKIE);
  if (!sid || strlen(sid) != WEB_ID_HEX) return false;
  int64_t now = clock_wall_ms();
  bool found = false;
  pthread_mutex_lock(&a->mu);
  for (int i = 0; i < WEB_SESSIONS_MAX && !found; i++) {
    session *s = &a->sessions[i];
    if (!s->sid[0] || !web__secure_eq(s->sid, sid)) continue;
    if (now - s->used_ms > WEB_SESSION_TTL_MS || now - s->created_ms > WEB_SESSION_LIFE_MS) {
      memset(s, 0, sizeof *s);
      break;
    }
    s->used_ms = now;
    str_lcpy(csrf, s->csrf, WEB_ID_HEX + 1);
    found = true;
  }
  pthread_mutex_unlock(&a->mu);
  return found;
}

void web__auth_logout(web_auth *a, web_req *r) {
  const char *sid = web__cookie(r, COOKIE);
  pthread_mutex_lock(&a->mu);
  drop_session(a, sid);
  pthread_mutex_unlock(&a->mu);
}

void web__auth_cookie(const char *sid, bool secure, char *out, size_t cap) {
  snprintf(out, cap, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s%s", sid,
           *sid ? "" : "; Max-Age=0", secure ? "; Secure" : "");
}
