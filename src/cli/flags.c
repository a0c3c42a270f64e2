/* The table-driven flag parser every command uses (see flags.h). */
#include "cli/flags.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HELP_COL   28  /* where an option's help text starts */
#define HELP_WIDTH 100 /* the help's lines stay within it where they can */

static int n_opts(const cli_spec *s) {
  int n = 0;
  while (s->opts && s->opts[n].name) n++;
  return n;
}

static void usage_line(const cli_spec *s, FILE *f) {
  fprintf(f, "usage: mimic %s", s->name);
  if (s->subs) { /* a group: the subcommand comes first, its options after it */
    fprintf(f, " %s\n", s->args ? s->args : "COMMAND");
    return;
  }
  if (n_opts(s) || s->config) fputs(" [OPTIONS]", f);
  if (s->args) fprintf(f, " %s", s->args);
  fputc('\n', f);
}

int cli_usage_error(const cli_spec *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mimic %s: ", s->name);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  usage_line(s, stderr);
  fprintf(stderr, "see 'mimic %s --help'\n", s->name);
  return 2;
}

/* The bounds that apply to o: its own, else its config key's. */
static void bounds(const cli_opt *o, double *lo, double *hi) {
  *lo = o->min;
  *hi = o->max;
  if (!(*lo < *hi) && o->key) {
    const cfg_key *k = cfg_key_get((cfg_id)(o->key - 1));
    if (k && k->min < k->max) {
      *lo = k->min;
      *hi = k->max;
    }
  }
}

static void print_opt(const cli_opt *o, FILE *f) {
  char left[96];
  int n = snprintf(left, sizeof left, "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
                   o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                   o->meta ? " " : "", o->meta ? o->meta : "");
  fputs(left, f);
  if (n >= HELP_COL - 1)
    fprintf(f, "\n%*s", HELP_COL, "");
  else
    fprintf(f, "%*s", HELP_COL - n, "");
  const char *help = o->help ? o->help : "";
  fputs(help, f);
  char more[160] = "";
  size_t m = 0;
  if (o->key) {
    const cfg_key *k = cfg_key_get((cfg_id)(o->key - 1));
    m += (size_t)snprintf(more + m, sizeof more - m, " (default: %s = %s)", k->name,
                          k && k->dflt && *k->dflt ? k->dflt : "\"\"");
  }
  if (o->alias && m < sizeof more)
    m += (size_t)snprintf(more + m, sizeof more - m, " (also --%s)", o->alias);
  if (o->repeat && m < sizeof more) snprintf(more + m, sizeof more - m, " (repeatable)");
  if (*more && HELP_COL + strlen(help) + strlen(more) > HELP_WIDTH)
    fprintf(f, "\n%*s%s\n", HELP_COL, "", more + 1); /* on its own line */
  else
    fprintf(f, "%s\n", more);
}

void cli_help(const cli_spec *s, FILE *f) {
  usage_line(s, f);
  if (s->summary) fprintf(f, "\n%s\n", s->summary);
  if (s->subs) {
    fputs("\ncommands:\n", f);
    for (const cli_sub *c = s->subs; c->name; c++)
      fprintf(f, "  %-*s%s\n", HELP_COL - 2, c->name, c->summary ? c->summary : "");
  }
  fputs("\noptions:\n", f);
  for (const cli_opt *o = s->opts; o && o->name; o++) print_opt(o, f);
  if (s->config) {
    cli_opt cf = {.name = "config",
                  .meta = "FILE",
                  .help = "configuration file (default: $MIMIC_CONFIG, else ./mimic.conf if it "
                          "exists)"};
    print_opt(&cf, f);
  }
  cli_opt h = {.name = "help", .short_name = 'h', .help = "this help"};
  print_opt(&h, f);
  if (s->example) {
    fputs("\nexample:\n", f);
    const char *p = s->example;
    while (*p) {
      size_t len = strcspn(p, "\n");
      fprintf(f, "  mimic %.*s\n", (int)len, p);
      p += len;
      if (*p) p++;
    }
  }
}

