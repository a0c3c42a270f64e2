/* `mimic backup [--out DIR]` and `mimic backup --verify DIR`: a backup that restores. It holds a
 * consistent copy of the database taken with SQLite's online backup API while the bot may keep
 * running (store/backup.h), the configuration file as it is (with the token: mode 0600), the data
 * folder's own files (personas, salts, adapters trained into it) and the LoRA adapters beside the
 * base model, plus MANIFEST.txt listing every file and how to restore. Base models are not copied
 * (they are downloads; the manifest names them). Not here: how the copy is made consistent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/flags.h"
#include "llm/gguf.h"
#include "store/backup.h"
#include "store/store.h"

#define BK_PATH_MAX 4096

typedef struct bk {
  const char *out; /* the backup folder */
  char out_real[PATH_MAX];
  char db_real[PATH_MAX];
  buf manifest;
  int files;
  int64_t bytes;
  int rc;
} bk;

static void manifest_add(bk *b, const char *rel, int64_t size, const char *what) {
  if (!b->rc)
    b->rc = buf_printf(&b->manifest, "%12" PRId64 "  %s%s%s\n", size, rel, what ? "  # " : "",
                       what ? what : "");
  b->files++;
  b->bytes += size;
}

/* Copies src to dst (folders above created) with the given mode; never replaces a file. */
static int copy_file(const char *src, const char *dst, mode_t mode, int64_t *size) {
  int in = -1, out = -1, rc = 0;
  if (fs_mkdirs_for(dst)) return MIMIC_EIO;
  if ((in = open(src, O_RDONLY)) < 0) {
    rc = err_set(MIMIC_EIO, "%s: cannot read: %s", src, strerror(errno));
    goto out;
  }
  if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0) {
    rc = err_set(MIMIC_EIO, "%s: cannot create: %s", dst, strerror(errno));
    goto out;
  }
  char chunk[1 << 16];
  ssize_t n;
  *size = 0;
  while ((n = read(in, chunk, sizeof chunk)) > 0) {
    if (write(out, chunk, (size_t)n) != n) {
      rc = err_set(MIMIC_EIO, "%s: cannot write: %s", dst, strerror(errno));
      goto out;
    }
    *size += n;
  }
  if (n < 0 || fsync(out) != 0)
    rc = err_set(MIMIC_EIO, "%s: copy failed: %s", src, strerror(errno));
out:
  if (in >= 0) close(in);
  if (out >= 0 && close(out) != 0 && !rc) rc = err_set(MIMIC_EIO, "%s: cannot write", dst);
  return rc;
}

static bool is_adapter(const char *path) {
  gguf_file *g = NULL;
  if (gguf_open(path, &g) != 0) {
    err_clear();
    return false;
  }
  char *type = gguf_get_str_dup(g, "general.type");
  bool yes = type && strcmp(type, "adapter") == 0;
  free(type);
  gguf_close(g);
  return yes;
}

/* Folders of the data folder that a backup leaves out: the backups themselves, and what mimic
 * writes again by itself (logs, dataset exports, reports). */
static bool skipped_dir(const char *name) {
  return strcmp(name, "backups") == 0 || strcmp(name, "logs") == 0 ||
         strcmp(name, "exports") == 0 || strcmp(name, "reports") == 0;
}

/* Copies the data folder's files under rel (relative to data) into out/data/rel. */
static void copy_tree(bk *b, const char *data, const char *rel, int depth) {
  char dir[BK_PATH_MAX];
  snprintf(dir, sizeof dir, "%s%s%s", data, *rel ? "/" : "", rel);
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *nm = ents[i]->d_name;
    char src[BK_PATH_MAX], sub[BK_PATH_MAX], real[PATH_MAX];
    struct stat st;
    bool go = strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0 && !b->rc;
    go = go && snprintf(src, sizeof src, "%s/%s", dir, nm) < (int)sizeof src &&
         snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", nm) < (int)sizeof sub &&
         lstat(src, &st) == 0 && realpath(src, real) != NULL;
    /* never the backup folder itself, nor the live database and its journal files */
    if (go && strcmp(real, b->out_real) == 0) go = false;
    if (go && strncmp(real, b->db_real, strlen(b->db_real)) == 0) go = false;
    if (go && S_ISDIR(st.st_mode)) {
      if (depth < 8 && !(depth == 0 && skipped_dir(nm))) copy_tree(b, data, sub, depth + 1);
    } else if (go && S_ISREG(st.st_mode) && !str_ends_with(nm, ".tmp") && !strstr(nm, ".tmp.")) {
      char dst[BK_PATH_MAX], mrel[BK_PATH_MAX];
      snprintf(mrel, sizeof mrel, "data/%s", sub);
      snprintf(dst, sizeof dst, "%s/%s", b->out, mrel);
      int64_t size = 0;
      int rc = copy_file(src, dst, st.st_mode & 0777, &size);
      if (rc)
        b->rc = rc;
      else
        manifest_add(b, mrel, size, NULL);
    }
    free(ents[i]);
  }
  free(ents);
}

