/* Discord's own data package ("Request all of my Data"): Messages/c<id>/channel.json with
 * messages.json (or the legacy messages.csv), and account/user.json for the owner. A package holds
 * only the owner's own messages, so it can teach the bot one person's voice, not a server's. The
 * whole package is imported in one transaction. The layout is described in docs/collect.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/collect_int.h"

#define SMALL_JSON_MAX (16u << 20) /* channel.json, user.json, index.json */

typedef struct pkg {
  collect_ctx *c;
  uint64_t owner;
  json_t *index; /* Messages/index.json: channel id -> "general in Server" (may be NULL) */
} pkg;

static bool is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads a small JSON file whole (capped) and parses it. NULL with the error set. */
static json_t *load_small(const char *path) {
  char *data = NULL;
  size_t n = 0;
  if (fs_read_file(path, SMALL_JSON_MAX, &data, &n)) return NULL;
  json_t *v = jv_parse(data, n, path);
  mem_free(data);
  return v;
}

static int find_owner(pkg *p, const char *root) {
  const char *cands[] = {"account/user.json", "Account/user.json", "../../account/user.json",
                         "../../Account/user.json"};
  char path[4096];
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", root, cands[i]);
    if (!is_file(path)) continue;
    json_t *u = load_small(path);
    if (!u) return MIMIC_EFORMAT;
    store_user su = {0};
    su.id = jv_snowflake(u, "id");
    str_lcpy(su.name, jv_str(u, "username", ""), sizeof su.name);
    str_lcpy(su.display_name, jv_str(u, "global_name", ""), sizeof su.display_name);
    su.name[utf8_floor(su.name, strlen(su.name), strlen(su.name))] = 0;
    su.display_name[utf8_floor(su.display_name, strlen(su.display_name), strlen(su.display_name))] =
        0;
    json_decref(u);
    if (!su.id || su.id > (uint64_t)INT64_MAX)
      return err_set(MIMIC_EFORMAT, "%s: no valid \"id\"", path);
    p->owner = su.id;
    uint32_t flags;
    return collect__user(p->c, &su, &flags);
  }
  if (p->c->o->package_author_id) {
    p->owner = p->c->o->package_author_id;
    store_user su = {.id = p->owner};
    uint32_t flags;
    return collect__user(p->c, &su, &flags);
  }
  return err_set(MIMIC_EINVAL,
                 "%s: account/user.json not found, so the messages' author is "
                 "unknown; pass --author YOUR_USER_ID",
                 root);
}

static void attachments_from(const char *urls, store_attachment *out, size_t *n, size_t cap,
                             buf *names) {
  /* names holds NUL-separated filenames; offsets are fixed up after all appends. */
  size_t offs[64];
  const char *p = urls;
  *n = 0;
  buf_reset(names);
  while (*p && *n < cap && *n < 64) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *q = memchr(p, '?', len);
    size_t plen = q ? (size_t)(q - p) : len;
    const char *slash = p;
    for (size_t i = 0; i < plen; i++)
      if (p[i] == '/') slash = p + i + 1;
    /* .../attachments/<channel>/<attachment id>/<file name> */
    uint64_t id = 0;
    if (slash > p + 1) {
      const char *s2 = slash - 1, *s1 = s2;
      while (s1 > p && s1[-1] != '/') s1--;
      char num[24];
      size_t nl = (size_t)(s2 - s1);
      if (nl > 0 && nl < sizeof num) {
        memcpy(num, s1, nl);
        num[nl] = 0;
        if (str_to_u64(num, &id) || id > (uint64_t)INT64_MAX) id = 0;
        err_clear();
      }
    }
    offs[*n] = names->len;
    if (buf_append(names, slash, (size_t)(p + plen - slash)) || buf_putc(names, 0) ||
        buf_append(names, p, len) || buf_putc(names, 0))
      break;
    out[*n] = (store_attachment){.id = id, .size = -1, .content_type = ""};
    (*n)++;
    p += len;
  }
  for (size_t i = 0; i < *n; i++) {
    out[i].filename = names->data + offs[i];
    out[i].url = out[i].filename + strlen(out[i].filename) + 1;
  }
}

