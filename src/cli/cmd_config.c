/* `mimic config check`: validates the configuration and prints every value with its source. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_config(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  if (argc < 2 || strcmp(argv[1], "check") != 0) {
    cli_error("usage: mimic config check [--config FILE]");
    cfg_destroy(c);
    return 2;
  }
  for (const cfg_key *k = cfg_keys(); k->name; k++) {
    const char *v = cfg_str(c, cfg_key_id(k));
    if (k->secret) v = *v ? "(set, hidden)" : "(not set)";
    printf("%-26s = %-36s [%s]\n", k->name, v, cfg_source_name(cfg_source_of(c, cfg_key_id(k))));
  }
  char *tok = cfg_token(c);
  if (tok)
    printf("\ntoken: present\n");
  else
    printf("\ntoken: %s\n", err_msg());
  mem_free(tok);
  printf("configuration OK\n");
  cfg_destroy(c);
  return 0;
}