/* Stores v (the value given for o) into o->dest, checked. */
static int store_value(const cli_spec *s, const cli_opt *o, const char *v) {
  if (o->each) return o->each(v, o->user) ? 2 : 0;
  double lo, hi;
  bounds(o, &lo, &hi);
  bool bounded = lo < hi;
  int64_t i;
  uint64_t u;
  double d;
  switch (o->type) {
  case CLI_BOOL: *(bool *)o->dest = true; return 0;
  case CLI_STR:
  case CLI_PATH:
    if (o->type == CLI_PATH && !*v) return cli_usage_error(s, "--%s: an empty name", o->name);
    *(const char **)o->dest = v;
    return 0;
  case CLI_ID:
    if (str_to_u64(v, &u) || u == 0 || u > (uint64_t)INT64_MAX)
      return cli_usage_error(s, "--%s: '%s' is not a Discord id (a number like 80351110224678912)",
                             o->name, v);
    *(uint64_t *)o->dest = u;
    return 0;
  case CLI_U64:
    if (str_to_u64(v, &u))
      return cli_usage_error(s, "--%s: '%s' is not a non-negative whole number", o->name, v);
    *(uint64_t *)o->dest = u;
    return 0;
  case CLI_INT:
  case CLI_I64:
    if (o->type == CLI_INT && !bounded) lo = INT32_MIN, hi = INT32_MAX, bounded = true;
    if (str_to_i64(v, &i) || (bounded && ((double)i < lo || (double)i > hi))) {
      if (bounded)
        return cli_usage_error(s, "--%s: '%s' is not a whole number from %.0f to %.0f", o->name, v,
                               lo, hi);
      return cli_usage_error(s, "--%s: '%s' is not a whole number", o->name, v);
    }
    if (o->type == CLI_INT)
      *(int *)o->dest = (int)i;
    else
      *(int64_t *)o->dest = i;
    return 0;
  case CLI_DOUBLE:
  case CLI_FLOAT:
    if (str_to_double(v, &d) || !isfinite(d) || (bounded && (d < lo || d > hi))) {
      if (bounded)
        return cli_usage_error(s, "--%s: '%s' is not a number from %g to %g", o->name, v, lo, hi);
      return cli_usage_error(s, "--%s: '%s' is not a number", o->name, v);
    }
    if (o->type == CLI_FLOAT)
      *(float *)o->dest = (float)d;
    else
      *(double *)o->dest = d;
    return 0;
  }
  return 2;
}

/* The option argv names (a long name with any "=value" cut, or a short one), or NULL. */
static int find_long(const cli_spec *s, const char *name, size_t len) {
  for (int k = 0; s->opts && s->opts[k].name; k++) {
    const cli_opt *o = &s->opts[k];
    if ((strlen(o->name) == len && strncmp(o->name, name, len) == 0) ||
        (o->alias && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0))
      return k;
  }
  return -1;
}

static int find_short(const cli_spec *s, char c) {
  for (int k = 0; s->opts && s->opts[k].name; k++)
    if (s->opts[k].short_name == c) return k;
  return -1;
}

