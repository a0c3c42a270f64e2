/* `mimic lore add|list|remove|search` (lore books in the store, docs/lore.md) and
 * `mimic embed-history` (community messages embedded for recall, resumable, with progress). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "cli/flags.h"
#include "collect/card.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/store.h"

/* ---- shared ---- */

/* The encoder named by --model / embed.model, or NULL (full text only, said once on stderr). */
static lore_embedder *open_encoder(const char *path, int threads, bool *failed) {
  *failed = false;
  if (!path || !*path) {
    fprintf(stderr, "mimic: no sentence encoder (embed.model): lore works on full text alone\n");
    return NULL;
  }
  lore_embedder *e = xcalloc(1, sizeof *e);
  if (lore_embedder_open(path, threads, e)) {
    cli_error("%s", err_msg());
    mem_free(e);
    *failed = true;
    return NULL;
  }
  return e;
}

/* Progress on stderr: a bar redrawn in place on a terminal, else one line per step (so a pipe
 * reads each batch as it commits). */
typedef struct progress {
  bool tty;
  const char *what;
  int64_t last_pct;
} progress;

static void show(void *user, int64_t done, int64_t total, const char *label) {
  progress *p = user;
  if (!p->tty) {
    fprintf(stderr, "%s: %lld/%lld %s\n", p->what, (long long)done, (long long)total, label);
    fflush(stderr);
    return;
  }
  int64_t pct = total > 0 ? done * 100 / total : 100;
  if (pct == p->last_pct && done != total) return;
  p->last_pct = pct;
  int w = 30, fill = (int)(pct * w / 100);
  char bar[32];
  for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
  bar[w] = 0;
  fprintf(stderr, "\r%s [%s] %3lld%% %lld/%lld %-20.20s", p->what, bar, (long long)pct,
          (long long)done, (long long)total, label);
  if (done >= total) fputc('\n', stderr);
  fflush(stderr);
}

static void skipped(void *user, const char *path, const char *why) {
  (void)user;
  fprintf(stderr, "skipped %s: %s\n", path, why);
}

/* ---- lore add ---- */

static bool is_png(const char *path) {
  size_t n = strlen(path);
  return n > 4 && str_ieq(path + n - 4, ".png");
}

/* A PNG character card named directly: its character_book (SillyTavern's `chara`/`ccv3` chunks,
 * read by collect/card.h) is added as a World Info book under the card's full path, counted in r
 * like a file (added, replaced or unchanged). The vectors come with the run's other passages. */
static int add_png_card(store *s, const char *path, const char *scope, lore_add_result *r) {
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, CARD_FILE_MAX, &data, &n);
  if (rc) return err_prefix(rc, "%s", path);
  store_persona p;
  memset(&p, 0, sizeof p);
  rc = card_parse_png(data, n, &p, NULL);
  mem_free(data);
  if (rc) return err_prefix(rc, "%s", path);
  char *real = realpath(path, NULL);
  const char *name = real ? real : path;
  store_lore_source *src = xalloc(sizeof *src);
  bool had = false;
  char old_hash[STORE_LORE_HASH_MAX + 1] = "";
  if (!p.character_book || !*p.character_book) {
    rc = err_set(MIMIC_ENOTFOUND, "%s: the card has no character_book, so no lore to add", path);
    goto out;
  }
  rc = store_lore_source_find(s, name, scope, src);
  had = rc == 0;
  if (had) str_lcpy(old_hash, src->hash, sizeof old_hash);
  if (rc == MIMIC_ENOTFOUND) rc = 0, err_clear();
  if (!rc)
    rc = lore_add_book_json(s, name, p.character_book, strlen(p.character_book), scope, NULL, NULL);
  if (!rc) rc = store_lore_source_find(s, name, scope, src);
  if (rc) {
    rc = err_prefix(rc, "%s", path);
    goto out;
  }
  if (!had)
    r->added++;
  else if (strcmp(old_hash, src->hash) != 0)
    r->replaced++;
  else
    r->unchanged++;
  if (!had || strcmp(old_hash, src->hash) != 0) r->chunks += src->n_chunks;
