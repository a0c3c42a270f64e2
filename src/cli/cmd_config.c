/* `mimic config check`: validates the configuration and prints every value with its source. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"

static int config_check(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "config check",
      .summary = "Loads the configuration (defaults, the file, the environment), checks every "
                 "value and prints it\nwith where it came from; the token is never printed.",
      .example = "config check --config mimic.conf",
      .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
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

int cmd_config(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"check", config_check, "validate the configuration and show every value's source"}, {0}};
  static const cli_spec spec = {.name = "config",
                                .args = "check",
                                .summary = "The configuration: mimic.conf, MIMIC_* variables.",
                                .example = "config check",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
