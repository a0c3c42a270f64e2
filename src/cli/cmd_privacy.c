/* `mimic privacy ...` (exclusion, opt-out, opt-in, list) and `mimic purge --user ID`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "collect/collect.h"
#include "store/store.h"

static int print_flag(uint64_t user_id, uint32_t flag, const char *reason, int64_t set_ms,
                      void *u) {
  (void)u;
  char when[32];
  clock_iso8601(set_ms, when);
  printf("%-20llu %-10s %s  %s\n", (unsigned long long)user_id, store_flag_name(flag), when,
         reason);
  return 0;
}

static int print_purge(const store_purge *p, void *u) {
  (void)u;
  char when[32];
  clock_iso8601(p->requested_ms, when);
  printf("purge %lld: user %llu at %s: %lld messages, %lld samples, %lld files%s%s\n",
         (long long)p->id, (unsigned long long)p->user_id, when, (long long)p->messages_deleted,
         (long long)p->samples_removed, (long long)p->files_rewritten,
         p->done_ms ? "" : " (unfinished: run mimic purge again)",
         p->train_ack ? "" : " (next training run must leave them out)");
  return 0;
}

int cmd_privacy(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  int status = 2;
  store *s = NULL;
  bool list = argc == 2 && strcmp(argv[1], "list") == 0;
  uint64_t id = 0;
  if (!list && (argc < 3 || argc > 4 || str_to_u64(argv[2], &id) || !id)) {
    cli_error("usage: mimic privacy exclude|include|opt-out|opt-in USER_ID [REASON]\n"
              "       mimic privacy list");
    goto out;
  }
  status = 1;
  if (!(s = cli_store_open(c))) goto out;
  if (list) {
    if (store_user_flag_each(s, print_flag, NULL) ||
        store_purge_each(s, false, print_purge, NULL)) {
      cli_error("%s", err_msg());
      goto out;
    }
  } else {
    if (collect_privacy_set(s, id, argv[1], argc == 4 ? argv[3] : NULL)) {
      cli_error("%s", err_msg());
      goto out;
    }
    printf("user %llu: %s (applies to every import, fetch and prepare from now on; run mimic "
           "prepare again to rebuild the datasets, or mimic purge --user %llu to delete their "
           "messages)\n",
           (unsigned long long)id, argv[1], (unsigned long long)id);
  }
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}

int cmd_purge(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  int status = 2;
  store *s = NULL;
  uint64_t id = 0;
  if (argc != 3 || strcmp(argv[1], "--user") != 0 || str_to_u64(argv[2], &id) || !id) {
    cli_error("usage: mimic purge --user USER_ID");
    goto out;
  }
  status = 1;
  if (!(s = cli_store_open(c))) goto out;
  collect_purge_result r;
  if (collect_purge_user(s, id, &r)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("user %llu purged: %lld messages deleted from the store, %lld samples removed from %lld "
         "dataset files; they are marked opted out, and the next training run must leave them out "
         "(purge %lld)\n",
         (unsigned long long)id, (long long)r.messages_deleted, (long long)r.samples_removed,
         (long long)r.files_rewritten, (long long)r.purge_id);
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}