out:
  mem_free(src);
  free(real); /* realpath's malloc */
  store_persona_free(&p);
  return rc;
}

static int lore_add(int argc, char **argv) {
  const char *scope = "", *model = "";
  int threads = 0;
  bool no_embed = false;
  const cli_opt opts[] = {
      {.name = "scope",
       .type = CLI_STR,
       .dest = &scope,
       .meta = "NAME",
       .help = "the lore book's scope (a persona, a world; default: the global scope)"},
      {.name = "model",
       .type = CLI_PATH,
       .dest = &model,
       .meta = "ENC.gguf",
       .help = "sentence encoder for the chunks' vectors",
       .key = CLI_KEY(CFG_EMBED_MODEL)},
      {.name = "no-embed", .type = CLI_BOOL, .dest = &no_embed, .help = "store text only"},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "lore add",
      .args = "FILE|DIR...",
      .min_args = 1,
      .max_args = -1,
      .summary = "Adds lore: Markdown (.md), plain text (.txt), JSON lines of {\"title\",\"text\"} "
                 "(.jsonl),\nSillyTavern World Info / lorebooks and character cards (.json, or a "
                 ".png card named\ndirectly: its character_book). A folder adds every such file "
                 "in it but .png. Unchanged\nfiles change nothing; a changed file replaces its "
                 "passages at once.",
      .example = "lore add worldbook.json notes/ --scope middle-earth",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  bool failed = false;
  lore_embedder *e = s && !no_embed ? open_encoder(model, threads, &failed) : NULL;
  if (!s || failed) goto out;
  progress p = {.tty = isatty(2), .what = "lore", .last_pct = -1};
  lore_add_opts o = {
      .scope = scope, .emb = e, .progress = show, .progress_user = &p, .skip = skipped};
  lore_add_result r = {0};
  for (int i = 0; i < a.n_pos; i++) {
    int rc = is_png(a.pos[i]) ? add_png_card(s, a.pos[i], scope, &r)
                              : lore_add_path(s, a.pos[i], &o, &r);
    if (!rc && is_png(a.pos[i]) && e) {
      int64_t n = 0;
      rc = lore_embed_missing(s, e, show, &p, &n);
      r.embedded += n;
    }
    if (rc) {
      cli_error("%s", err_msg());
      goto out;
    }
  }
  printf("lore: %d added, %d replaced, %d unchanged; %lld passages written, %lld embedded%s\n",
         r.added, r.replaced, r.unchanged, (long long)r.chunks, (long long)r.embedded,
         e ? "" : " (no encoder: full text only)");
  status = 0;
out:
  lore_embedder_destroy(e);
  store_close(s);
  cfg_destroy(c);
  return status;
}

/* ---- lore list ---- */

static int list_one(const store_lore_source *src, void *user) {
  (*(int *)user)++;
  char when[32];
  clock_iso8601(src->added_ms, when);
  printf("%-6lld %-12s %-8s %5lld passages  %s  %s\n", (long long)src->id,
         src->scope[0] ? src->scope : "(global)", src->format, (long long)src->n_chunks, when,
         src->path);
  return 0;
}

static int lore_list(int argc, char **argv) {
  static const cli_spec spec = {.name = "lore list",
                                .summary = "Lists the lore sources: id, scope, format, passages, "
                                           "when added, file.",
                                .example = "lore list",
                                .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  int n = 0;
  if (s && store_lore_source_each(s, list_one, &n))
    cli_error("%s", err_msg());
  else if (s) {
    if (n == 0) printf("no lore yet: mimic lore add FILE|DIR\n");
    status = 0;
  }
  store_close(s);
  cfg_destroy(c);
  return status;
}

/* ---- lore remove ---- */

typedef struct by_path {
  const char *path, *real, *scope;
  bool scope_given;
  int64_t ids[256];
  int n;
} by_path;

static int match_source(const store_lore_source *src, void *user) {
  by_path *b = user;
  bool same = strcmp(src->path, b->path) == 0 || (b->real && strcmp(src->path, b->real) == 0);
  if (same && (!b->scope_given || strcmp(src->scope, b->scope) == 0) && b->n < 256)
    b->ids[b->n++] = src->id;
  return 0;
}

static int lore_remove(int argc, char **argv) {
  const char *source = NULL, *scope = "";
  const cli_opt opts[] = {{.name = "source",
                           .type = CLI_PATH,
                           .dest = &source,
                           .meta = "FILE",
                           .help = "remove the lore added from this file"},
                          {.name = "scope",
                           .type = CLI_STR,
                           .dest = &scope,
                           .meta = "NAME",
                           .help = "with --source: only in this scope"},
                          {0}};
  const cli_spec spec = {
      .name = "lore remove",
      .args = "[ID]",
      .min_args = 0,
      .max_args = 1,
      .summary = "Removes a lore source (by its id from mimic lore list, or by --source FILE) "
                 "with its passages\nand their vectors.",
      .example = "lore remove 3\n  mimic lore remove --source notes/ships.md",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  int64_t id = 0;
  if ((a.n_pos == 1) == (source != NULL)) {
    cfg_destroy(c);
    return cli_usage_error(&spec, "give a source id or --source FILE (one of them)");
  }
  if (a.n_pos == 1 && (str_to_i64(a.pos[0], &id) || id <= 0)) {
    cfg_destroy(c);
    return cli_usage_error(&spec, "'%s' is not a lore source id (see mimic lore list)", a.pos[0]);
  }
  status = 1;
  store *s = cli_store_open(c);
  if (!s) goto out;
  if (id) {
    if (store_lore_source_delete(s, id)) {
      cli_error("%s", err_msg());
      goto out;
    }
    printf("lore source %lld removed\n", (long long)id);
  } else {
    by_path b = {.path = source, .scope = scope, .scope_given = cli_given(&spec, &a, "scope")};
    char *real = realpath(source, NULL);
    b.real = real;
    int rc = store_lore_source_each(s, match_source, &b);
    free(real); /* realpath's malloc */
    if (rc) {
      cli_error("%s", err_msg());
      goto out;
    }
    if (b.n == 0) {
      cli_error("no lore was added from %s (see mimic lore list)", source);
      goto out;
    }
    for (int i = 0; i < b.n; i++)
      if (store_lore_source_delete(s, b.ids[i])) {
        cli_error("%s", err_msg());
        goto out;
      }
    printf("%d lore source%s removed (%s)\n", b.n, b.n == 1 ? "" : "s", source);
  }
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}

/* ---- lore search ---- */

typedef struct scopes {
  const char *v[STORE_LORE_SCOPES];
  size_t n;
} scopes;

static int add_scope(const char *value, void *user) {
  scopes *s = user;
  if (s->n == STORE_LORE_SCOPES) {
    cli_error("at most %d --scope options", STORE_LORE_SCOPES);
    return 2;
  }
  s->v[s->n++] = value;
  return 0;
}

static int lore_search_cmd(int argc, char **argv) {
  int k = 10, threads = 0, rrf = 60;
  double min = 0.5;
  bool json = false;
  const char *model = "";
  scopes sc = {0};
  const cli_opt opts[] = {
      {.name = "k",
       .type = CLI_INT,
       .dest = &k,
       .meta = "N",
       .help = "results",
       .key = CLI_KEY(CFG_LORE_TOP_K)},
      {.name = "scope",
       .type = CLI_STR,
       .meta = "NAME",
       .help = "search only this scope (repeatable; default: every scope)",
       .repeat = true,
       .each = add_scope,
       .user = &sc},
      {.name = "min-score",
       .type = CLI_DOUBLE,
       .dest = &min,
       .meta = "COS",
       .help = "lowest cosine for a vector match",
       .key = CLI_KEY(CFG_LORE_MIN_SCORE)},
      {.name = "rrf-k",
       .type = CLI_INT,
       .dest = &rrf,
       .meta = "K",
       .help = "reciprocal rank fusion constant",
       .key = CLI_KEY(CFG_LORE_RRF_K)},
      {.name = "json", .type = CLI_BOOL, .dest = &json, .help = "one JSON object on stdout"},
      {.name = "model",
       .type = CLI_PATH,
       .dest = &model,
       .meta = "ENC.gguf",
       .help = "sentence encoder for the query",
       .key = CLI_KEY(CFG_EMBED_MODEL)},
      CLI_OPT_THREADS(&threads),
      {0}};
  const cli_spec spec = {
      .name = "lore search",
      .args = "QUERY",
      .min_args = 1,
      .max_args = 1,
      .summary = "Searches the lore: full text (BM25) and, with an encoder, vectors, fused by "
                 "reciprocal rank.\nEach result shows its score, why it matched (text, vector, "
                 "both), its scope and source.",
      .example = "lore search \"who rules the north\" --k 5 --scope middle-earth --json",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  bool failed = false;
  lore_embedder *e = s ? open_encoder(model, threads, &failed) : NULL;
  lore_retriever *r = NULL;
  lore_items it = {0};
  if (!s || failed) goto out;
  r = lore_retriever_new(s, e);
  lore_search_opts o = {
      .scopes = sc.v, .n_scopes = sc.n, .k = (size_t)k, .min_cos = min, .rrf_k = rrf};
  if (lore_search(r, a.pos[0], &o, &it)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (json) {
    json_t *root = json_object(), *arr = json_array();
    for (size_t i = 0; i < it.n; i++) {
      json_t *o1 = json_object();
      json_object_set_new(o1, "id", json_integer(it.v[i].id));
      json_object_set_new(o1, "source", json_string(it.v[i].source));
      json_object_set_new(o1, "scope", json_string(it.v[i].scope));
      json_object_set_new(o1, "title", json_string(it.v[i].title));
      json_object_set_new(o1, "text", json_string(it.v[i].text));
      json_object_set_new(o1, "score", json_real(it.v[i].score));
      json_object_set_new(o1, "why", json_string(it.v[i].why));
      if (!isnan(it.v[i].cos)) json_object_set_new(o1, "cosine", json_real(it.v[i].cos));
      json_array_append_new(arr, o1);
    }
    json_object_set_new(root, "results", arr);
    char *out = json_dumps(root, JSON_COMPACT);
    if (out) printf("%s\n", out);
    free(out); /* Jansson's malloc */
    json_decref(root);
  } else {
    if (it.n == 0) printf("no lore matches \"%s\"\n", a.pos[0]);
    for (size_t i = 0; i < it.n; i++) {
      printf("%zu. [%lld] score %.4f (%s", i + 1, (long long)it.v[i].id, it.v[i].score,
             it.v[i].why);
      if (!isnan(it.v[i].cos)) printf(", cosine %.3f", it.v[i].cos);
      printf(") %s%s%s\n", it.v[i].scope[0] ? it.v[i].scope : "(global)", " ", it.v[i].source);
      if (it.v[i].title[0]) printf("   # %s\n", it.v[i].title);
      printf("   %s\n", it.v[i].text);
    }
  }
  status = 0;
out:
  lore_items_free(&it);
  lore_retriever_free(r);
  lore_embedder_destroy(e);
  store_close(s);
  cfg_destroy(c);
  return status;
}

/* ---- lore set ---- */

static int lore_set(int argc, char **argv) {
  uint64_t guild = 0;
  const char *persona = NULL;
  bool unset = false;
  const cli_opt opts[] = {
      {.name = "guild", .type = CLI_ID, .dest = &guild, .meta = "ID", .help = "for this guild"},
      {.name = "persona",
       .type = CLI_STR,
       .dest = &persona,
       .meta = "NAME",
       .help = "for this persona (wins over the guild's)"},
      {.name = "unset",
       .type = CLI_BOOL,
       .dest = &unset,
       .help = "remove the setting (back to the guild's or the config's)"},
      {0}};
  const cli_spec spec = {
      .name = "lore set",
      .args = "KEY [VALUE]",
      .min_args = 1,
      .max_args = 2,
      .summary = "Sets a lore.* key for one guild or one persona (a running bot reads it at its "
                 "next reply):\nlore.world_info, lore.retrieval, lore.recall, lore.min_score, "
                 "lore.top_k, lore.rrf_k,\nlore.budget_tokens, lore.recall_k, lore.scan_messages, "
                 "lore.scopes.",
      .example = "lore set lore.recall false --guild 81384788765712384\n  mimic lore set "
                 "lore.scopes middle-earth --persona gandalf",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  const char *key = a.pos[0], *value = a.n_pos == 2 ? a.pos[1] : NULL;
  const cfg_key *k = cfg_key_find(key);
  status = 2;
  if (!k || strncmp(key, "lore.", 5) != 0)
    cli_usage_error(&spec, "'%s' is not a lore.* key", key);
  else if ((guild != 0) == (persona != NULL))
    cli_usage_error(&spec, "give --guild ID or --persona NAME (one of them)");
  else if (!unset && !value)
    cli_usage_error(&spec, "give a value, or --unset");
  else if (!unset && cfg_key_check(cfg_key_id(k), value))
    cli_usage_error(&spec, "%s", err_msg());
  else
    status = 1;
  if (status == 2) {
    cfg_destroy(c);
    return status;
  }
  char scope[160];
  if (persona)
    snprintf(scope, sizeof scope, "persona:%s", persona);
  else
    snprintf(scope, sizeof scope, "guild:%llu", (unsigned long long)guild);
  store *s = cli_store_open(c);
  if (s) {
    int rc = unset ? store_setting_delete(s, scope, key) : store_setting_set(s, scope, key, value);
    if (rc)
      cli_error("%s", err_msg());
    else {
      if (unset)
        printf("%s: %s unset\n", scope, key);
      else
        printf("%s: %s = %s\n", scope, key, value);
      status = 0;
    }
  }
  store_close(s);
  cfg_destroy(c);
  return status;
}

int cmd_lore(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"add", lore_add, "FILE|DIR... [--scope NAME]: add lore books, notes, World Info"},
      {"list", lore_list, "the lore sources"},
      {"remove", lore_remove, "ID | --source FILE: remove a source"},
      {"search", lore_search_cmd, "\"QUERY\" [--k N] [--scope S] [--json]: search the lore"},
      {"set", lore_set,
       "KEY VALUE --guild ID|--persona NAME: a lore switch for one guild or persona"},
      {0}};
  static const cli_spec spec = {.name = "lore",
                                .summary = "Lore books the personas know (docs/lore.md).",
                                .example = "lore add worldbook.json --scope middle-earth",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}

/* ---- embed-history ---- */

static volatile bool stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = true;
}

int cmd_embed_history(int argc, char **argv) {
  const char *model = "";
  int threads = 0;
  int64_t max = 0;
  const cli_opt opts[] = {{.name = "model",
                           .type = CLI_PATH,
                           .dest = &model,
                           .meta = "ENC.gguf",
                           .help = "sentence encoder",
                           .key = CLI_KEY(CFG_EMBED_MODEL)},
                          {.name = "max",
                           .type = CLI_I64,
                           .dest = &max,
                           .meta = "N",
                           .help = "stop after N messages (default: all)"},
                          CLI_OPT_THREADS(&threads),
                          {0}};
  const cli_spec spec = {
      .name = "embed-history",
      .summary = "Embeds the stored community messages for recall, oldest first, in batches that "
                 "commit\nwith their cursor: stop it (Ctrl-C, or a kill) and run it again to go "
                 "on. Excluded,\nopted-out and purged people's messages are never embedded.",
      .example = "embed-history --model models/bge-small-en-v1.5-f16.gguf",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  lore_embedder *e = NULL;
  store *s = NULL;
  if (!*model) {
    cli_error("no sentence encoder: set embed.model (or MIMIC_EMBED_MODEL, or --model) to a GGUF "
              "encoder such as bge-small-en-v1.5");
    goto out;
  }
  bool failed;
  if (!(s = cli_store_open(c)) || !(e = open_encoder(model, threads, &failed))) goto out;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  progress p = {.tty = isatty(2), .what = "embed-history", .last_pct = -1};
  int64_t n = 0;
  if (lore_embed_history(s, e, max, &stop_flag, show, &p, &n)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("embedded %lld messages with %s%s\n", (long long)n, e->name,
         stop_flag ? " (stopped: run it again to go on)" : "");
  status = 0;
out:
  lore_embedder_destroy(e);
  store_close(s);
  cfg_destroy(c);
  return status;
}