static int store_one(pkg *p, uint64_t channel_id, uint64_t guild_id, uint64_t id, const char *ts,
                     const char *content, const char *atts, buf *names) {
  collect_ctx *c = p->c;
  c->st->messages++;
  if (!id || id > (uint64_t)INT64_MAX) {
    c->st->skipped_invalid++;
    return 0;
  }
  uint32_t flags;
  int rc = collect__user_flags(c, p->owner, &flags);
  if (rc) return rc;
  if (flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) {
    c->st->skipped_privacy++;
    return 0;
  }
  store_attachment a[64];
  size_t na = 0;
  if (atts && *atts) attachments_from(atts, a, &na, 64, names);
  store_msg m = {0};
  m.id = id;
  m.channel_id = channel_id;
  m.guild_id = guild_id;
  m.author_id = p->owner;
  m.source = STORE_SRC_PACKAGE;
  m.content = content ? content : "";
  m.ts_ms = collect_snowflake_ms(id);
  int64_t ms;
  if (ts && *ts && clock_parse_iso8601(ts, &ms) == 0) m.ts_ms = ms;
  err_clear();
  m.attachments = a;
  m.n_attachments = na;
  m.has = STORE_HAS_ATTACHMENTS;
  bool ins = false;
  if ((rc = collect__msg_upsert(c, &m, &ins))) return rc;
  if (ins) c->st->inserted++;
  collect__progress(c, false);
  return 0;
}

/* messages.json: a top-level array, streamed like a DCE export. */
static int import_json(pkg *p, const char *path, uint64_t ch, uint64_t guild) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  jscan j;
  int rc = jscan_init_fd(&j, fd, path), err;
  buf elem, names;
  buf_init(&elem, COLLECT_ELEM_MAX);
  buf_init(&names, 1 << 20);
  json_t *v = NULL;
  if (rc) goto out;
  if ((rc = jscan_expect(&j, '[', "at the start of messages.json"))) goto out;
  for (int64_t no = 1;; no++) {
    int c = jscan_peek(&j, &err);
    if ((rc = err)) goto out;
    if (c == ']') {
      jscan_advance(&j);
      break;
    }
    if (no > 1 && (rc = jscan_expect(&j, ',', "between messages"))) goto out;
    uint64_t off, line;
    if ((rc = jscan_value(&j, &elem, &off, &line))) goto out;
    char what[48];
    snprintf(what, sizeof what, "message %lld", (long long)no);
    json_decref(v);
    if (!(v = jscan_parse(&j, &elem, off, line, what))) {
      rc = MIMIC_EFORMAT;
      goto out;
    }
    if (!json_is_object(v)) {
      rc = jscan_error(&j, MIMIC_EFORMAT, off, line, "%s is not a JSON object", what);
      goto out;
    }
    if ((rc = store_one(p, ch, guild, jv_snowflake(v, "ID"), jv_str(v, "Timestamp", ""),
                        jv_str(v, "Contents", ""), jv_str(v, "Attachments", ""), &names))) {
      rc = jscan_error(&j, rc, off, line, "%s: %s", what, err_msg());
      goto out;
    }
  }
  int c = jscan_peek(&j, &err);
  if ((rc = err)) goto out;
  if (c >= 0)
    rc =
        jscan_error(&j, MIMIC_EFORMAT, jscan_offset(&j), j.line, "unexpected data after the array");
out:
  if (!rc) p->c->st->bytes += jscan_offset(&j);
  json_decref(v);
  buf_free(&elem);
  buf_free(&names);
  jscan_free(&j);
  close(fd);
  return rc;
}

/* messages.csv (legacy): RFC 4180 records, header ID,Timestamp,Contents,Attachments. */
typedef struct csv {
  FILE *f;
  const char *path;
  uint64_t line, off;
  buf rec;          /* fields, NUL-separated */
  size_t starts[8]; /* field offsets in rec */
  int n;            /* fields in the record */
} csv;

