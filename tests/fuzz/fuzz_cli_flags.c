/* Fuzz target for the command-line flag parser (src/cli/flags.c): the input, split at NUL bytes,
 * is an argv read against a table holding every option type, a repeatable option, an alias,
 * --config and positional arguments. Invariants: nothing crashes or leaks, the result is 0 or 2
 * (help is left out: it only prints), positional arguments are a subset of the input in order,
 * and values stay within their bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* flags.c and common.c belong to the mimic executable, not to a library: built in here. */
#include "cli/common.c"
#include "cli/flags.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARGS_MAX 32

static int each_count;
static int count_each(const char *v, void *user) {
  (void)v;
  (void)user;
  each_count++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  static FILE *null_err;
  if (!null_err) null_err = freopen("/dev/null", "w", stderr); /* the usage errors */
  char *copy = malloc(size + 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  copy[size] = 0;
  char *argv[ARGS_MAX + 2];
  int argc = 0;
  argv[argc++] = "fuzz";
  for (size_t i = 0; i <= size && argc <= ARGS_MAX;) {
    char *arg = copy + i;
    size_t len = strlen(arg);
    if (strcmp(arg, "--help") != 0 && strcmp(arg, "-h") != 0) argv[argc++] = arg;
    i += len + 1;
  }
  argv[argc] = NULL;
  char *orig[ARGS_MAX + 2];
  memcpy(orig, argv, sizeof argv);

  bool b = false;
  int n = 0;
  int64_t i64 = 0;
  uint64_t u = 0, id = 0;
  double d = 0;
  float f = 0;
  const char *s = NULL, *path = NULL;
  each_count = 0;
  const cli_opt opts[] = {
      {.name = "bool", .short_name = 'b', .type = CLI_BOOL, .dest = &b},
      {.name = "int", .short_name = 'n', .type = CLI_INT, .dest = &n, .min = -5, .max = 5},
      {.name = "i64", .type = CLI_I64, .dest = &i64, .alias = "long"},
      {.name = "u64", .type = CLI_U64, .dest = &u},
      {.name = "id", .type = CLI_ID, .dest = &id},
      {.name = "double", .type = CLI_DOUBLE, .dest = &d, .min = 0, .max = 1},
      {.name = "float", .type = CLI_FLOAT, .dest = &f, .key = CLI_KEY(CFG_ENGINE_TOP_P)},
      {.name = "str", .short_name = 's', .type = CLI_STR, .dest = &s},
      {.name = "path", .type = CLI_PATH, .dest = &path},
      {.name = "each", .type = CLI_STR, .repeat = true, .each = count_each},
      {0}};
  const cli_spec spec = {
      .name = "fuzz", .args = "A [B]", .min_args = 1, .max_args = 2, .config = true, .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc != 0 && rc != 2) abort();
  if (rc == 0) {
    if (a.n_pos < 1 || a.n_pos > 2) abort();
    if (n < -5 || n > 5 || d < 0 || d > 1 || f < 0 || f > 1) abort();
    if (id > (uint64_t)INT64_MAX) abort();
    if (path && !*path) abort();
    int k = 1; /* positional arguments appear in the input, in order */
    for (int p = 0; p < a.n_pos; p++) {
      while (k < argc && orig[k] != a.pos[p]) k++;
      if (k == argc) abort();
      k++;
    }
  }
  free(copy);
  return 0;
}
