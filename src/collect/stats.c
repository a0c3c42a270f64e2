/* `stats`: what the store holds, for the owner: messages per person, channel and month, message
 * lengths, top words and emoji, reactions. Printed as text and written as one HTML page with inline
 * SVG bar charts (no scripts, no external files). Excluded and opted-out people are left out; bots
 * and webhooks, which the datasets leave out, are listed as such. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "collect/collect_int.h"

#define TOP_N     20
#define WORDS_MAX 200000 /* distinct words/emoji counted; later new ones are ignored */

#define NOT_FLAGGED " m.author_id NOT IN (SELECT user_id FROM user_flags WHERE flag IN (1, 2)) "

/* A message collect_filter drops as COLLECT_DROP_BOT: a bot account's or a webhook's. */
_Static_assert(STORE_MSG_WEBHOOK == 2, "the SQL below tests flags & 2");
#define BY_WEBHOOK " ((m.flags & 2) <> 0 OR coalesce(m.webhook_id, 0) <> 0) "
#define BY_BOT     " (u.bot <> 0 OR" BY_WEBHOOK ") "

typedef struct table {
  const char *title;
  size_t n;
  char label[TOP_N + 4][96];
  int64_t value[TOP_N + 4];
} table;

static int sql_table(store *s, table *t, const char *title, const char *sql) {
  memset(t, 0, sizeof *t);
  t->title = title;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return store_err(s, title);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && t->n < TOP_N + 4) {
    const char *l = (const char *)sqlite3_column_text(st, 0);
    str_lcpy(t->label[t->n], l && *l ? l : "(unknown)", sizeof t->label[0]);
    t->label[t->n][utf8_floor(t->label[t->n], strlen(t->label[t->n]), strlen(t->label[t->n]))] = 0;
    t->value[t->n++] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_err(s, title);
}

/* ---- word and emoji counts ----------------------------------------------------------------------
 */

typedef struct wcount {
  char *w;
  int64_t n;
} wcount;
typedef struct wmap {
  wcount *v;
  size_t cap, n;
} wmap;

static void wmap_add(wmap *m, const char *w, size_t n) {
  if (m->n * 2 >= m->cap) {
    if (m->n >= WORDS_MAX) goto lookup_only;
    size_t cap = m->cap ? m->cap * 2 : 4096;
    wcount *v = xcalloc(cap, sizeof *v);
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->v[i].w) continue;
      size_t k = hash_fnv64(m->v[i].w, strlen(m->v[i].w)) & (cap - 1);
      while (v[k].w) k = (k + 1) & (cap - 1);
      v[k] = m->v[i];
    }
    mem_free(m->v);
    m->v = v;
    m->cap = cap;
  }
lookup_only:;
  size_t k = hash_fnv64(w, n) & (m->cap - 1);
  while (m->v[k].w) {
    if (strncmp(m->v[k].w, w, n) == 0 && m->v[k].w[n] == 0) {
      m->v[k].n++;
      return;
    }
    k = (k + 1) & (m->cap - 1);
  }
  if (m->n * 2 >= m->cap) return; /* full: known words still count, new ones are dropped */
  m->v[k].w = mem_strndup(w, n);
  m->v[k].n = 1;
  m->n++;
}

static void wmap_free(wmap *m) {
  for (size_t i = 0; i < m->cap; i++) mem_free(m->v[i].w);
  mem_free(m->v);
}

static int cmp_wcount(const void *a, const void *b) {
  const wcount *x = a, *y = b;
  if (!x->w || !y->w) return !x->w - !y->w;
  if (x->n != y->n) return x->n < y->n ? 1 : -1;
  return strcmp(x->w, y->w);
}

static void wmap_top(wmap *m, table *t, const char *title) {
  memset(t, 0, sizeof *t);
  t->title = title;
  if (!m->cap) return;
  qsort(m->v, m->cap, sizeof *m->v, cmp_wcount);
  for (size_t i = 0; i < m->cap && t->n < TOP_N && m->v[i].w; i++) {
    str_lcpy(t->label[t->n], m->v[i].w, sizeof t->label[0]);
    t->label[t->n][utf8_floor(t->label[t->n], strlen(t->label[t->n]), strlen(t->label[t->n]))] = 0;
    t->value[t->n++] = m->v[i].n;
  }
}

static bool is_emoji(uint32_t cp) {
  return (cp >= 0x1F300 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x1F600 && cp <= 0x1F64F);
}

static const char *const stop[] = {"the",  "and",   "you",  "that", "for",  "was", "are",
                                   "but",  "not",   "with", "this", "have", "its", "just",
                                   "what", "can",   "all",  "they", "like", "get", "it's",
                                   "i'm",  "don't", "your", "about"};

