/* The blind-test kit: real and generated replies to the same contexts, shuffled into a sheet that
 * people judge ("real or generated?") with the answer key in a separate file, and the scorer that
 * turns a filled-in sheet into accuracy, a binomial p-value against guessing, and a Wilson
 * interval. Judges at about 50% cannot tell the model from the community. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval.h"
#include "eval/eval_int.h"
#include "llm/sampler.h"

/* ---- CSV ----------------------------------------------------------------------------------------
 */

void eval_csv_free(char **fields, size_t n) {
  for (size_t i = 0; i < n; i++) mem_free(fields[i]);
  mem_free(fields);
}

int eval_csv_record(const char *data, size_t n, size_t *pos, char ***fields, size_t *nfields) {
  *fields = NULL;
  *nfields = 0;
  size_t p = *pos;
  if (p >= n) return 0;
  buf f;
  buf_init(&f, EVAL_CSV_FIELD_MAX);
  char **out = NULL;
  size_t nout = 0;
  int rc = 0;
  for (;;) {
    buf_reset(&f);
    if (p < n && data[p] == '"') {
      p++;
      for (;;) {
        if (p >= n) {
          rc = err_set(MIMIC_EFORMAT, "unterminated quoted field");
          goto fail;
        }
        if (data[p] == '"') {
          if (p + 1 < n && data[p + 1] == '"') {
            if ((rc = buf_putc(&f, '"'))) goto toolong;
            p += 2;
            continue;
          }
          p++;
          break;
        }
        if ((rc = buf_putc(&f, data[p++]))) goto toolong;
      }
      if (p < n && data[p] != ',' && data[p] != '\n' && data[p] != '\r') {
        rc = err_set(MIMIC_EFORMAT, "text after a closing quote");
        goto fail;
      }
    } else {
      while (p < n && data[p] != ',' && data[p] != '\n' && data[p] != '\r')
        if ((rc = buf_putc(&f, data[p++]))) goto toolong;
    }
    if (nout == 1024) {
      rc = err_set(MIMIC_ERANGE, "more than 1024 fields in a record");
      goto fail;
    }
    out = xrealloc(out, (nout + 1) * sizeof *out);
    out[nout++] = buf_steal(&f);
    if (p < n && data[p] == ',') {
      p++;
      continue;
    }
    if (p < n && data[p] == '\r') p++;
    if (p < n && data[p] == '\n') p++;
    break;
  }
  buf_free(&f);
  *pos = p;
  *fields = out;
  *nfields = nout;
  return 1;
toolong:
  rc = err_set(MIMIC_ERANGE, "a field is over %u bytes", EVAL_CSV_FIELD_MAX);
fail:
  buf_free(&f);
  eval_csv_free(out, nout);
  return rc;
}

/* ---- writing a kit
 * -------------------------------------------------------------------------------- */

/* The last 4 lines of a context. */
static const char *tail_lines(const char *s) {
  const char *p = s + strlen(s);
  int lines = 0;
  while (p > s) {
    if (p[-1] == '\n' && ++lines == 4) break;
    p--;
  }
  return p;
}

/* Replies shorter than this give an item away only as a whole context line ("k: ok"), longer ones
 * anywhere in a context. */
#define LEAK_MIN_SUBSTRING 12

/* Does the text of reply (without its "Name: ") appear word for word in the shown context ctx? */
static bool leaks_into(const char *reply, const char *ctx) {
  const char *t = eval_strip_speaker(reply);
  while (*t == ' ' || *t == '\t' || *t == '\n') t++;
  size_t n = strlen(t);
  while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n')) n--;
  if (n == 0) return false;
  for (const char *line = ctx; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *text = eval_strip_speaker(line); /* may run past the line: bounded below */
    if (text > line + len) text = line;
    size_t tl = (size_t)(line + len - text);
    if ((tl == n && memcmp(text, t, n) == 0) || (len == n && memcmp(line, t, n) == 0)) return true;
    if (!end) break;
    line = end + 1;
  }
  if (n < LEAK_MIN_SUBSTRING) return false;
  for (const char *p = strchr(ctx, t[0]); p; p = strchr(p + 1, t[0]))
    if (strncmp(p, t, n) == 0) return true;
  return false;
}

