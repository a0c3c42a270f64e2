/* Helpers for the history fetcher's tests: the REST double's test-only endpoints (what it holds,
 * adding messages), a REST client and a store on a temporary file, and the exact comparison of the
 * store with the double. Header-only (static functions) so each test stays one executable. */
#ifndef MIMIC_TEST_FETCH_HELPERS_H
#define MIMIC_TEST_FETCH_HELPERS_H
#include <curl/curl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "discord/rest.h"
#include "discord/rest_double.h"
#include "store/store.h"

__attribute__((unused)) static size_t fh_write(char *p, size_t sz, size_t n, void *user) {
  if (buf_append(user, p, sz * n)) return 0;
  return sz * n;
}

/* GET (body NULL) or POST a test endpoint of the double; returns the parsed answer or NULL. */
__attribute__((unused)) static json_t *fh_double(const rest_double *d, const char *path, const char *body) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
  CURL *c = curl_easy_init();
  if (!c) return NULL;
  buf b;
  buf_init(&b, 256u << 20);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  json_t *j = rc == CURLE_OK && b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  buf_free(&b);
  return j;
}

/* Adds n messages to a channel of the double. */
__attribute__((unused)) static int fh_add(const rest_double *d, uint64_t channel, int n) {
  char body[96];
  snprintf(body, sizeof body, "{\"channel_id\": \"%llu\", \"n\": %d}", (unsigned long long)channel,
           n);
  json_t *j = fh_double(d, "/_double/add", body);
  int got = (int)json_array_size(json_object_get(j, "ids"));
  json_decref(j);
  return got == n ? 0 : -1;
}

__attribute__((unused)) static rest *fh_rest(const rest_double *d, const char *token) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d->base;
  o.token = token;
  o.backoff_ms = 20;
  rest *r = NULL;
  return rest_new(NULL, &o, &r) == 0 ? r : NULL;
}

/* A fresh database file; path receives its name (unlink it and its -wal/-shm when done). */
__attribute__((unused)) static store *fh_store(char path[64]) {
  snprintf(path, 64, "/tmp/mimic_fetch_XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  close(fd);
  unlink(path);
  store *s = NULL;
  return store_open(path, &s) == 0 ? s : NULL;
}

__attribute__((unused)) static void fh_store_remove(const char *path) {
  char p[80];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

/* Messages the store holds for a channel, ids ascending, as a JSON array of id strings. */
__attribute__((unused)) static json_t *fh_stored_ids(store *s, uint64_t channel) {
  json_t *arr = json_array();
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(store_db(s), "SELECT id FROM messages WHERE channel_id = ?1 ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return arr;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)channel);
  while (sqlite3_step(st) == SQLITE_ROW) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(st, 0));
    json_array_append_new(arr, json_string(id));
  }
  sqlite3_finalize(st);
  return arr;
}

__attribute__((unused)) static int64_t fh_stored_total(store *s) {
  int64_t n = -1;
  if (store_msg_count(s, 0, &n)) return -1;
  return n;
}

/* Compares the store with the double for the channels in `skip`-less dump: every channel of the
 * double not listed in `unreadable` must be stored exactly (same ids, nothing more, nothing less).
 * Returns the number of channels that differ (printing the first difference of each) and adds the
 * number of messages expected to *expected. */
__attribute__((unused)) static int fh_compare(store *s, const rest_double *d, const uint64_t *unreadable, size_t n_unread,
                      int64_t *expected) {
  json_t *dump = fh_double(d, "/_double/dump", NULL);
  if (!dump) return 1;
  int bad = 0;
  const char *key;
  json_t *ids;
  json_object_foreach(dump, key, ids) {
    uint64_t ch = 0;
    if (str_to_u64(key, &ch)) continue;
    bool skip = false;
    for (size_t i = 0; i < n_unread; i++) skip |= unreadable[i] == ch;
    json_t *have = fh_stored_ids(s, ch);
    if (skip) {
      if (json_array_size(have)) {
        printf("  channel %s is unreadable but has %zu stored messages\n", key, json_array_size(have));
        bad++;
      }
    } else {
      *expected += (int64_t)json_array_size(ids);
      if (!json_equal(have, ids)) {
        printf("  channel %s: %zu stored, %zu in the double\n", key, json_array_size(have),
               json_array_size(ids));
        bad++;
      }
    }
    json_decref(have);
  }
  json_decref(dump);
  return bad;
}

#endif
