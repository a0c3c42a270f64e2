/* CDN downloads under the allow-list (cdn.h). The URL is parsed by libcurl's own parser (CURLU), so
 * the host checked is the host curl connects to, and the checked, re-serialised URL is what is
 * fetched. */
#include "discord/cdn.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/base.h"

#define CDN_MAX_DEFAULT     ((size_t)20 << 20)
#define CDN_TIMEOUT_DEFAULT 20000L
#define CDN_HOST_MAX        253

/* Whether host is one of the comma-separated names in list (exact, ASCII case ignored). */
static bool host_listed(const char *host, const char *list) {
  size_t hl = strlen(host);
  for (const char *p = list; p && *p;) {
    while (*p == ',' || *p == ' ' || *p == '\t') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
    if ((size_t)(t - p) == hl && hl && strncasecmp(p, host, hl) == 0) return true;
    p = e;
  }
  return false;
}

/* Any spelling an address parser would take as an IP: IPv6 in brackets, dotted quads, and the
 * numeric, octal and hex forms inet_aton accepts ("2130706433", "0x7f.1"). */
static bool is_ip_literal(const char *host) {
  if (host[0] == '[' || strchr(host, ':')) return true;
  struct in_addr a;
  if (inet_aton(host, &a)) return true;
  bool all_num = true;
  for (const char *p = host; *p; p++)
    if (!isxdigit((unsigned char)*p) && *p != '.' && *p != 'x' && *p != 'X') all_num = false;
  return all_num;
}

typedef struct checked {
  char url[4096]; /* what is fetched: curl's serialisation of the checked URL */
  char host[CDN_HOST_MAX + 1];
  bool local; /* the listed "localhost": http and loopback addresses allowed */
} checked;

static int check(const char *url, const char *allowed, checked *out) {
  memset(out, 0, sizeof *out);
  if (!url || !*url) return err_set(MIMIC_EINVAL, "image URL is empty");
  CURLU *u = curl_url();
  if (!u) return err_set(MIMIC_ENOMEM, "out of memory parsing an image URL");
  char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL, *full = NULL;
  int rc = 0;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
    rc = err_set(MIMIC_EINVAL, "image URL is not a valid absolute URL");
    goto out;
  }
  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  curl_url_get(u, CURLUPART_HOST, &host, 0);
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PORT, &port, 0);
  if (!host || !*host || strlen(host) > CDN_HOST_MAX) {
    rc = err_set(MIMIC_EINVAL, "image URL has no usable host");
    goto out;
  }
  str_lcpy(out->host, host, sizeof out->host);
  if (user) {
    rc = err_set(MIMIC_EINVAL, "image URL for %s carries a user name: refused", host);
    goto out;
  }
  if (is_ip_literal(host)) {
    rc = err_set(MIMIC_EINVAL, "image URL names an IP address (%s), not a CDN host: refused", host);
    goto out;
  }
  bool discord = host_listed(host, DISCORD_CDN_HOSTS);
  bool extra = !discord && host_listed(host, allowed);
  if (!discord && !extra) {
    rc = err_set(MIMIC_EINVAL,
                 "image host %s is not Discord's CDN nor in vision.allowed_hosts: refused", host);
    goto out;
  }
  out->local = extra && strcasecmp(host, "localhost") == 0;
  bool https = scheme && strcasecmp(scheme, "https") == 0;
  bool http = scheme && strcasecmp(scheme, "http") == 0;
  if (!https && !(http && out->local)) {
    rc = err_set(MIMIC_EINVAL, "image URL for %s is not https: refused", host);
    goto out;
  }
  if (discord && port && strcmp(port, "443") != 0) {
    rc = err_set(MIMIC_EINVAL, "image URL for %s names port %s: refused", host, port);
    goto out;
  }
  if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || strlen(full) >= sizeof out->url) {
    rc = err_set(MIMIC_EINVAL, "image URL for %s is too long", host);
    goto out;
  }
  str_lcpy(out->url, full, sizeof out->url);
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(user);
  curl_free(port);
  curl_free(full);
  curl_url_cleanup(u);
  return rc;
}

int discord_cdn_url_check(const char *url, const char *allowed_hosts) {
  checked c;
  return check(url, allowed_hosts, &c);
}

/* ---- the transfer ---- */

typedef struct xfer {
  const checked *c;
  buf body;
  size_t cap;
  bool over;
  bool refused_addr;
  const atomic_bool *cancel;
  bool cancelled;
} xfer;