/* ctx, or a repaired copy in *own when it is not valid UTF-8 (generation may have cut a
 * character): the kit never holds invalid UTF-8. */
static const char *valid_text(const char *s, char **own) {
  *own = NULL;
  if (utf8_valid(s, strlen(s))) return s;
  *own = utf8_repair(s, strlen(s));
  return *own;
}

int eval_blind_write(const char *dir, const char *const *context, const char *const *real,
                     const char *const *gen, size_t n, uint64_t seed) {
  return eval_blind_pick(dir, context, real, gen, n, n, seed, NULL);
}

int eval_blind_pick(const char *dir, const char *const *context, const char *const *real,
                    const char *const *gen, size_t n, size_t max_items, uint64_t seed,
                    size_t *kept) {
  if (kept) *kept = 0;
  if (n == 0 || max_items == 0)
    return err_set(MIMIC_EINVAL, "blind test: no replies to put in the sheet");
  /* Items, in order, whose real reply is not in another chosen item's shown context and whose
   * context shows no chosen item's real reply. */
  size_t *pick = xalloc(n * sizeof *pick), np = 0, dropped = 0;
  for (size_t i = 0; i < n && np < max_items; i++) {
    bool ok = true;
    for (size_t k = 0; k < np && ok; k++) {
      size_t j = pick[k];
      ok = !leaks_into(real[i], tail_lines(context[j])) &&
           !leaks_into(real[j], tail_lines(context[i]));
    }
    if (ok)
      pick[np++] = i;
    else
      dropped++;
  }
  if (dropped)
    LOG_I("eval",
          "blind test: %zu context%s left out: their real reply is shown in another item's "
          "context",
          dropped, dropped == 1 ? "" : "s");
  if (np > EVAL_BLIND_MAX / 2) {
    mem_free(pick);
    return err_set(MIMIC_ERANGE, "blind test: %zu items is over the %u cap", 2 * np,
                   EVAL_BLIND_MAX);
  }
  int rc;
  if ((rc = fs_mkdirs(dir))) {
    mem_free(pick);
    return rc;
  }
  size_t m = 2 * np;
  size_t *order = xalloc(m * sizeof *order);
  for (size_t i = 0; i < m; i++) order[i] = i; /* even: real[pick[i/2]], odd: gen[pick[i/2]] */
  prng r;
  prng_seed(&r, seed);
  for (size_t i = m - 1; i > 0; i--) {
    size_t j = (size_t)(prng_next(&r) % (i + 1));
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  buf sheet, key, html;
  buf_init(&sheet, 0);
  buf_init(&key, 0);
  buf_init(&html, 0);
  char path[4200];
  rc = buf_puts(&sheet, "id,context,reply,guess\r\n");
  if (!rc) rc = buf_puts(&key, "id,truth\r\n");
  if (!rc)
    rc = buf_puts(
        &html,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mimic blind test</title>"
        "<style>body{font-family:sans-serif;max-width:820px;margin:2em auto}"
        ".ctx{color:#555;white-space:pre-wrap;font-size:90%}.reply{white-space:pre-wrap;"
        "font-weight:bold;margin:.3em 0 1.2em}</style></head><body>\n<h1>Real or generated?</h1>\n"
        "<p>Each item shows the end of a conversation and one reply. Some replies were written by "
        "people on the server, some by the model. For each id, write <b>real</b> or "
        "<b>generated</b> in the <i>guess</i> column of <code>blind-sheet.csv</code> (leave it "
        "blank if you have no idea), then run <code>mimic eval --score blind-sheet.csv --key "
        "blind-key.csv</code>. Do not open the key.</p>\n");
  for (size_t k = 0; k < m && !rc; k++) {
    size_t i = pick[order[k] / 2];
    bool is_gen = order[k] & 1;
    char *own_ctx, *own_reply;
    const char *ctx = valid_text(tail_lines(context[i]), &own_ctx),
               *reply = valid_text(is_gen ? gen[i] : real[i], &own_reply);
    if (!(rc = buf_printf(&sheet, "%zu,", k + 1)) && !(rc = eval__csv_field(&sheet, ctx)) &&
        !(rc = buf_putc(&sheet, ',')) && !(rc = eval__csv_field(&sheet, reply)))
      rc = buf_puts(&sheet, ",\r\n");
    if (!rc) rc = buf_printf(&key, "%zu,%s\r\n", k + 1, is_gen ? "generated" : "real");
    if (!rc) rc = buf_printf(&html, "<h3>%zu</h3><div class=\"ctx\">", k + 1);
    if (!rc) rc = eval__html(&html, ctx);
    if (!rc) rc = buf_puts(&html, "</div><div class=\"reply\">");
    if (!rc) rc = eval__html(&html, reply);
    if (!rc) rc = buf_puts(&html, "</div>\n");
    mem_free(own_ctx);
    mem_free(own_reply);
  }
  if (!rc) rc = buf_puts(&html, "</body></html>\n");
  if (rc) {
    rc = err_set(MIMIC_ENOMEM, "blind test: out of memory building the sheet");
    goto out;
  }
  snprintf(path, sizeof path, "%s/blind-sheet.csv", dir);
  if ((rc = fs_write_atomic(path, sheet.data, sheet.len))) goto out;
  snprintf(path, sizeof path, "%s/blind-sheet.html", dir);
  if ((rc = fs_write_atomic(path, html.data, html.len))) goto out;
  snprintf(path, sizeof path, "%s/blind-key.csv", dir);
  rc = fs_write_atomic(path, key.data, key.len);
  if (!rc && kept) *kept = np;
out:
  buf_free(&sheet);
  buf_free(&key);
  buf_free(&html);
  mem_free(order);
  mem_free(pick);
  return rc;
}

/* ---- scoring ------------------------------------------------------------------------------------
 */

double eval_binom_tail_half(int k, int n) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  /* sum_{i=k}^{n} C(n,i) / 2^n in log space */
  double mx = -INFINITY, *lt = xalloc((size_t)(n - k + 1) * sizeof *lt);
  for (int i = k; i <= n; i++) {
    lt[i - k] = lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0);
    if (lt[i - k] > mx) mx = lt[i - k];
  }
  double s = 0;
  for (int i = k; i <= n; i++) s += exp(lt[i - k] - mx);
  mem_free(lt);
  double p = exp(mx + log(s));
  return p > 1 ? 1 : p;
}

