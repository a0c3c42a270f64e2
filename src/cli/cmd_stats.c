/* `mimic stats [--html PATH]`: what the store holds, as text and as an HTML page with SVG charts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "collect/collect.h"
#include "store/store.h"

int cmd_stats(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  char html[4096];
  snprintf(html, sizeof html, "%s/reports", cfg_str(c, CFG_DATA_DIR));
  bool default_path = true;
  int status = 2;
  store *s = NULL;
  if (argc == 3 && strcmp(argv[1], "--html") == 0) {
    str_lcpy(html, argv[2], sizeof html);
    default_path = false;
  } else if (argc != 1) {
    cli_error("usage: mimic stats [--html PATH]   (default: <data.dir>/reports/stats.html)");
    goto out;
  }
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
