/* Reading TRL conversational JSONL (`mimic prepare`'s sft-messages.*.jsonl) for evaluation: one
 * sample per line, the last turn being the assistant reply to imitate. Capped line length, sample
 * count and turns per sample, so a hostile file fails with a message instead of exhausting memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval.h"

void eval_dataset_free(eval_dataset *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    for (size_t k = 0; k < d->s[i].n; k++) {
      mem_free(d->s[i].turns[k].role);
      mem_free(d->s[i].turns[k].content);
    }
    mem_free(d->s[i].turns);
  }
  mem_free(d->s);
  d->s = NULL;
  d->n = 0;
}

static char *repaired(const char *s) { return utf8_repair(s, strlen(s)); }

/* Parses one line into *smp; returns 0 or MIMIC_EFORMAT/ERANGE with the reason (no path). */
static int parse_line(const char *line, size_t len, eval_sample *smp) {
  json_t *j = jv_parse(line, len, "line");
  if (!j) return MIMIC_EFORMAT;
  int rc = 0;
  json_t *msgs = json_object_get(j, "messages");
  size_t n = json_array_size(msgs);
  if (!json_is_array(msgs) || n == 0) {
    rc = err_set(MIMIC_EFORMAT, "no \"messages\" array (expected TRL conversational format)");
    goto out;
  }
  if (n > EVAL_MAX_TURNS) {
    rc = err_set(MIMIC_ERANGE, "%zu messages is over the %u-message cap", n, EVAL_MAX_TURNS);
    goto out;
  }
  smp->turns = xcalloc(n, sizeof *smp->turns);
  for (size_t i = 0; i < n; i++) {
    const json_t *m = json_array_get(msgs, i);
    const char *role = jv_str(m, "role", NULL), *content = jv_str(m, "content", NULL);
    if (!role || !content) {
      rc = err_set(MIMIC_EFORMAT, "message %zu has no string \"role\" and \"content\"", i);
      goto out;
    }
    smp->turns[i].role = repaired(role);
    smp->turns[i].content = repaired(content);
    smp->n = i + 1;
  }
  if (strcmp(smp->turns[n - 1].role, "assistant") != 0)
    rc = err_set(MIMIC_EFORMAT, "the last message is \"%s\", not the assistant reply",
                 smp->turns[n - 1].role);
out:
  json_decref(j);
  return rc;
}

int eval_dataset_load(const char *path, size_t max, eval_dataset *out) {
  memset(out, 0, sizeof *out);
  if (!max || max > EVAL_MAX_SAMPLES) max = EVAL_MAX_SAMPLES;
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  buf line;
  buf_init(&line, EVAL_LINE_MAX);
  size_t cap = 0, lineno = 0;
  int rc = 0, c = 0;
  while (out->n < max && c != EOF) {
    buf_reset(&line);
    lineno++;
    while ((c = getc(f)) != EOF && c != '\n') {
      char ch = (char)c;
      if ((rc = buf_append(&line, &ch, 1))) {
        rc =
            err_set(MIMIC_ERANGE, "%s:%zu: line longer than %u bytes", path, lineno, EVAL_LINE_MAX);
        goto out;
      }
    }
    size_t k = line.len;
    while (k && (line.data[k - 1] == '\r' || line.data[k - 1] == ' ' || line.data[k - 1] == '\t'))
      k--;
    if (!k) continue;
    if (out->n == cap) {
      cap = cap ? cap * 2 : 64;
      out->s = xrealloc(out->s, cap * sizeof *out->s);
    }
    eval_sample *smp = &out->s[out->n++];
    memset(smp, 0, sizeof *smp);
    if ((rc = parse_line(line.data, k, smp))) {
      rc = err_prefix(rc, "%s:%zu", path, lineno);
      goto out;
    }
  }
  if (ferror(f)) rc = err_set(MIMIC_EIO, "%s: read error", path);
out:
  buf_free(&line);
  fclose(f);
  return rc;
}