/* Reads one record. Returns 1 with a record, 0 at end of file, negative on error. */
static int csv_next(csv *c) {
  buf_reset(&c->rec);
  c->n = 0;
  int ch = getc(c->f);
  if (ch == EOF) return 0;
  uint64_t start_line = c->line;
  bool quoted = false, field_start = true;
  c->starts[c->n++] = 0;
  for (;; ch = getc(c->f)) {
    if (ch == EOF) {
      if (quoted)
        return err_set(MIMIC_EFORMAT,
                       "%s: line %llu: end of file inside a quoted field that "
                       "starts on line %llu (the file looks truncated)",
                       c->path, (unsigned long long)c->line, (unsigned long long)start_line);
      break;
    }
    c->off++;
    if (ch == '\n') c->line++;
    if (quoted) {
      if (ch == '"') {
        int nx = getc(c->f);
        if (nx == '"') {
          c->off++;
          if (buf_putc(&c->rec, '"')) goto range;
          continue;
        }
        if (nx != EOF) ungetc(nx, c->f);
        quoted = false;
        continue;
      }
      if (buf_putc(&c->rec, (char)ch)) goto range;
      continue;
    }
    if (ch == '"' && field_start) {
      quoted = true;
      field_start = false;
      continue;
    }
    field_start = false;
    if (ch == ',') {
      if (buf_putc(&c->rec, 0)) goto range;
      if (c->n < 8) c->starts[c->n++] = c->rec.len;
      field_start = true;
      continue;
    }
    if (ch == '\r') continue;
    if (ch == '\n') break;
    if (buf_putc(&c->rec, (char)ch)) goto range;
  }
  return buf_putc(&c->rec, 0) ? err_set(MIMIC_ERANGE, "%s: record too long", c->path) : 1;
range:
  return err_set(MIMIC_ERANGE, "%s: line %llu: a record longer than %u bytes", c->path,
                 (unsigned long long)start_line, COLLECT_CSV_RECORD_MAX);
}

static const char *csv_field(const csv *c, int i) {
  return i >= 0 && i < c->n ? c->rec.data + c->starts[i] : "";
}

static int import_csv(pkg *p, const char *path, uint64_t ch, uint64_t guild) {
  csv c = {.path = path, .line = 1};
  c.f = fopen(path, "rb");
  if (!c.f) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  buf_init(&c.rec, COLLECT_CSV_RECORD_MAX);
  buf names;
  buf_init(&names, 1 << 20);
  int rc = csv_next(&c), col_id = -1, col_ts = -1, col_content = -1, col_att = -1;
  if (rc <= 0) {
    if (rc == 0)
      rc = err_set(MIMIC_EFORMAT,
                   "%s: empty file (expected the header "
                   "ID,Timestamp,Contents,Attachments)",
                   path);
    goto out;
  }
  for (int i = 0; i < c.n; i++) {
    const char *h = csv_field(&c, i);
    if (i == 0 && (unsigned char)h[0] == 0xEF) h += 3; /* BOM */
    if (str_ieq(h, "ID"))
      col_id = i;
    else if (str_ieq(h, "Timestamp"))
      col_ts = i;
    else if (str_ieq(h, "Contents"))
      col_content = i;
    else if (str_ieq(h, "Attachments"))
      col_att = i;
  }
  if (col_id < 0 || col_content < 0) {
    rc = err_set(MIMIC_EFORMAT,
                 "%s: line 1: header lacks ID or Contents (expected "
                 "ID,Timestamp,Contents,Attachments)",
                 path);
    goto out;
  }
  for (;;) {
    uint64_t line = c.line;
    if ((rc = csv_next(&c)) <= 0) break;
    if (c.n == 1 && !*csv_field(&c, 0)) continue; /* blank line */
    uint64_t id = 0;
    if (str_to_u64(csv_field(&c, col_id), &id)) {
      rc = err_set(MIMIC_EFORMAT, "%s: line %llu: ID '%.30s' is not a message id", path,
                   (unsigned long long)line, csv_field(&c, col_id));
      goto out;
    }
    const char *content = csv_field(&c, col_content);
    if (!utf8_valid(content, strlen(content))) {
      rc = err_set(MIMIC_EFORMAT, "%s: line %llu: Contents is not valid UTF-8", path,
                   (unsigned long long)line);
      goto out;
    }
    if ((rc = store_one(p, ch, guild, id, csv_field(&c, col_ts), content, csv_field(&c, col_att),
                        &names))) {
      rc = err_prefix(rc, "%s: line %llu", path, (unsigned long long)line);
      goto out;
    }
  }
  if (rc == 0) p->c->st->bytes += c.off;
out:
  fclose(c.f);
  buf_free(&c.rec);
  buf_free(&names);
  return rc < 0 ? rc : 0;
}