/* libcurl calls this as data moves and at least once a second while it waits. */
static int on_progress(void *user, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                       curl_off_t ul_now) {
  xfer *x = user;
  (void)dl_total, (void)dl_now, (void)ul_total, (void)ul_now;
  if (x->cancel && atomic_load(x->cancel)) x->cancelled = true;
  return x->cancelled; /* nonzero aborts the transfer */
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
  xfer *x = user;
  size_t n = size * nmemb;
  if (x->body.len + n > x->cap) {
    x->over = true;
    return 0; /* stops the transfer */
  }
  if (buf_append(&x->body, p, n)) return 0;
  return n;
}

/* Addresses a fetch may never reach unless the host is the listed localhost. */
static bool inward(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) ||
           (b0 == 172 && (b1 & 0xF0) == 16) || (b0 == 192 && b1 == 168) ||
           (b0 == 100 && (b1 & 0xC0) == 64) || b0 >= 224;
  }
  if (sa->sa_family == AF_INET6) {
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero[15] = {0};
    if (memcmp(b, zero, 15) == 0) return true;              /* :: and ::1 */
    if ((b[0] & 0xFE) == 0xFC) return true;                 /* fc00::/7 unique local */
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true; /* fe80::/10 link-local */
    if (b[0] == 0xFF) return true;                          /* multicast */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (memcmp(b, mapped, 12) == 0) {
      struct sockaddr_in v4 = {.sin_family = AF_INET};
      memcpy(&v4.sin_addr, b + 12, 4);
      return inward((const struct sockaddr *)&v4);
    }
    return false;
  }
  return true; /* no other family is expected */
}

static curl_socket_t on_open(void *user, curlsocktype purpose, struct curl_sockaddr *a) {
  xfer *x = user;
  (void)purpose;
  if (!x->c->local && inward(&a->addr)) {
    x->refused_addr = true;
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype, a->protocol);
}

int discord_cdn_fetch(const discord_cdn_opts *o, const char *url, discord_cdn_file *out) {
  memset(out, 0, sizeof *out);
  checked c;
  int rc = check(url, o ? o->allowed_hosts : NULL, &c);
  if (rc) return rc;
  xfer x = {.c = &c,
            .cap = o && o->max_bytes ? o->max_bytes : CDN_MAX_DEFAULT,
            .cancel = o ? o->cancel : NULL};
  buf_init(&x.body, x.cap + 1);
  CURL *e = curl_easy_init();
  if (!e) {
    buf_free(&x.body);
    return err_set(MIMIC_ENET, "%s: could not start a transfer", c.host);
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(e, CURLOPT_URL, c.url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c.local ? "http,https" : "https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   o && o->timeout_ms > 0 ? o->timeout_ms : CDN_TIMEOUT_DEFAULT);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "mimic (image fetch)");
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.cap);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (x.cancel) {
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
  }
  CURLcode cc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  char *ct = NULL;
  curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) {
    size_t k = 0;
    while (ct[k] && ct[k] != ';' && ct[k] != ' ' && k + 1 < sizeof out->content_type) {
      out->content_type[k] = (char)tolower((unsigned char)ct[k]);
      k++;
    }
    out->content_type[k] = 0;
  }
  if (x.cancelled) {
    rc = err_set(MIMIC_ECANCELLED, "%s: the fetch was cancelled (mimic is stopping)", c.host);
  } else if (x.over || cc == CURLE_FILESIZE_EXCEEDED) {
    rc = err_set(MIMIC_ERANGE, "%s: image is over the %zu-byte cap", c.host, x.cap);
  } else if (x.refused_addr) {
    rc = err_set(MIMIC_ENET, "%s resolves to a private or loopback address: refused", c.host);
  } else if (cc != CURLE_OK) {
    rc = err_set(MIMIC_ENET, "%s: %s", c.host, errbuf[0] ? errbuf : curl_easy_strerror(cc));
  } else if (status >= 300 && status < 400) {
    rc = err_set(MIMIC_EPROTO, "%s answered a redirect (HTTP %ld); mimic follows none", c.host,
                 status);
  } else if (status != 200) {
    rc = err_set(MIMIC_EPROTO, "%s answered HTTP %ld", c.host, status);
  }
  curl_easy_cleanup(e);
  if (rc) {
    buf_free(&x.body);
    out->content_type[0] = 0;
    return rc;
  }
  out->n = x.body.len;
  out->data = buf_steal(&x.body);
  if (!out->data) {
    out->data = mem_strdup("");
    if (!out->data) return err_set(MIMIC_ENOMEM, "out of memory");
  }
  return 0;
}

void discord_cdn_file_free(discord_cdn_file *f) {
  if (!f) return;
  mem_free(f->data);
  memset(f, 0, sizeof *f);
}
