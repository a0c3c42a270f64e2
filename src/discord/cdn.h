/* Downloads from Discord's CDN: the bytes of an attachment or an embed's image, for the bot's
 * vision path. A typed, blocking, single-file fetch over libcurl with the REST client's TLS
 * settings, meant for a worker thread (never the loop or the bot thread). It is not a general HTTP
 * client: it refuses every URL that is not on the allow-list, so a message cannot make mimic fetch
 * an address of the attacker's choosing (server-side request forgery).
 *
 * The rules (discord_cdn_url_check):
 * - https only, to cdn.discordapp.com or media.discordapp.net on the default port, or to a host
 *   the operator listed (vision.allowed_hosts; any port there). Plain http is accepted for one
 *   host only, "localhost", and only when it is listed (a local double or proxy).
 * - No IP literals (dotted, numeric, hex or IPv6), no user:password@, names compared exactly
 *   (case aside; no subdomains, no trailing dot).
 * - The connection itself may not reach a loopback, private, link-local or unspecified address
 *   unless the host is the listed "localhost", so a listed name that resolves inward is refused.
 * - Redirects are never followed (a 3xx is an error), the bot token is never sent, and the body
 *   is capped (the transfer stops at the cap, before it grows further). */
#ifndef MIMIC_DISCORD_CDN_H
#define MIMIC_DISCORD_CDN_H
#include <stdatomic.h>
#include <stddef.h>

#include "base/err.h"

#define DISCORD_CDN_HOSTS "cdn.discordapp.com,media.discordapp.net"

typedef struct discord_cdn_opts {
  const char *allowed_hosts; /* extra hosts, comma-separated; NULL or "": Discord's only */
  size_t max_bytes;          /* body cap; 0: 20 MiB */
  long timeout_ms;           /* whole transfer; 0: 20 s */
  const atomic_bool *cancel; /* when it turns true the transfer stops within about a second
                                (MIMIC_ECANCELLED), so a stopping bot is not held; NULL: never */
} discord_cdn_opts;

typedef struct discord_cdn_file {
  char *data; /* the body (mem_free; discord_cdn_file_free) */
  size_t n;
  char content_type[128]; /* the Content-Type header without parameters, lower case; "" if none */
} discord_cdn_file;

/* Whether url may be fetched under the rules above. Returns 0, or MIMIC_EINVAL with one sentence
 * naming the host (never the whole URL: signed URLs carry tokens in their query). */
int discord_cdn_url_check(const char *url, const char *allowed_hosts) MIMIC_MUST;

/* Fetches url into *out (zeroed first; caller frees with discord_cdn_file_free). Blocking: call it
 * from a worker thread. Errors, each one sentence naming the host:
 * MIMIC_EINVAL (the URL breaks a rule), MIMIC_ERANGE (body over max_bytes), MIMIC_ENET (transport,
 * TLS, timeout, or a refused address), MIMIC_EPROTO (an HTTP status other than 200, including
 * redirects), MIMIC_ECANCELLED (o->cancel turned true), MIMIC_ENOMEM. Thread-safe. */
int discord_cdn_fetch(const discord_cdn_opts *o, const char *url, discord_cdn_file *out) MIMIC_MUST;

void discord_cdn_file_free(discord_cdn_file *f);

#endif
