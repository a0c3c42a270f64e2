/* Tests for the table-driven flag parser (src/cli/flags.c) in-process: values of every type,
 * options before and after positional arguments, --opt=value, --, aliases, repeatable options, a
 * second occurrence refused, bounds (the option's own, else its config key's), and defaults taken
 * from the configuration only for options not given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* flags.c and common.c belong to the mimic executable, not to a library: built in here. */
#include "cli/common.c"
#include "cli/flags.c"
#include "test.h"

typedef struct vals {
  bool b;
  int n;
  int64_t big;
  uint64_t id, seed;
  double d;
  float f;
  const char *s, *path;
  int each;
} vals;

static int count_each(const char *v, void *user) {
  vals *x = user;
  x->each++;
  return strcmp(v, "bad") == 0 ? 2 : 0;
}

/* Parses the NULL-terminated args against a table of every type. */
static int parse(vals *x, cli_args *a, const char *const *args, cfg *c) {
  static char *argv[32];
  static char store[32][64];
  int argc = 0;
  argv[argc++] = "t";
  for (; args[argc - 1]; argc++) {
    snprintf(store[argc], sizeof store[argc], "%s", args[argc - 1]);
    argv[argc] = store[argc];
  }
  memset(x, 0, sizeof *x);
  const cli_opt opts[] = {
      {.name = "bool", .short_name = 'b', .type = CLI_BOOL, .dest = &x->b},
      {.name = "window",
       .short_name = 'w',
       .type = CLI_INT,
       .dest = &x->n,
       .key = CLI_KEY(CFG_COLLECT_WINDOW)},
      {.name = "big", .type = CLI_I64, .dest = &x->big, .min = -10, .max = 10, .alias = "large"},
      {.name = "user", .type = CLI_ID, .dest = &x->id},
      {.name = "seed", .type = CLI_U64, .dest = &x->seed},
      {.name = "frac", .type = CLI_DOUBLE, .dest = &x->d, .key = CLI_KEY(CFG_COLLECT_VALID_FRAC)},
      {.name = "scale", .type = CLI_FLOAT, .dest = &x->f, .min = 0, .max = 2},
      {.name = "str", .short_name = 's', .type = CLI_STR, .dest = &x->s},
      {.name = "path", .type = CLI_PATH, .dest = &x->path},
      {.name = "each", .type = CLI_STR, .repeat = true, .each = count_each, .user = x},
      {0}};
  static const cli_spec base = {
      .name = "t", .args = "A [B]", .min_args = 1, .max_args = 2, .config = true};
  cli_spec spec = base;
  spec.opts = opts;
  FILE *saved = stderr;
  stderr = fopen("/dev/null", "w"); /* the usage errors */
  int rc = cli_parse(&spec, argc, argv, a);
  if (!rc && c) rc = cli_apply_config(&spec, a, c);
  fclose(stderr);
  stderr = saved;
  return rc;
}

TEST(values_and_positions) {
  vals x;
  cli_args a;
  const char *args[] = {"first",  "--window=7",        "-b",     "--big", "-3", "second",
                        "--user", "80351110224678912", "--frac", "0.25",  "-s", "--x",
                        NULL};
  CHECK_INT(parse(&x, &a, args, NULL), 0);
  CHECK_INT(a.n_pos, 2);
  CHECK_STR(a.pos[0], "first");
  CHECK_STR(a.pos[1], "second");
  CHECK(a.pos[2] == NULL);
  CHECK_INT(x.n, 7);
  CHECK(x.b);
  CHECK_INT(x.big, -3); /* a value may start with '-' */
  CHECK(x.id == UINT64_C(80351110224678912));
  CHECK_NEAR(x.d, 0.25, 1e-12);
  CHECK_STR(x.s, "--x");
  CHECK(a.given[1] && !a.given[4]);
}

TEST(double_dash_alias_repeat_and_config) {
  vals x;
  cli_args a;
  const char *args[] = {"--large=4", "--each", "a",      "--each=b", "--config",
                        "/x.conf",   "--",     "--bool", NULL};
  CHECK_INT(parse(&x, &a, args, NULL), 0);
  CHECK_INT(x.big, 4);
  CHECK_INT(x.each, 2);
  CHECK_STR(a.config, "/x.conf");
  CHECK_INT(a.n_pos, 1);
  CHECK_STR(a.pos[0], "--bool"); /* after --, a name */
  CHECK(!x.b);
  const char *dash[] = {"-", NULL}; /* "-" alone is a name (standard input) */
  CHECK_INT(parse(&x, &a, dash, NULL), 0);
  CHECK_STR(a.pos[0], "-");
}

TEST(errors) {
  vals x;
  cli_args a;
  const char *const cases[][4] = {
      {"a", "--nope", NULL},       {"a", "-z", NULL},
      {"a", "--window", NULL},     {"a", "--window", "1.5", NULL},
      {"a", "--window=1", NULL}, /* below collect.window's 2 */
      {"a", "--big", "11", NULL},  {"a", "--user", "0", NULL},
      {"a", "--seed", "-1", NULL}, {"a", "--scale", "nan", NULL},
      {"a", "--bool=1", NULL},     {"a", "-b", "-b", NULL},
      {"a", "--path=", NULL},      {NULL},
      {"a", "b", "c", NULL},       {"a", "--each", "bad", NULL},
      {"a", "--config", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = parse(&x, &a, cases[i], NULL);
    if (rc != 2)
      TEST_FAIL_("case %zu (%s %s): rc %d, want 2", i, cases[i][0] ? cases[i][0] : "",
                 cases[i][0] && cases[i][1] ? cases[i][1] : "", rc);
  }
}

TEST(config_defaults_only_for_options_not_given) {
  cfg *c = cfg_new();
  CHECK_OK(cfg_set(c, "collect.window", "12", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "collect.valid_frac", "0.5", CFG_SRC_ENV));
  vals x;
  cli_args a;
  const char *args[] = {"a", "--window", "3", NULL};
  CHECK_INT(parse(&x, &a, args, c), 0);
  CHECK_INT(x.n, 3);           /* given: kept */
  CHECK_NEAR(x.d, 0.5, 1e-12); /* not given: the configuration's */
  const char *none[] = {"a", NULL};
  CHECK_INT(parse(&x, &a, none, c), 0);
  CHECK_INT(x.n, 12);
  cfg_destroy(c);
}

int main(void) {
  RUN(values_and_positions);
  RUN(double_dash_alias_repeat_and_config);
  RUN(errors);
  RUN(config_defaults_only_for_options_not_given);
  TEST_MAIN_END();
}
