/* `mimic demo`: placeholder until the pipeline lands (see the next commit). */
#include "cli/cli.h"

int cmd_demo(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("demo: not yet available");
  return 1;
}
