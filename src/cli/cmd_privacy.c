/* `mimic privacy VERB USER_ID` (exclude, include, opt-out, opt-in, purge) and `mimic privacy list`;
 * `mimic purge --user ID` is the older spelling of `mimic privacy purge ID`. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
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

static int privacy_list(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "privacy list",
      .summary = "Lists who is excluded or opted out, and every purge with what it deleted.",
      .example = "privacy list",
      .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  if (s &&
      (store_user_flag_each(s, print_flag, NULL) || store_purge_each(s, false, print_purge, NULL)))
    cli_error("%s", err_msg());
  else if (s)
    status = 0;
  store_close(s);
  cfg_destroy(c);
  return status;
}

/* Deletes a person's messages from the store and every dataset. */
static int purge(const cfg *c, uint64_t id) {
  store *s = cli_store_open(c);
  if (!s) return 1;
  int status = 1;
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
  return status;
}

/* privacy exclude|include|opt-out|opt-in|purge USER_ID [REASON]: argv[0] is the verb. */
static int privacy_verb(int argc, char **argv) {
  char name[32];
  snprintf(name, sizeof name, "privacy %s", argv[0]);
  bool is_purge = strcmp(argv[0], "purge") == 0;
  const cli_spec spec = {
      .name = name,
      .args = is_purge ? "USER_ID" : "USER_ID [REASON]",
      .min_args = 1,
      .max_args = is_purge ? 1 : 2,
      .summary = is_purge ? "Deletes a person's messages from the store and from every dataset "
                            "file, and marks them\nopted out; the next training run must leave "
                            "them out. (Older spelling: mimic purge --user ID.)"
                          : "exclude/include: leave a person out of (or back in) the datasets; "
                            "opt-out/opt-in: the\nperson's own choice, which also stops storing "
                            "their messages. Applies to every import,\nfetch and prepare from now "
                            "on.",
      .example = is_purge ? "privacy purge 80351110224678912"
                          : "privacy opt-out 80351110224678912 'asked on 2024-05-01'",
      .config = true};
  cli_args a;
  int status;
  uint64_t id = 0;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  if (str_to_u64(a.pos[0], &id) || !id)
    return cli_usage_error(&spec, "'%s' is not a user id", a.pos[0]);
  cfg *c = cli_config_load(a.config);
  if (!c) return 1;
  if (is_purge) {
    status = purge(c, id);
    cfg_destroy(c);
    return status;
  }
  status = 1;
  store *s = cli_store_open(c);
  if (!s) goto out;
  if (collect_privacy_set(s, id, argv[0], a.n_pos == 2 ? a.pos[1] : NULL)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("user %llu: %s (applies to every import, fetch and prepare from now on; run mimic "
         "prepare again to rebuild the datasets, or mimic privacy purge %llu to delete their "
         "messages)\n",
         (unsigned long long)id, argv[0], (unsigned long long)id);
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}

int cmd_privacy(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"exclude", privacy_verb, "USER_ID [REASON]: leave a person out of the datasets"},
      {"include", privacy_verb, "USER_ID: undo exclude"},
      {"opt-out", privacy_verb,
       "USER_ID [REASON]: the person's choice: not stored, not trained on"},
      {"opt-in", privacy_verb, "USER_ID: undo opt-out"},
      {"purge", privacy_verb, "USER_ID: delete their messages from the store and every dataset"},
      {"list", privacy_list, "who is left out, and the purges"},
      {0}};
  static const cli_spec spec = {
      .name = "privacy",
      .args = "exclude|include|opt-out|opt-in|purge USER_ID | list",
      .summary = "Who the bot learns from. Every command is `mimic privacy VERB USER_ID`.",
      .example = "privacy opt-out 80351110224678912\nprivacy purge 80351110224678912\nprivacy list",
      .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}

/* The older spelling: mimic purge --user ID (or mimic purge ID). */
int cmd_purge(int argc, char **argv) {
  uint64_t user = 0;
  const cli_opt opts[] = {{.name = "user",
                           .type = CLI_ID,
                           .dest = &user,
                           .meta = "USER_ID",
                           .help = "the person whose messages are deleted"},
                          {0}};
  const cli_spec spec = {
      .name = "purge",
      .args = "[USER_ID]",
      .max_args = 1,
      .summary = "The same as `mimic privacy purge USER_ID`: deletes a person's messages from the "
                 "store and\nfrom every dataset file, and marks them opted out.",
      .example = "purge --user 80351110224678912",
      .config = true,
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  if (a.n_pos == 1 && (user || str_to_u64(a.pos[0], &user) || !user))
    return cli_usage_error(&spec, "give the user id once (--user ID or ID)");
  if (!user) return cli_usage_error(&spec, "which user? (--user ID)");
  cfg *c = cli_config_load(a.config);
  if (!c) return 1;
  int status = purge(c, user);
  cfg_destroy(c);
  return status;
}
