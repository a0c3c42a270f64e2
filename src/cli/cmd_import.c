/* `mimic import FILE|DIR...`: DiscordChatExporter JSON exports and Discord data packages into the
 * store, with a progress line. Each file is all-or-nothing; a failed file does not stop the rest.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
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

static void usage(void) {
  cli_error(
      "usage: mimic import [--author USER_ID] [--quiet] FILE|DIR...\n"
      "  FILE: a DiscordChatExporter JSON export (--format Json); DIR: a Discord data package\n"
      "  (or one of its Messages/c<id> folders). --author names the package owner when the\n"
      "  package has no account/user.json.");
}

int cmd_import(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  collect_import_opts o = {0};
  bool quiet = !isatty(2);
  int first = 1, status = 0;
  for (; first < argc && argv[first][0] == '-'; first++) {
    if (strcmp(argv[first], "--author") == 0 && first + 1 < argc) {
      if (str_to_u64(argv[++first], &o.package_author_id)) {
        cli_error("--author: '%s' is not a user id", argv[first]);
        cfg_destroy(c);
        return 2;
      }
    } else if (strcmp(argv[first], "--quiet") == 0) {
      quiet = true;
    } else {
      usage();
      cfg_destroy(c);
      return 2;
    }
  }
  if (first >= argc) {
    usage();
    cfg_destroy(c);
    return 2;
  }
  store *s = cli_store_open(c);
  if (!s) {
    cfg_destroy(c);
    return 1;
  }
  int64_t total_new = 0;
  for (int i = first; i < argc; i++) {
    collect_import_stats st;
    o.progress = quiet ? NULL : progress;
    o.user = argv[i];
    int rc = collect_import_path(s, argv[i], &o, &st);
    if (!quiet) fputc('\n', stderr);
    if (rc) {
      cli_error("%s (nothing from this file was stored)", err_msg());
      status = 1;
      continue;
    }
    double rate = st.seconds > 0 ? (double)st.messages / st.seconds : 0;
    printf("%s: %lld messages read, %lld new, %lld skipped (excluded/opted out), %lld skipped "
           "(no id/author) in %.1f s (%.0f msg/s)\n",
           argv[i], (long long)st.messages, (long long)st.inserted, (long long)st.skipped_privacy,
           (long long)st.skipped_invalid, st.seconds, rate);
    total_new += st.inserted;
  }
  if (argc - first > 1) printf("total: %lld new messages\n", (long long)total_new);
  store_close(s);
  cfg_destroy(c);
  return status;
}
