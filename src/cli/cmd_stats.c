/* `mimic stats [--html PATH]`: what the store holds, as text and as an HTML page with SVG charts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/flags.h"
#include "collect/collect.h"
#include "store/store.h"

int cmd_stats(int argc, char **argv) {
  const char *html_opt = NULL;
  const cli_opt opts[] = {
      {.name = "html",
       .type = CLI_PATH,
       .dest = &html_opt,
       .meta = "PATH",
       .help = "where the HTML page goes (default <data.dir>/reports/stats.html)"},
      {0}};
  const cli_spec spec = {
      .name = "stats",
      .summary = "What the store holds: messages per person, channel and month, lengths, words, "
                 "emoji,\nreactions; as text and as an HTML page with charts.",
      .example = "stats --html /tmp/stats.html",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  char html[4096];
  snprintf(html, sizeof html, "%s/reports", cfg_str(c, CFG_DATA_DIR));
  bool default_path = !html_opt;
  if (html_opt) str_lcpy(html, html_opt, sizeof html);
  store *s = NULL;
  status = 1;
  if (default_path) {
    mkdir(cfg_str(c, CFG_DATA_DIR), 0700);
    if (mkdir(html, 0700) != 0 && errno != EEXIST) {
      cli_error("%s: cannot create: %s", html, strerror(errno));
      goto out;
    }
    size_t n = strlen(html);
    snprintf(html + n, sizeof html - n, "/stats.html");
  }
  if (!(s = cli_store_open(c))) goto out;
  if (collect_stats(s, stdout, html)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("\nHTML report: %s\n", html);
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}
