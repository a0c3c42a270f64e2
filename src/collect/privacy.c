/* Privacy: the owner's exclusions, members' opt-out and opt-in, and purge (a person's messages
 * deleted from the store and from every dataset file, via the provenance records). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect_int.h"

int collect_privacy_set(store *s, uint64_t user_id, const char *action, const char *reason) {
  if (!user_id) return err_set(MIMIC_EINVAL, "privacy: a user id is required");
  if (strcmp(action, "exclude") == 0)
    return store_user_flag_set(s, user_id, STORE_FLAG_EXCLUDED,
                               reason ? reason : "excluded by the owner");
  if (strcmp(action, "include") == 0) return store_user_flag_clear(s, user_id, STORE_FLAG_EXCLUDED);
  if (strcmp(action, "opt-out") == 0)
    return store_user_flag_set(s, user_id, STORE_FLAG_OPTED_OUT, reason ? reason : "opted out");
  if (strcmp(action, "opt-in") == 0)
    return store_user_flag_set(s, user_id, STORE_FLAG_OPTED_IN, reason ? reason : "opted in");
  return err_set(MIMIC_EINVAL, "privacy: unknown action '%s' (exclude, include, opt-out, opt-in)",
                 action);
}

typedef struct hit {
  int64_t dataset, sample;
} hit;
typedef struct hits {
  hit *v;
  size_t n, cap;
} hits;

static int add_hit(int64_t dataset, int64_t sample, void *user) {
  hits *h = user;
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 256;
    h->v = xrealloc(h->v, h->cap * sizeof *h->v);
  }
  h->v[h->n++] = (hit){dataset, sample};
  return 0;
}

typedef struct ds_path {
  int64_t id;
  char *path;
} ds_path;
typedef struct ds_paths {
  ds_path *v;
  size_t n;
} ds_paths;

static int add_path(const store_dataset *d, void *user) {
  ds_paths *l = user;
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = (ds_path){d->id, xstrdup(d->path)};
  return 0;
}

/* Copies path to tmp without the lines listed in drop (sorted). Missing file: *exists = false. */
static int rewrite(const char *path, const char *tmp, const int64_t *drop, size_t n, bool *exists) {
  FILE *in = fopen(path, "rb");
  *exists = in != NULL;
  if (!in)
    return errno == ENOENT ? 0 : err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    fclose(in);
    return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  }
  char *line = NULL;
  size_t cap = 0, k = 0;
  ssize_t len;
  int64_t no = 0;
  int rc = 0;
  while ((len = getline(&line, &cap, in)) > 0) {
    while (k < n && drop[k] < no) k++;
    bool skip = k < n && drop[k] == no;
    no++;
    if (!skip && fwrite(line, 1, (size_t)len, out) != (size_t)len) {
      rc = err_set(MIMIC_EIO, "%s: write failed: %s", tmp, strerror(errno));
      break;
    }
  }
  free(line);
  if (!rc && ferror(in)) rc = err_set(MIMIC_EIO, "%s: read error", path);
  fclose(in);
  if (fflush(out) != 0 || fsync(fileno(out)) != 0)
    rc = rc ? rc : err_set(MIMIC_EIO, "%s: write failed", tmp);
  if (fclose(out) != 0 && !rc) rc = err_set(MIMIC_EIO, "%s: write failed", tmp);
  if (rc) unlink(tmp);
  return rc;
}

int collect_purge_user(store *s, uint64_t user_id, collect_purge_result *out) {
  memset(out, 0, sizeof *out);
  if (!user_id || user_id > (uint64_t)INT64_MAX)
    return err_set(MIMIC_EINVAL, "purge: a user id is required");
  hits h = {0};
  ds_paths paths = {0};
  int64_t *drop = NULL;
  int rc;
  if ((rc = collect_datasets_recover(s))) goto out;
  /* First, so that nothing collected from now on brings the person back. */
  if ((rc = store_user_flag_set(s, user_id, STORE_FLAG_OPTED_OUT, "purged on request"))) goto out;
  if ((rc = store_purge_begin(s, user_id, &out->purge_id))) goto out;
  if ((rc = store_dataset_samples_of_user(s, user_id, add_hit, &h))) goto out;
  if ((rc = store_dataset_each(s, add_path, &paths))) goto out;
  drop = xcalloc(h.n ? h.n : 1, sizeof *drop);
  for (size_t i = 0; i < h.n && !rc;) {
    size_t j = i, nd = 0;
    while (j < h.n && h.v[j].dataset == h.v[i].dataset) drop[nd++] = h.v[j++].sample;
    const char *path = NULL;
    for (size_t k = 0; k < paths.n; k++)
      if (paths.v[k].id == h.v[i].dataset) path = paths.v[k].path;
    if (path) {
      char tmp[4200];
      snprintf(tmp, sizeof tmp, "%s.purge.tmp.%d", path, (int)getpid());
      bool exists;
      if ((rc = rewrite(path, tmp, drop, nd, &exists))) break;
      /* Provenance and the pending rename commit together; the rename follows. */
      if ((rc = store_tx_begin(s))) break;
      if ((rc = store_dataset_drop_samples(s, h.v[i].dataset, drop, nd)) ||
          (exists && (rc = store_dataset_set_pending(s, h.v[i].dataset, tmp)))) {
        store_tx_rollback(s);
        if (exists) unlink(tmp);
        break;
      }
      if ((rc = store_tx_commit(s))) break;
      if (exists) {
        if (rename(tmp, path) != 0) {
          rc =
              err_set(MIMIC_EIO, "%s: cannot replace: %s (run purge again)", path, strerror(errno));
          break;
        }
        if ((rc = store_dataset_set_pending(s, h.v[i].dataset, NULL))) break;
        out->files_rewritten++;
      }
      out->samples_removed += (int64_t)nd;
    }
    i = j;
  }
  if (rc) goto out;
  rc = store_purge_finish(s, out->purge_id, user_id, out->samples_removed, out->files_rewritten,
                          &out->messages_deleted);
  if (!rc)
    LOG_I("privacy", "purged user %llu: %lld messages, %lld samples in %lld files",
          (unsigned long long)user_id, (long long)out->messages_deleted,
          (long long)out->samples_removed, (long long)out->files_rewritten);
out:
  mem_free(h.v);
  for (size_t k = 0; k < paths.n; k++) mem_free(paths.v[k].path);
  mem_free(paths.v);
  mem_free(drop);
  return rc;
}