/* Truth per id (1..EVAL_BLIND_MAX): 0 unknown, 1 real, 2 generated. */
static int label_of(const char *s, int *out) {
  char t[32];
  str_lcpy(t, s, sizeof t);
  str_trim(t);
  for (char *p = t; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  static const char *const real_w[] = {"real", "human", "r", "h", "person"};
  static const char *const gen_w[] = {"generated", "gen", "bot", "ai", "machine", "fake",
                                      "model",     "g",   "b",   "m",  "f"};
  *out = 0;
  if (!*t) return 0;
  for (size_t i = 0; i < sizeof real_w / sizeof *real_w; i++)
    if (strcmp(t, real_w[i]) == 0) *out = 1;
  for (size_t i = 0; i < sizeof gen_w / sizeof *gen_w; i++)
    if (strcmp(t, gen_w[i]) == 0) *out = 2;
  return *out ? 0 : MIMIC_EFORMAT;
}

/* Reads a CSV with columns named a and b (by header), calling fn(row, va, vb). */
typedef int (*row_fn)(const char *path, size_t row, const char *id, const char *val, void *user);

static int each_row(const char *path, const char *ca, const char *cb, row_fn fn, void *user) {
  char *data = NULL;
  size_t n = 0, pos = 0, row = 0, nf;
  char **f = NULL;
  int rc = fs_read_file(path, EVAL_CSV_MAX, &data, &n), ia = -1, ib = -1;
  if (rc) return rc;
  if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) pos = 3; /* spreadsheet BOM */
  while (!rc) {
    int got = eval_csv_record(data, n, &pos, &f, &nf);
    row++;
    if (got < 0) {
      rc = err_prefix(got, "%s: row %zu", path, row);
      break;
    }
    if (got == 0) break;
    if (row == 1) {
      for (size_t i = 0; i < nf; i++) {
        str_trim(f[i]);
        if (str_ieq(f[i], ca)) ia = (int)i;
        if (str_ieq(f[i], cb)) ib = (int)i;
      }
      if (ia < 0 || ib < 0)
        rc = err_set(MIMIC_EFORMAT, "%s: the header needs columns '%s' and '%s'", path, ca, cb);
    } else if (!(nf == 1 && !*f[0])) { /* blank line */
      rc = fn(path, row, (size_t)ia < nf ? f[ia] : "", (size_t)ib < nf ? f[ib] : "", user);
    }
    eval_csv_free(f, nf);
    f = NULL;
  }
  mem_free(data);
  return rc;
}