/* The adapters in the base model's folder (and engine.adapter wherever it is) go to out/models/;
 * base models are only named. */
static void copy_models(bk *b, const cfg *c, const char *data_real) {
  char dir[BK_PATH_MAX];
  str_lcpy(dir, cfg_str(c, CFG_ENGINE_MODEL), sizeof dir);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  else
    str_lcpy(dir, ".", sizeof dir);
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *nm = ents[i]->d_name;
    char src[BK_PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (!b->rc && str_ends_with(nm, ".gguf") &&
        snprintf(src, sizeof src, "%s/%s", dir, nm) < (int)sizeof src && stat(src, &st) == 0 &&
        S_ISREG(st.st_mode) && realpath(src, real) &&
        strncmp(real, data_real, strlen(data_real)) != 0) {
      char mrel[BK_PATH_MAX], dst[BK_PATH_MAX];
      snprintf(mrel, sizeof mrel, "models/%s", nm);
      if (is_adapter(src)) {
        snprintf(dst, sizeof dst, "%s/%s", b->out, mrel);
        int64_t size = 0;
        int rc = copy_file(src, dst, 0600, &size);
        if (rc)
          b->rc = rc;
        else
          manifest_add(b, mrel, size, "LoRA adapter");
      } else if (!b->rc) {
        b->rc = buf_printf(&b->manifest, "%12s  %s  # base model, not copied (%lld bytes)\n", "-",
                           src, (long long)st.st_size);
      }
    }
    free(ents[i]);
  }
  free(ents);
  const char *ad = cfg_str(c, CFG_ENGINE_ADAPTER);
  char real[PATH_MAX], mrel[BK_PATH_MAX], dst[BK_PATH_MAX];
  const char *base = strrchr(ad, '/') ? strrchr(ad, '/') + 1 : ad;
  if (!b->rc && *ad && realpath(ad, real) && strncmp(real, data_real, strlen(data_real)) != 0 &&
      snprintf(mrel, sizeof mrel, "models/%s", base) < (int)sizeof mrel &&
      snprintf(dst, sizeof dst, "%s/%s", b->out, mrel) < (int)sizeof dst &&
      access(dst, F_OK) != 0) {
    int64_t size = 0;
    int rc = copy_file(ad, dst, 0600, &size);
    if (rc)
      b->rc = rc;
    else
      manifest_add(b, mrel, size, "engine.adapter");
  }
}

static int verify(const char *dir) {
  char p[BK_PATH_MAX];
  snprintf(p, sizeof p, "%s/mimic.db", dir);
  store_backup_info info;
  if (store_backup_verify(p, &info)) {
    cli_error("%s", err_msg());
    return 1;
  }
  printf("%s: integrity ok, %" PRId64 " pages (%.1f MiB), %" PRId64 " messages\n", p, info.pages,
         (double)info.bytes / 1048576.0, info.messages);
  snprintf(p, sizeof p, "%s/MANIFEST.txt", dir);
  FILE *f = fopen(p, "r");
  if (!f) {
    cli_error("%s: cannot read: %s", p, strerror(errno));
    return 1;
  }
  char line[BK_PATH_MAX + 64];
  int ok = 0, bad = 0;
  while (fgets(line, sizeof line, f)) {
    long long size;
    char rel[BK_PATH_MAX];
    if (line[0] == '#' || sscanf(line, "%lld %4095s", &size, rel) != 2) continue;
    char full[BK_PATH_MAX * 2];
    snprintf(full, sizeof full, "%s/%s", dir, rel);
    struct stat st;
    if (stat(full, &st) != 0 || (long long)st.st_size != size) {
      printf("missing or changed: %s\n", rel);
      bad++;
    } else {
      ok++;
    }
  }
  fclose(f);
  if (bad) {
    cli_error("%s: %d of %d files missing or changed", dir, bad, ok + bad);
    return 1;
  }
  printf("%s: all %d files of the manifest present\n", dir, ok);
  return 0;
}