typedef struct scan_ctx {
  store *s;
  wmap words, emoji;
  map_u64 flags;
} scan_ctx;

static int scan_msg(const store_msg *m, void *user) {
  scan_ctx *c = user;
  uintptr_t v = map_get_uint(&c->flags, m->author_id);
  uint32_t f = 0;
  if (!v) {
    if (store_user_flags(c->s, m->author_id, &f)) return MIMIC_EDB;
    map_put_uint(&c->flags, m->author_id, (uintptr_t)f + 1);
  } else {
    f = (uint32_t)(v - 1);
  }
  if (f & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) return 0;
  const char *p = m->content;
  size_t len = strlen(p);
  char word[64];
  size_t wn = 0;
  for (size_t i = 0; i <= len;) {
    uint32_t cp = 0;
    int n = i < len ? utf8_decode(p + i, len - i, &cp) : 1;
    if (n < 0) n = 1;
    bool letter = i < len && ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                              (cp >= '0' && cp <= '9') || cp == '\'' ||
                              (cp >= 0xC0 && !is_emoji(cp) && cp < 0x2000));
    if (letter && wn + (size_t)n < sizeof word) {
      for (int k = 0; k < n; k++)
        word[wn++] =
            (char)(cp < 128 && p[i + k] >= 'A' && p[i + k] <= 'Z' ? p[i + k] + 32 : p[i + k]);
    } else if (!letter) {
      if (wn >= 3) {
        bool sw = false;
        for (size_t k = 0; k < sizeof stop / sizeof stop[0] && !sw; k++)
          sw = strlen(stop[k]) == wn && memcmp(stop[k], word, wn) == 0;
        if (!sw && !(wn >= 4 && memcmp(word, "http", 4) == 0)) wmap_add(&c->words, word, wn);
      }
      wn = 0;
      if (i < len && is_emoji(cp)) wmap_add(&c->emoji, p + i, (size_t)n);
      /* custom emoji <:name:id> / <a:name:id> count as :name: */
      if (i < len && p[i] == '<' && (p[i + 1] == ':' || (p[i + 1] == 'a' && p[i + 2] == ':'))) {
        const char *nm = p + i + (p[i + 1] == ':' ? 2 : 3), *e = strchr(nm, ':');
        if (e && e - nm > 0 && e - nm < 60) {
          char buf2[64];
          int bl = snprintf(buf2, sizeof buf2, ":%.*s:", (int)(e - nm), nm);
          wmap_add(&c->emoji, buf2, (size_t)bl);
        }
      }
    }
    i += (size_t)n;
  }
  return 0;
}

/* ---- output -------------------------------------------------------------------------------------
 */

static void print_table(FILE *f, const table *t) {
  fprintf(f, "\n%s\n", t->title);
  int64_t max = 1;
  for (size_t i = 0; i < t->n; i++)
    if (t->value[i] > max) max = t->value[i];
  for (size_t i = 0; i < t->n; i++) {
    int bar = (int)(30 * t->value[i] / max);
    fprintf(f, "  %-32.32s %10lld  ", t->label[i], (long long)t->value[i]);
    for (int k = 0; k < bar; k++) fputc('#', f);
    fputc('\n', f);
  }
  if (!t->n) fprintf(f, "  (none)\n");
}

static void html_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void svg_table(FILE *f, const table *t) {
  int64_t max = 1;
  for (size_t i = 0; i < t->n; i++)
    if (t->value[i] > max) max = t->value[i];
  fputs("<h2>", f);
  html_escape(f, t->title);
  fputs("</h2>\n", f);
  int h = (int)t->n * 22 + 10;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"%d\" role=\"img\">\n",
          h);
  for (size_t i = 0; i < t->n; i++) {
    int y = (int)i * 22 + 4, w = (int)(420 * t->value[i] / max);
    fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"13\">", y + 14);
    html_escape(f, t->label[i]);
    fprintf(f,
            "</text><rect x=\"240\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"#5865f2\"/>"
            "<text x=\"%d\" y=\"%d\" font-size=\"12\">%lld</text>\n",
            y + 2, w > 0 ? w : 1, 246 + w, y + 14, (long long)t->value[i]);
  }
  fputs("</svg>\n", f);
}