static int import_folder(pkg *p, const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/channel.json", dir);
  json_t *cj = load_small(path);
  if (!cj) return MIMIC_EFORMAT;
  int rc = 0;
  store_channel ch = {0};
  ch.id = jv_snowflake(cj, "id");
  if (!ch.id || ch.id > (uint64_t)INT64_MAX) {
    rc = err_set(MIMIC_EFORMAT, "%s: no valid \"id\"", path);
    goto out;
  }
  const json_t *type = json_object_get(cj, "type");
  int t = json_is_integer(type) ? (int)json_integer_value(type)
                                : collect_channel_type_from_name(jv_str(cj, "type", ""));
  ch.type = t < 0 ? STORE_CH_GUILD_TEXT : t;
  const json_t *g = json_object_get(cj, "guild");
  if (json_is_object(g)) {
    store_guild sg = {0};
    sg.id = jv_snowflake(g, "id");
    str_lcpy(sg.name, jv_str(g, "name", ""), sizeof sg.name);
    sg.name[utf8_floor(sg.name, strlen(sg.name), strlen(sg.name))] = 0;
    if (sg.id && sg.id <= (uint64_t)INT64_MAX) {
      if ((rc = store_guild_upsert(p->c->s, &sg))) goto out;
      ch.guild_id = sg.id;
    }
  }
  const char *name = jv_str(cj, "name", "");
  char idstr[24];
  snprintf(idstr, sizeof idstr, "%llu", (unsigned long long)ch.id);
  if (!*name && p->index) name = jv_str(p->index, idstr, "");
  str_lcpy(ch.name, name, sizeof ch.name);
  ch.name[utf8_floor(ch.name, strlen(ch.name), strlen(ch.name))] = 0;
  if ((rc = store_channel_upsert(p->c->s, &ch))) goto out;
  snprintf(path, sizeof path, "%s/messages.json", dir);
  if (is_file(path)) {
    rc = import_json(p, path, ch.id, ch.guild_id);
  } else {
    snprintf(path, sizeof path, "%s/messages.csv", dir);
    if (is_file(path))
      rc = import_csv(p, path, ch.id, ch.guild_id);
    else
      rc = err_set(MIMIC_ENOTFOUND, "%s: neither messages.json nor messages.csv", dir);
  }
  if (!rc) rc = store_import_log(p->c->s, dir, "package", 0, 0, 0);
out:
  json_decref(cj);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int collect_import_package(store *s, const char *dir, const collect_import_opts *o,
                           collect_import_stats *stats) {
  collect_import_stats local;
  if (!stats) stats = &local;
  collect_ctx c;
  collect__ctx_init(&c, s, o, stats);
  pkg p = {.c = &c};
  char path[4096], msgdir[4096] = "";
  char **folders = NULL;
  size_t nf = 0, capf = 0;
  DIR *d = NULL;
  int rc = store_tx_begin(s);
  if (rc) goto done;
  snprintf(path, sizeof path, "%s/channel.json", dir);
  bool single = is_file(path);
  if ((rc = find_owner(&p, dir))) goto out;
  if (single) {
    folders = xcalloc(1, sizeof *folders);
    folders[nf++] = xstrdup(dir);
  } else {
    snprintf(msgdir, sizeof msgdir, "%s/Messages", dir);
    if (!is_dir(msgdir)) snprintf(msgdir, sizeof msgdir, "%s/messages", dir);
    if (!is_dir(msgdir)) {
      rc = err_set(MIMIC_EFORMAT,
                   "%s: no Messages/ folder: not a Discord data package (or pass "
                   "one Messages/c<id> folder)",
                   dir);
      goto out;
    }
    snprintf(path, sizeof path, "%s/index.json", msgdir);
    if (is_file(path) && !(p.index = load_small(path))) {
      rc = MIMIC_EFORMAT;
      goto out;
    }
    if (!(d = opendir(msgdir))) {
      rc = err_set(MIMIC_EIO, "%s: cannot list: %s", msgdir, strerror(errno));
      goto out;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s/channel.json", msgdir, e->d_name);
      if (!is_file(path)) continue;
      if (nf == capf) {
        capf = capf ? capf * 2 : 64;
        folders = xrealloc(folders, capf * sizeof *folders);
      }
      snprintf(path, sizeof path, "%s/%s", msgdir, e->d_name);
      folders[nf++] = xstrdup(path);
    }
    qsort(folders, nf, sizeof *folders, cmp_str);
  }
  for (size_t i = 0; i < nf && !rc; i++) rc = import_folder(&p, folders[i]);
out:
  if (rc) {
    store_tx_rollback(s);
    stats->inserted = 0;
  } else {
    rc = store_tx_commit(s);
    if (rc) stats->inserted = 0;
  }
  collect__progress(&c, true);
done:
  if (d) closedir(d);
  for (size_t i = 0; i < nf; i++) mem_free(folders[i]);
  mem_free(folders);
  json_decref(p.index);
  collect__ctx_free(&c);
  return rc;
}

collect_path_kind collect_import_detect(const char *path) {
  if (!is_dir(path)) return is_file(path) ? COLLECT_PATH_DCE_FILE : COLLECT_PATH_NONE;
  static const char *const files[] = {"channel.json", "account/user.json", "Account/user.json"};
  static const char *const dirs[] = {"Messages", "messages"};
  char p[4096];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", path, files[i]);
    if (is_file(p)) return COLLECT_PATH_PACKAGE;
  }
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", path, dirs[i]);
    if (is_dir(p)) return COLLECT_PATH_PACKAGE;
  }
  char **names = NULL;
  size_t n = 0;
  if (collect_import_list_json(path, &names, &n)) {
    err_clear();
    return COLLECT_PATH_NONE;
  }
  for (size_t i = 0; i < n; i++) mem_free(names[i]);
  mem_free(names);
  return n ? COLLECT_PATH_DCE_DIR : COLLECT_PATH_NONE;
}