int cmd_backup(int argc, char **argv) {
  const char *out = NULL, *check = NULL;
  const cli_opt opts[] = {
      {.name = "out",
       .type = CLI_PATH,
       .dest = &out,
       .meta = "DIR",
       .help = "the new folder the backup goes in (default <data.dir>/backups/YYYYMMDD-HHMMSS)"},
      {.name = "verify",
       .type = CLI_PATH,
       .dest = &check,
       .meta = "DIR",
       .help = "check a backup instead: the database's integrity and every file of its manifest"},
      {0}};
  const cli_spec spec = {
      .name = "backup",
      .summary = "A consistent copy of the database (SQLite's online backup: the bot may keep "
                 "running),\nthe config file (with the token: mode 0600), the data folder's files "
                 "and the LoRA\nadapters, with MANIFEST.txt. docs/operations.md says how to "
                 "restore.",
      .example = "backup\nbackup --out /srv/backups/mimic-monday\nbackup --verify "
                 "/srv/backups/mimic-monday",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  if (check) {
    status = verify(check);
    cfg_destroy(c);
    return status;
  }
  status = 1;
  store *s = NULL;
  bk b = {0};
  buf_init(&b.manifest, 16 << 20);
  char dflt[BK_PATH_MAX], p[BK_PATH_MAX], data_real[PATH_MAX];
  const char *data = cfg_str(c, CFG_DATA_DIR);
  if (!out) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = (size_t)snprintf(dflt, sizeof dflt, "%s/backups/", data);
    strftime(dflt + n, sizeof dflt - n, "%Y%m%d-%H%M%S", &tm);
    out = dflt;
  }
  b.out = out;
  if (fs_mkdirs_for(out)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (mkdir(out, 0700) != 0) {
    cli_error("%s: %s", out,
              errno == EEXIST ? "exists already; a backup goes into a new folder"
                              : strerror(errno));
    goto out;
  }
  if (!(s = cli_store_open(c))) goto out;
  if (!realpath(out, b.out_real) || !realpath(data, data_real)) {
    cli_error("%s: %s", data, strerror(errno));
    goto out;
  }
  if (!realpath(store_path(s), b.db_real)) str_lcpy(b.db_real, store_path(s), sizeof b.db_real);
  char ts[32];
  clock_iso8601(clock_wall_ms(), ts);
  b.rc = buf_printf(&b.manifest,
                    "# mimic backup, %s, mimic %s\n# size (bytes)  file\n"
                    "# Restore: stop the bot; copy mimic.db to store.path (delete the old "
                    "-wal and -shm files);\n# copy mimic.conf back (keep mode 0600), data/ into "
                    "data.dir and models/ into the models folder.\n",
                    ts, MIMIC_VERSION);
  snprintf(p, sizeof p, "%s/mimic.db", out);
  store_backup_info info;
  if (store_backup(s, p, &info)) {
    cli_error("%s", err_msg());
    goto out;
  }
  manifest_add(&b, "mimic.db", info.bytes, "the database (online backup)");
  printf("database: %s, %.1f MiB, %" PRId64 " messages\n", p, (double)info.bytes / 1048576.0,
         info.messages);
  const char *conf = a.config ? a.config : getenv("MIMIC_CONFIG");
  if (!conf && access("mimic.conf", F_OK) == 0) conf = "mimic.conf";
  if (conf && strcmp(conf, "/dev/null") != 0) {
    snprintf(p, sizeof p, "%s/mimic.conf", out);
    int64_t size = 0;
    if (copy_file(conf, p, 0600, &size)) {
      cli_error("%s", err_msg());
      goto out;
    }
    manifest_add(&b, "mimic.conf", size, "the configuration (token included)");
    printf("config: %s (mode 0600: it may hold the bot token)\n", p);
  }
  copy_tree(&b, data, "", 0);
  copy_models(&b, c, data_real);
  if (b.rc) {
    cli_error("%s", err_msg());
    goto out;
  }
  snprintf(p, sizeof p, "%s/MANIFEST.txt", out);
  if (fs_write_atomic(p, b.manifest.data, b.manifest.len)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("backup: %s, %d files, %.1f MiB (logs, exports and reports left out: mimic writes them "
         "again)\ncheck it with: mimic backup --verify %s\n",
         out, b.files, (double)b.bytes / 1048576.0, out);
  status = 0;
out:
  buf_free(&b.manifest);
  store_close(s);
  cfg_destroy(c);
  return status;
}
