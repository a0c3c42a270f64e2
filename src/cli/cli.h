/* The command-line front end: main.c dispatches to one cmd_* function per subcommand, each in its
 * own file. Only cli/ prints usage and exits; the layers below report errors through err_msg(). */
#ifndef MIMIC_CLI_H
#define MIMIC_CLI_H
#include "base/base.h"

/* Every subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_config(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_discord(int argc, char **argv);

/* Loads the configuration the way every subcommand does: defaults, then the file given by
 * --config FILE (or MIMIC_CONFIG, or ./mimic.conf when it exists), then the environment. Removes
 * --config FILE from argv. Applies log settings. Returns NULL after printing one clear sentence. */
cfg *cli_config_load(int *argc, char **argv);

/* Prints "mimic: <message>" to stderr. */
void cli_error(const char *fmt, ...) MIMIC_PRINTF(1, 2);

#endif
