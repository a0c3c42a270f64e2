/* `mimic import FILE|DIR...`: DiscordChatExporter JSON exports (files or a folder of them) and
 * Discord data packages into the store, with a progress line. Each file is all-or-nothing; a
 * failed file does not stop the rest. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/flags.h"
#include "collect/collect.h"
#include "store/store.h"

static void progress(const collect_import_stats *st, void *user) {
  const char *name = user;
  double rate = st->seconds > 0 ? (double)st->messages / st->seconds : 0;
  if (st->total_bytes)
    fprintf(stderr, "\rimport: %s: %lld messages (%.0f%%), %.0f msg/s   ", name,
            (long long)st->messages, 100.0 * (double)st->bytes / (double)st->total_bytes, rate);
  else
    fprintf(stderr, "\rimport: %s: %lld messages, %.0f msg/s   ", name, (long long)st->messages,
            rate);
  fflush(stderr);
}

/* Imports one file or package and prints its line; returns 0, or 1 after printing the error. */
static int import_one(store *s, const char *path, collect_import_opts *o, bool quiet,
                      int64_t *total_new) {
  collect_import_stats st;
  o->progress = quiet ? NULL : progress;
  o->user = (void *)path;
  int rc = collect_import_path(s, path, o, &st);
  if (!quiet) fputc('\n', stderr);
  if (rc) {
    cli_error("%s (nothing from this file was stored)", err_msg());
    return 1;
  }
  double rate = st.seconds > 0 ? (double)st.messages / st.seconds : 0;
  printf("%s: %lld messages read, %lld new, %lld skipped (excluded/opted out), %lld skipped "
         "(no id/author) in %.1f s (%.0f msg/s)\n",
         path, (long long)st.messages, (long long)st.inserted, (long long)st.skipped_privacy,
         (long long)st.skipped_invalid, st.seconds, rate);
  if (st.cut_long)
    printf("%s: %lld messages longer than %d bytes were cut to that length\n", path,
           (long long)st.cut_long, (int)COLLECT_MESSAGE_MAX);
  *total_new += st.inserted;
  return 0;
}

int cmd_import(int argc, char **argv) {
  collect_import_opts o = {0};
  bool quiet = !isatty(2), quiet_opt = false;
  const cli_opt opts[] = {
      {.name = "author",
       .type = CLI_ID,
       .dest = &o.package_author_id,
       .meta = "USER_ID",
       .help = "a data package's owner, when the package has no account/user.json"},
      {.name = "quiet",
       .short_name = 'q',
       .type = CLI_BOOL,
       .dest = &quiet_opt,
       .help = "no progress line"},
      {0}};
  const cli_spec spec = {
      .name = "import",
      .args = "FILE|DIR...",
      .min_args = 1,
      .max_args = -1,
      .summary = "Imports into the store: DiscordChatExporter JSON exports (--format Json), a "
                 "folder of them, or\nDiscord data packages (the package folder or one of its "
                 "Messages/c<id> folders). Each file\nis all-or-nothing; a failed file does not "
                 "stop the rest. Re-importing adds nothing twice.",
      .example = "import exports/*.json\nimport exports/ --quiet\nimport package/ --author "
                 "80351110224678912",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  if (quiet_opt) quiet = true;
  store *s = cli_store_open(c);
  if (!s) {
    cfg_destroy(c);
    return 1;
  }
  int64_t total_new = 0;
  int files = 0;
  for (int i = 0; i < a.n_pos; i++) {
    const char *path = a.pos[i];
    if (collect_import_detect(path) != COLLECT_PATH_DCE_DIR) {
      status |= import_one(s, path, &o, quiet, &total_new);
      files++;
      continue;
    }
    /* A folder of exports: each file on its own line, as if they had been named. */
    char **names = NULL;
    size_t n = 0;
    if (collect_import_list_json(path, &names, &n)) {
      cli_error("%s", err_msg());
      status = 1;
      continue;
    }
    for (size_t k = 0; k < n; k++, files++)
      status |= import_one(s, names[k], &o, quiet, &total_new);
    for (size_t k = 0; k < n; k++) mem_free(names[k]);
    mem_free(names);
  }
  if (files > 1) printf("total: %lld new messages\n", (long long)total_new);
  store_close(s);
  cfg_destroy(c);
  return status;
}