int collect_import_list_json(const char *dir, char ***files, size_t *n) {
  *files = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return err_set(MIMIC_EIO, "%s: cannot list: %s", dir, strerror(errno));
  size_t cap = 0;
  char path[4096];
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !str_ends_with(e->d_name, ".json")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (!is_file(path)) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      *files = xrealloc(*files, cap * sizeof **files);
    }
    (*files)[(*n)++] = xstrdup(path);
  }
  closedir(d);
  if (*n) qsort(*files, *n, sizeof **files, cmp_str);
  return 0;
}

int collect_import_path(store *s, const char *path, const collect_import_opts *o,
                        collect_import_stats *stats) {
  switch (collect_import_detect(path)) {
  case COLLECT_PATH_PACKAGE: return collect_import_package(s, path, o, stats);
  case COLLECT_PATH_DCE_FILE: return collect_import_dce(s, path, o, stats);
  case COLLECT_PATH_NONE:
    if (!is_dir(path)) return collect_import_dce(s, path, o, stats); /* names the missing file */
    return err_set(MIMIC_EFORMAT,
                   "%s: neither a Discord data package (Messages/, account/user.json) nor a folder "
                   "of DiscordChatExporter .json exports",
                   path);
  case COLLECT_PATH_DCE_DIR: break;
  }
  collect_import_stats sum = {0}, one;
  char **files = NULL;
  size_t n = 0;
  int rc = collect_import_list_json(path, &files, &n);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = collect_import_dce(s, files[i], o, &one);
    sum.messages += one.messages;
    sum.inserted += one.inserted;
    sum.skipped_privacy += one.skipped_privacy;
    sum.skipped_invalid += one.skipped_invalid;
    sum.bytes += one.bytes;
    sum.total_bytes += one.total_bytes;
    sum.seconds += one.seconds;
  }
  for (size_t i = 0; i < n; i++) mem_free(files[i]);
  mem_free(files);
  if (stats) *stats = sum;
  return rc;
}