typedef struct score_ctx {
  unsigned char *truth; /* EVAL_BLIND_MAX + 1 */
  int items;
  eval_blind_result *res;
} score_ctx;

static int parse_id(const char *path, size_t row, const char *s, uint64_t *id) {
  if (str_to_u64(s, id) || *id == 0 || *id > EVAL_BLIND_MAX)
    return err_set(MIMIC_EFORMAT, "%s: row %zu: id '%s' is not a number in 1..%u", path, row, s,
                   EVAL_BLIND_MAX);
  return 0;
}

static int key_row(const char *path, size_t row, const char *id, const char *val, void *user) {
  score_ctx *c = user;
  uint64_t i;
  int lab, rc;
  if ((rc = parse_id(path, row, id, &i))) return rc;
  if (label_of(val, &lab) || !lab)
    return err_set(MIMIC_EFORMAT, "%s: row %zu: truth '%s' is neither real nor generated", path,
                   row, val);
  if (c->truth[i]) return err_set(MIMIC_EFORMAT, "%s: row %zu: id %s appears twice", path, row, id);
  c->truth[i] = (unsigned char)lab;
  c->items++;
  return 0;
}

static int sheet_row(const char *path, size_t row, const char *id, const char *val, void *user) {
  score_ctx *c = user;
  uint64_t i;
  int lab, rc;
  if ((rc = parse_id(path, row, id, &i))) return rc;
  if (!c->truth[i])
    return err_set(MIMIC_EFORMAT, "%s: row %zu: id %s is not in the key (wrong key file?)", path,
                   row, id);
  if (label_of(val, &lab))
    return err_set(MIMIC_EFORMAT, "%s: row %zu: guess '%s' is not 'real' or 'generated'", path, row,
                   val);
  if (c->truth[i] & 4)
    return err_set(MIMIC_EFORMAT, "%s: row %zu: id %s appears twice", path, row, id);
  if (!lab) return 0;
  int truth = c->truth[i] & 3;
  eval_blind_result *r = c->res;
  r->answered++;
  r->correct += lab == truth;
  if (truth == 2) {
    r->gen_answered++;
    r->gen_caught += lab == 2;
  }
  c->truth[i] |= 4; /* answered: a second row with the same id is refused */
  return 0;
}

int eval_blind_score(const char *sheet_csv, const char *key_csv, eval_blind_result *out) {
  memset(out, 0, sizeof *out);
  score_ctx c = {.truth = xcalloc(EVAL_BLIND_MAX + 1, 1), .res = out};
  int rc = each_row(key_csv, "id", "truth", key_row, &c);
  if (!rc) rc = each_row(sheet_csv, "id", "guess", sheet_row, &c);
  mem_free(c.truth);
  if (rc) return rc;
  out->items = c.items;
  out->accuracy = out->answered ? (double)out->correct / out->answered : NAN;
  out->p_value = eval_binom_tail_half(out->correct, out->answered);
  if (out->answered) {
    double nn = out->answered, ph = out->accuracy, z = 1.959963984540054, z2 = z * z;
    double mid = (ph + z2 / (2 * nn)) / (1 + z2 / nn);
    double half = z * sqrt(ph * (1 - ph) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    out->ci_lo = mid - half;
    out->ci_hi = mid + half;
  } else {
    out->ci_lo = out->ci_hi = NAN;
  }
  return 0;
}
