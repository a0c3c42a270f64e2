/* The command-line grammar, one table per command: a command declares its options (long and short
 * name, type, where the value goes, help, the config key whose value is the default) and its
 * positional arguments, and cli_parse reads argv against it. Every command parses the same way:
 * options before and after positional arguments, `--opt value` and `--opt=value`, `--` ending the
 * options, `-h`/`--help` printing the usage, the options and an example (exit 0, before anything
 * is loaded or connected), unknown options and bad values named in one line (exit 2). Not here:
 * what a command does with its values. */
#ifndef MIMIC_CLI_FLAGS_H
#define MIMIC_CLI_FLAGS_H
#include <stdio.h>

#include "cli/cli.h"

/* What an option's value is, and the type dest points to. */
typedef enum {
  CLI_BOOL,   /* bool *: set to true; takes no value */
  CLI_INT,    /* int *: a whole number within [min, max] */
  CLI_I64,    /* int64_t * */
  CLI_U64,    /* uint64_t *: any non-negative whole number (seeds) */
  CLI_DOUBLE, /* double *: a number within [min, max] */
  CLI_FLOAT,  /* float * */
  CLI_STR,    /* const char **: borrowed from argv (or the config) */
  CLI_PATH,   /* const char **: a file or folder name */
  CLI_ID,     /* uint64_t *: a Discord id (snowflake), not 0 */
} cli_type;

/* The config key of an option, by its typed handle (a misspelt key does not compile); 0 is none. */
#define CLI_KEY(id) ((int)(id) + 1)

typedef struct cli_opt {
  const char *name; /* long name without "--"; NULL ends the table */
  char short_name;  /* 'n' for -n, or 0 */
  cli_type type;
  void *dest;       /* see cli_type; NULL when each() takes the values */
  const char *meta; /* the value's name in the help ("N", "FILE"); NULL for CLI_BOOL */
  const char *help; /* one line */
  int key;          /* CLI_KEY(CFG_...): the config key whose value is the default (and whose
                       bounds apply when min == max), or 0; the help shows the key and its default */
  double min, max;  /* bounds for the number types when min < max */
  bool repeat;      /* may be given more than once (otherwise a second time is an error) */
  int (*each)(const char *value, void *user); /* when set, called with each raw value instead of
                        storing it; returns 0, or prints why not (cli_error) and returns nonzero */
  void *user;                                 /* for each() */
  const char *alias; /* an older long spelling still accepted (shown in the help), or NULL */
} cli_opt;

/* A subcommand of a command group (`mimic model info`). */
typedef struct cli_sub {
  const char *name;
  cli_cmd_fn fn; /* called with argv[0] = the subcommand's name */
  const char *summary;
} cli_sub;

typedef struct cli_spec {
  const char *name; /* "prepare", "model info" */
  const char *args; /* positional arguments for the usage line ("IN.gguf OUT.gguf"), or NULL */
  int min_args, max_args; /* how many positional arguments; max_args -1: any number */
  const char *summary;    /* what the command does, one or a few lines */
  const char *example;    /* one or more example command lines, without the leading "mimic " */
  bool config;            /* reads the configuration: accepts --config FILE */
  const cli_opt *opts;    /* terminated by {0}; may be NULL */
  const cli_sub *subs;    /* a command group's subcommands, terminated by {0}; or NULL */
} cli_spec;

/* The option every compute command shares: -t/--threads into an int (0 by default: one per core).
 */
#define CLI_OPT_THREADS(var)                                                                       \
  {                                                                                                \
    .name = "threads", .short_name = 't', .type = CLI_INT, .dest = (var), .meta = "N",             \
    .help = "compute threads (default: one per core)", .min = 1, .max = 256                        \
  }

#define CLI_MAX_OPTS 64

typedef struct cli_args {
  const char *config; /* --config FILE, or NULL */
  char **pos;         /* the positional arguments, in order (they are moved to argv[1..]) */
  int n_pos;
  bool given[CLI_MAX_OPTS]; /* given[i]: opts[i] was on the command line */
} cli_args;

/* Parses argv[1..argc) (argv[0] is the command's name) against s. Positional arguments are moved,
 * in order, to argv[1..1+n_pos); option values stay borrowed from argv. Returns 0 to go on,
 * CLI_HELP after printing the help to stdout (the command exits 0), or 2 after printing one line
 * naming what was wrong plus "see 'mimic CMD --help'" to stderr. */
#define CLI_HELP (-1)
int cli_parse(const cli_spec *s, int argc, char **argv, cli_args *a);

/* cli_parse, then the configuration (--config, MIMIC_CONFIG or ./mimic.conf, then the environment:
 * cli_config_load), then every option with a config key that was not given takes its value from
 * the configuration. Returns the configuration (caller destroys), or NULL with *status set: 0
 * after the help, 2 after a usage error, 1 after a configuration error. */
cfg *cli_start(const cli_spec *s, int argc, char **argv, cli_args *a, int *status);

/* Fills every option of s that has a config key and was not given from c, checked against the
 * option's bounds. Returns 0, or 2 after printing why. */
int cli_apply_config(const cli_spec *s, const cli_args *a, const cfg *c);

/* Whether opts[i] named `name` was given on the command line. */
bool cli_given(const cli_spec *s, const cli_args *a, const char *name);

/* Runs a command group: argv[1] names the subcommand (s->subs); `--help` lists them. Returns the
 * subcommand's status, 0 after the help, or 2 after a usage error. */
int cli_dispatch(const cli_spec *s, int argc, char **argv);

/* Prints the usage line, the description, the options and the example to f. */
void cli_help(const cli_spec *s, FILE *f);

/* Prints "mimic CMD: <message>" plus "see 'mimic CMD --help'" to stderr; returns 2. */
int cli_usage_error(const cli_spec *s, const char *fmt, ...) MIMIC_PRINTF(2, 3);

#endif