int cli_parse(const cli_spec *s, int argc, char **argv, cli_args *a) {
  memset(a, 0, sizeof *a);
  MIMIC_ASSERT(n_opts(s) <= CLI_MAX_OPTS);
  int w = 1; /* where the next positional argument goes */
  bool options = true, config_given = false;
  for (int i = 1; i < argc; i++) {
    char *arg = argv[i];
    if (!options || arg[0] != '-' || arg[1] == '\0') { /* "-" alone is a name (stdin) */
      argv[w++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      options = false;
      continue;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      cli_help(s, stdout);
      return CLI_HELP;
    }
    const char *name, *inline_val = NULL;
    int k;
    char shown[64];
    if (arg[1] == '-') {
      name = arg + 2;
      const char *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      if (eq) inline_val = eq + 1;
      snprintf(shown, sizeof shown, "--%.*s", (int)(len < 40 ? len : 40), name);
      if (s->config && len == 6 && strncmp(name, "config", 6) == 0) {
        const char *v = inline_val;
        if (!v && i + 1 >= argc) return cli_usage_error(s, "--config needs a value (FILE)");
        if (!v) v = argv[++i];
        if (config_given) return cli_usage_error(s, "--config given twice");
        if (!*v) return cli_usage_error(s, "--config: an empty name");
        a->config = v;
        config_given = true;
        continue;
      }
      k = find_long(s, name, len);
    } else {
      if (arg[2] != '\0') return cli_usage_error(s, "unknown option '%s'", arg);
      snprintf(shown, sizeof shown, "-%c", arg[1]);
      k = find_short(s, arg[1]);
    }
    if (k < 0) return cli_usage_error(s, "unknown option '%s'", shown);
    const cli_opt *o = &s->opts[k];
    if (a->given[k] && !o->repeat) return cli_usage_error(s, "--%s given twice", o->name);
    a->given[k] = true;
    if (o->type == CLI_BOOL) {
      if (inline_val) return cli_usage_error(s, "--%s takes no value", o->name);
      int rc = o->each ? o->each("", o->user) : (*(bool *)o->dest = true, 0);
      if (rc) return 2;
      continue;
    }
    const char *v = inline_val;
    if (!v) {
      if (i + 1 >= argc)
        return cli_usage_error(s, "%s needs a value (%s)", shown, o->meta ? o->meta : "VALUE");
      v = argv[++i];
    }
    int rc = store_value(s, o, v);
    if (rc) return rc;
  }
  a->pos = argv + 1;
  a->n_pos = w - 1;
  if (w < argc) argv[w] = NULL;
  if (a->n_pos < s->min_args) {
    if (s->subs) return cli_usage_error(s, "which command? (%s)", s->args ? s->args : "");
    return cli_usage_error(s, "missing %s", s->args ? s->args : "arguments");
  }
  if (s->max_args >= 0 && a->n_pos > s->max_args)
    return cli_usage_error(s, "unexpected argument '%s'", a->pos[s->max_args]);
  return 0;
}

bool cli_given(const cli_spec *s, const cli_args *a, const char *name) {
  for (int k = 0; s->opts && s->opts[k].name; k++)
    if (strcmp(s->opts[k].name, name) == 0) return a->given[k];
  MIMIC_ASSERT(!"cli_given: no such option");
  return false;
}

int cli_apply_config(const cli_spec *s, const cli_args *a, const cfg *c) {
  for (int k = 0; s->opts && s->opts[k].name; k++) {
    const cli_opt *o = &s->opts[k];
    if (!o->key || a->given[k] || !o->dest) continue;
    cfg_id id = (cfg_id)(o->key - 1);
    switch (o->type) {
    case CLI_BOOL: *(bool *)o->dest = cfg_bool(c, id); break;
    case CLI_STR:
    case CLI_PATH: *(const char **)o->dest = cfg_str(c, id); break;
    case CLI_INT: *(int *)o->dest = (int)cfg_int(c, id); break;
    case CLI_I64: *(int64_t *)o->dest = cfg_int(c, id); break;
    case CLI_U64:
    case CLI_ID: *(uint64_t *)o->dest = (uint64_t)cfg_int(c, id); break;
    case CLI_DOUBLE: *(double *)o->dest = cfg_num(c, id); break;
    case CLI_FLOAT: *(float *)o->dest = (float)cfg_num(c, id); break;
    }
    /* The option's own bounds may be narrower than the key's. */
    double lo, hi, v = 0;
    bounds(o, &lo, &hi);
    if (!(lo < hi)) continue;
    if (o->type == CLI_INT)
      v = *(int *)o->dest;
    else if (o->type == CLI_I64)
      v = (double)*(int64_t *)o->dest;
    else if (o->type == CLI_DOUBLE)
      v = *(double *)o->dest;
    else if (o->type == CLI_FLOAT)
      v = *(float *)o->dest;
    else
      continue;
    if (v < lo || v > hi) {
      cli_error("%s = %g does not fit --%s (from %g to %g)", cfg_key_get(id)->name, v, o->name, lo,
                hi);
      return 2;
    }
  }
  return 0;
}

cfg *cli_start(const cli_spec *s, int argc, char **argv, cli_args *a, int *status) {
  int rc = cli_parse(s, argc, argv, a);
  if (rc) {
    *status = rc == CLI_HELP ? 0 : rc;
    return NULL;
  }
  cfg *c = cli_config_load(a->config);
  if (!c) {
    *status = 1;
    return NULL;
  }
  if ((rc = cli_apply_config(s, a, c))) {
    cfg_destroy(c);
    *status = rc;
    return NULL;
  }
  *status = 0;
  return c;
}

int cli_dispatch(const cli_spec *s, int argc, char **argv) {
  if (argc >= 2 && argv[1][0] != '-') {
    for (const cli_sub *c = s->subs; c->name; c++)
      if (strcmp(argv[1], c->name) == 0) return c->fn(argc - 1, argv + 1);
    return cli_usage_error(s, "unknown command '%s'", argv[1]);
  }
  cli_args a;
  int rc = cli_parse(s, argc, argv, &a);
  return rc == CLI_HELP ? 0 : rc ? rc : cli_usage_error(s, "which command?");
}