int collect_stats(store *s, FILE *text, const char *html_path) {
  enum { T_USER, T_LEFT_OUT, T_CHANNEL, T_MONTH, T_LEN, T_REACT, T_REMOJI, T_WORDS, T_EMOJI, T_N };
  table *t = xcalloc(T_N, sizeof *t);
  scan_ctx sc = {.s = s};
  map_init(&sc.flags);
  int rc;
  if ((rc = sql_table(
           s, &t[T_USER], "Messages per person (top 20)",
           "SELECT CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.name END, count(*) "
           "FROM messages m JOIN users u ON u.id = m.author_id WHERE" NOT_FLAGGED
           "GROUP BY m.author_id ORDER BY 2 DESC LIMIT 20")) ||
      (rc = sql_table(
           s, &t[T_LEFT_OUT], "Left out of the datasets: bots and webhooks (top 20)",
           "SELECT CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.name END || CASE "
           "WHEN max(" BY_WEBHOOK ") THEN ' (webhook)' ELSE ' (bot)' END, count(*) "
           "FROM messages m JOIN users u ON u.id = m.author_id WHERE" NOT_FLAGGED "AND" BY_BOT
           "GROUP BY m.author_id ORDER BY 2 DESC LIMIT 20")) ||
      (rc = sql_table(s, &t[T_CHANNEL], "Messages per channel (top 20)",
                      "SELECT CASE WHEN c.name <> '' THEN '#' || c.name ELSE c.id END, count(*) "
                      "FROM messages m JOIN channels c ON c.id = m.channel_id WHERE" NOT_FLAGGED
                      "GROUP BY m.channel_id ORDER BY 2 DESC LIMIT 20")) ||
      (rc = sql_table(
           s, &t[T_MONTH], "Messages per month (latest 24)",
           "SELECT * FROM (SELECT strftime('%Y-%m', m.ts_ms / 1000, 'unixepoch') AS mo, count(*) "
           "FROM messages m WHERE" NOT_FLAGGED "GROUP BY mo ORDER BY mo DESC LIMIT 24) "
           "ORDER BY mo")) ||
      (rc = sql_table(
           s, &t[T_LEN], "Message length (characters)",
           "SELECT b, n FROM (SELECT CASE WHEN l = 0 THEN '0 (empty)' WHEN l < 10 THEN "
           "'1-9' WHEN l < 50 THEN '10-49' WHEN l < 100 THEN '50-99' WHEN l < 200 THEN "
           "'100-199' WHEN l < 500 THEN '200-499' ELSE '500+' END AS b, min(l) AS k, "
           "count(*) AS n FROM (SELECT length(m.content) AS l FROM messages m WHERE" NOT_FLAGGED
           ") GROUP BY b) ORDER BY k")) ||
      (rc = sql_table(s, &t[T_REACT], "Reactions per message",
                      "SELECT b, n FROM (SELECT CASE WHEN r = 0 THEN '0' WHEN r = 1 THEN '1' WHEN "
                      "r < 5 THEN '2-4' WHEN r < 10 THEN '5-9' ELSE '10+' END AS b, min(r) AS k, "
                      "count(*) AS n FROM (SELECT (SELECT coalesce(sum(count), 0) FROM reactions x "
                      "WHERE x.message_id = m.id) AS r FROM messages m WHERE" NOT_FLAGGED
                      ") GROUP BY b) ORDER BY k")) ||
      (rc = sql_table(
           s, &t[T_REMOJI], "Reaction emoji (top 20)",
           "SELECT CASE WHEN emoji_id IS NULL THEN emoji_name ELSE ':' || emoji_name || ':' "
           "END, sum(count) FROM reactions GROUP BY emoji ORDER BY 2 DESC LIMIT 20")))
    goto out;
  if ((rc = store_msg_each(s, NULL, scan_msg, &sc))) goto out;
  wmap_top(&sc.words, &t[T_WORDS], "Top words (3+ letters, common words skipped)");
  wmap_top(&sc.emoji, &t[T_EMOJI], "Top emoji in messages");
  if (text)
    for (int i = 0; i < T_N; i++) print_table(text, &t[i]);
  if (html_path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", html_path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
      rc = err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
      goto out;
    }
    fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mimic stats</title>"
          "<style>body{font-family:sans-serif;max-width:800px;margin:2em auto}</style></head>"
          "<body><h1>What mimic has learned from</h1>\n<p>Excluded and opted-out people are not "
          "counted. Messages by bots and webhooks are counted here but never enter a dataset: "
          "they are listed under <i>Left out of the datasets</i>.</p>\n",
          f);
    for (int i = 0; i < T_N; i++) svg_table(f, &t[i]);
    fputs("</body></html>\n", f);
    bool bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, html_path) != 0) {
      unlink(tmp);
      rc = err_set(MIMIC_EIO, "%s: cannot write: %s", html_path, strerror(errno));
    }
  }
out:
  wmap_free(&sc.words);
  wmap_free(&sc.emoji);
  map_free(&sc.flags);
  mem_free(t);
  return rc;
}
