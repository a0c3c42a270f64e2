/* The evaluation report: one self-contained HTML page with inline SVG (no scripts, no external
 * files, so it opens anywhere and can be attached to an issue), plus the same numbers as JSON.
 * Also reads the training log for the loss curve. Written atomically under data/reports/. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "eval/eval.h"
#include "eval/eval_int.h"

/* ---- loss log
 * ------------------------------------------------------------------------------------ */

void eval_loss_curve_free(eval_loss_curve *c) {
  if (!c) return;
  mem_free(c->step);
  mem_free(c->loss);
  mem_free(c->vstep);
  mem_free(c->vloss);
  memset(c, 0, sizeof *c);
}

static int push_point(double **xs, double **ys, size_t *n, double x, double y) {
  if (*n >= EVAL_LOSS_MAX_POINTS)
    return err_set(MIMIC_ERANGE, "more than %u loss points", EVAL_LOSS_MAX_POINTS);
  if ((*n & (*n - 1)) == 0) { /* grow at powers of two */
    size_t cap = *n ? *n * 2 : 64;
    *xs = xrealloc(*xs, cap * sizeof **xs);
    *ys = xrealloc(*ys, cap * sizeof **ys);
  }
  (*xs)[*n] = x;
  (*ys)[*n] = y;
  (*n)++;
  return 0;
}

static bool num(const char *s, double *v) {
  return s && *s && str_to_double(s, v) == 0 && isfinite(*v);
}

static const char *const train_cols[] = {"loss", "train_loss"};
static const char *const valid_cols[] = {"val_loss", "valid_loss", "eval_loss", "validation_loss"};

static int loss_jsonl(const char *path, const char *data, size_t n, eval_loss_curve *out) {
  int rc = 0;
  for (size_t p = 0; p < n && !rc;) {
    const char *e = memchr(data + p, '\n', n - p);
    size_t len = e ? (size_t)(e - (data + p)) : n - p;
    json_t *j = len > 1 ? json_loadb(data + p, len, 0, NULL) : NULL;
    p += len + 1;
    if (!json_is_object(j)) {
      json_decref(j);
      continue;
    }
    json_t *st = json_object_get(j, "step");
    if (json_is_number(st)) {
      double s = json_number_value(st);
      for (size_t i = 0; i < 2 && !rc; i++) {
        json_t *v = json_object_get(j, train_cols[i]);
        if (json_is_number(v)) {
          rc = push_point(&out->step, &out->loss, &out->n, s, json_number_value(v));
          break;
        }
      }
      for (size_t i = 0; i < 4 && !rc; i++) {
        json_t *v = json_object_get(j, valid_cols[i]);
        if (json_is_number(v)) {
          rc = push_point(&out->vstep, &out->vloss, &out->nv, s, json_number_value(v));
          break;
        }
      }
    }
    json_decref(j);
  }
  if (!rc && !out->n && !out->nv)
    rc = err_set(MIMIC_EFORMAT, "%s: no lines with \"step\" and \"loss\"", path);
  return rc;
}

static int loss_csv(const char *path, const char *data, size_t n, eval_loss_curve *out) {
  size_t pos = 0, nf, row = 0;
  char **f;
  int cs = -1, cl = -1, cv = -1, rc = 0, got;
  while (!rc && (got = eval_csv_record(data, n, &pos, &f, &nf)) != 0) {
    if (got < 0) return err_prefix(got, "%s: row %zu", path, row + 1);
    if (row++ == 0) {
      for (size_t i = 0; i < nf; i++) {
        str_trim(f[i]);
        if (str_ieq(f[i], "step")) cs = (int)i;
        for (size_t k = 0; k < 2; k++)
          if (cl < 0 && str_ieq(f[i], train_cols[k])) cl = (int)i;
        for (size_t k = 0; k < 4; k++)
          if (cv < 0 && str_ieq(f[i], valid_cols[k])) cv = (int)i;
      }
      if (cs < 0 || (cl < 0 && cv < 0))
        rc = err_set(MIMIC_EFORMAT, "%s: the header names no 'step' and 'loss' columns", path);
    } else {
      double s, v;
      if ((size_t)cs < nf && num(f[cs], &s)) {
        if (cl >= 0 && (size_t)cl < nf && num(f[cl], &v))
          rc = push_point(&out->step, &out->loss, &out->n, s, v);
        if (!rc && cv >= 0 && (size_t)cv < nf && num(f[cv], &v))
          rc = push_point(&out->vstep, &out->vloss, &out->nv, s, v);
      }
    }
    eval_csv_free(f, nf);
  }
  return rc;
}

int eval_loss_curve_read(const char *path, eval_loss_curve *out) {
  memset(out, 0, sizeof *out);
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, EVAL_CSV_MAX, &data, &n);
  if (rc) return rc;
  rc =
      str_ends_with(path, ".jsonl") ? loss_jsonl(path, data, n, out) : loss_csv(path, data, n, out);
  mem_free(data);
  if (rc) eval_loss_curve_free(out);
  return rc;
}

/* ---- SVG ------------------------------------------------------------------------------------- */

#define P(...)                                                                                     \
  do {                                                                                             \
    if (!rc) rc = buf_printf(b, __VA_ARGS__);                                                      \
  } while (0)
#define H(s)                                                                                       \
  do {                                                                                             \
    if (!rc) rc = eval__html(b, s);                                                                \
  } while (0)

static const char *const COL_REAL = "#5865f2", *const COL_GEN = "#f0883e";

/* Grouped vertical bars: two series over n labelled groups, values in [0, max]. */
static int svg_bars(buf *b, const char *const *labels, const double *a, const double *g, size_t n,
                    const char *la, const char *lg, bool percent) {
  int rc = 0, W = 760, H0 = 240, left = 40, bottom = 50;
  double mx = 1e-12;
  for (size_t i = 0; i < n; i++) mx = fmax(mx, fmax(a[i], g[i]));
  double gw = (double)(W - left - 10) / (double)n, bw = gw * 0.38;
  P("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
    "font-size=\"11\">\n",
    W, H0 + bottom);
  P("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", left, H0, W - 10, H0);
  P("<text x=\"0\" y=\"12\">%.*f%s</text><text x=\"0\" y=\"%d\">0</text>\n", percent ? 0 : 2,
    percent ? mx * 100 : mx, percent ? "%" : "", H0);
  for (size_t i = 0; i < n; i++) {
    double x = left + gw * (double)i + gw * 0.1;
    double ha = (H0 - 15) * a[i] / mx, hg = (H0 - 15) * g[i] / mx;
    P("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s "
      "%.3f</title></rect>\n",
      x, H0 - ha, bw, ha, COL_REAL, la, a[i]);
    P("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s "
      "%.3f</title></rect>\n",
      x + bw, H0 - hg, bw, hg, COL_GEN, lg, g[i]);
    P("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + bw, H0 + 14 + (int)(i % 2) * 12);
    H(labels[i]);
    P("</text>\n");
  }
  P("<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
    left, H0 + 36, COL_REAL, left + 14, H0 + 45);
  H(la);
  P("</text><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
    "y=\"%d\">",
    left + 160, H0 + 36, COL_GEN, left + 174, H0 + 45);
  H(lg);
  P("</text>\n</svg>\n");
  return rc;
}

void eval_loss_smooth(const double *v, size_t n, double *out) {
  double w = (double)n / 25;
  if (w < 2) w = 2;
  if (w > 200) w = 200;
  double keep = 1 - 2 / (w + 1), avg = 0, weight = 0; /* weight: 1 - keep^k, the bias correction */
  for (size_t i = 0; i < n; i++) {
    if (isfinite(v[i])) {
      avg = keep * avg + (1 - keep) * v[i];
      weight = keep * weight + (1 - keep);
    }
    out[i] = weight > 0 ? avg / weight : v[i];
  }
}

/* Loss against step: the raw training loss as a faint line with its moving average over it, and
 * the validation loss as a line with dots. */
static int svg_loss(buf *b, const eval_loss_curve *c) {
  int rc = 0, W = 760, H0 = 260, left = 50, top = 10, bottom = 30;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (size_t i = 0; i < c->n; i++) {
    x0 = fmin(x0, c->step[i]), x1 = fmax(x1, c->step[i]);
    y0 = fmin(y0, c->loss[i]), y1 = fmax(y1, c->loss[i]);
  }
  for (size_t i = 0; i < c->nv; i++) {
    x0 = fmin(x0, c->vstep[i]), x1 = fmax(x1, c->vstep[i]);
    y0 = fmin(y0, c->vloss[i]), y1 = fmax(y1, c->vloss[i]);
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  double sx = (W - left - 10) / (x1 - x0), sy = (H0 - top - bottom) / (y1 - y0);
  P("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
    "font-size=\"11\">\n",
    W, H0);
  P("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/><line x1=\"%d\" y1=\"%d\" "
    "x2=\"%d\" y2=\"%d\" "
    "stroke=\"#888\"/>\n",
    left, H0 - bottom, W - 10, H0 - bottom, left, top, left, H0 - bottom);
  P("<text x=\"0\" y=\"%d\">%.3g</text><text x=\"0\" y=\"%d\">%.3g</text>\n", top + 8, y1,
    H0 - bottom, y0);
  P("<text x=\"%d\" y=\"%d\">step %.0f</text><text x=\"%d\" y=\"%d\" "
    "text-anchor=\"end\">%.0f</text>\n",
    left, H0 - 8, x0, W - 10, H0 - 8, x1);
  double *smooth = c->n ? xalloc(c->n * sizeof *smooth) : NULL;
  if (smooth) eval_loss_smooth(c->loss, c->n, smooth);
  /* series: raw training loss (faint), its moving average, validation loss */
  static const char *const cls[3] = {"loss-raw", "loss-smooth", "loss-valid"};
  for (int s = 0; s < 3; s++) {
    const double *xs = s == 2 ? c->vstep : c->step, *ys = s == 0   ? c->loss
                                                          : s == 1 ? smooth
                                                                   : c->vloss;
    size_t n = s == 2 ? c->nv : c->n, stride = n > 2000 ? n / 2000 : 1; /* ~2000 vertices */
    if (!n) continue;
    P("<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"", cls[s],
      s == 2 ? COL_GEN : COL_REAL, s == 0 ? "1" : "1.5", s == 0 ? " stroke-opacity=\"0.3\"" : "");
    for (size_t i = 0; i < n; i += stride)
      P("%.1f,%.1f ", left + (xs[i] - x0) * sx, (H0 - bottom) - (ys[i] - y0) * sy);
    P("\"/>\n");
    if (s == 2 && n <= 200)
      for (size_t i = 0; i < n; i++)
        P("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", left + (xs[i] - x0) * sx,
          (H0 - bottom) - (ys[i] - y0) * sy, COL_GEN);
  }
  mem_free(smooth);
  P("<text x=\"%d\" y=\"%d\" fill=\"%s\">training loss (smoothed; raw faint)</text><text x=\"%d\" "
    "y=\"%d\" fill=\"%s\">validation loss</text>\n</svg>\n",
    W - 340, top + 12, COL_REAL, W - 120, top + 12, COL_GEN);
  return rc;
}

/* ---- HTML ------------------------------------------------------------------------------------ */

static int row3(buf *b, const char *name, const char *fmt, double real, double gen,
                const char *note) {
  int rc = 0;
  P("<tr><td>%s</td><td>", name);
  if (isnan(real))
    P("&ndash;");
  else
    P(fmt, real);
  P("</td><td>");
  if (isnan(gen))
    P("&ndash;");
  else
    P(fmt, gen);
  P("</td><td>%s</td></tr>\n", note);
  return rc;
}

static int metrics_table(buf *b, const eval_compare *c) {
  int rc = 0;
  const eval_style *r = &c->real, *g = &c->gen;
  P("<table class=\"metrics\">\n<tr><th>metric</th><th>real</th><th>generated</th><th>what to look "
    "for</th></tr>\n");
  if (!rc) rc = row3(b, "replies", "%.0f", (double)r->n, (double)g->n, "");
  if (!rc)
    rc = row3(b, "mean length (characters)", "%.1f", r->len_mean, g->len_mean, "close to real");
  if (!rc) rc = row3(b, "mean words", "%.2f", r->words_mean, g->words_mean, "close to real");
  if (!rc)
    rc = row3(b, "distinct-1", "%.3f", r->distinct1, g->distinct1, "close to real (not maximal)");
  if (!rc)
    rc = row3(b, "distinct-2", "%.3f", r->distinct2, g->distinct2,
              "close to real; low = repetitive");
  if (!rc)
    rc = row3(b, "emoji rate", "%.3f", r->rate_emoji, g->rate_emoji,
              "share of replies with an emoji");
  if (!rc)
    rc = row3(b, "all-caps rate", "%.3f", r->rate_caps, g->rate_caps, "share of SHOUTED replies");
  if (!rc)
    rc = row3(b, "lowercase-start rate", "%.3f", r->rate_lower_start, g->rate_lower_start, "");
  if (!rc)
    rc =
        row3(b, "punctuation-run rate", "%.3f", r->rate_punct_run, g->rate_punct_run, "!!! ?? ...");
  if (!rc) rc = row3(b, "question rate", "%.3f", r->rate_question, g->rate_question, "");
  if (!rc) rc = row3(b, "ends with . ! ?", "%.3f", r->rate_end_punct, g->rate_end_punct, "");
  P("<tr><th colspan=\"4\">real vs generated</th></tr>\n");
  if (!rc)
    rc = row3(b, "length JSD (bits)", "%.4f", NAN, c->len_jsd,
              "0 = same length distribution, 1 = disjoint");
  if (!rc) rc = row3(b, "length KS statistic", "%.4f", NAN, c->len_ks, "0 = same distribution");
  if (!rc)
    rc = row3(b, "char 3-5-gram TF-IDF cosine", "%.4f", NAN, c->tfidf_cos,
              "1 = same character style");
  if (!rc)
    rc = row3(b, "vocabulary overlap (Jaccard)", "%.4f", NAN, c->vocab_jaccard,
              "higher = same words");
  if (!rc)
    rc = row3(b, "style-embedding cosine", "%.4f", NAN, c->embed_cos,
              isnan(c->embed_cos) ? "no sentence encoder configured (embed.model)"
                                  : "mean of the two below; goal &gt; 0.85");
  if (!rc && !isnan(c->embed_cos))
    rc = row3(b, "&nbsp; paired reply cosine", "%.4f", NAN, c->embed_pair_cos,
              "each generated reply vs the real one");
  if (!rc && !isnan(c->embed_cos))
    rc = row3(b, "&nbsp; centroid cosine", "%.4f", NAN, c->embed_centroid_cos,
              "mean embedding of each set");
  char note[160];
  snprintf(note, sizeof note, "privacy: %zu replies reproduce a training message verbatim",
           c->copies);
  if (!rc)
    rc = row3(b, "copy rate", "%.4f", NAN, c->copy_rate,
              isnan(c->copy_rate) ? "no training set given" : note);
  P("</table>\n");
  return rc;
}

static int ppl_table(buf *b, const eval_ppl *base, const eval_ppl *tuned) {
  int rc = 0;
  P("<table class=\"ppl\">\n<tr><th>author</th><th>replies</th><th>tokens</th><th>%s</th>%s</tr>\n",
    tuned ? "base model" : "model", tuned ? "<th>base + adapter</th><th>change</th>" : "");
  for (size_t i = 0; i <= base->n_authors && !rc; i++) {
    bool all = i == base->n_authors;
    const char *name = all ? "all" : base->authors[i].name;
    double bn = all ? base->nll : base->authors[i].nll;
    int64_t bt = all ? base->tokens : base->authors[i].tokens,
            bs = all ? base->samples : base->authors[i].samples;
    P(all ? "<tr class=\"total\"><td><b>" : "<tr><td>");
    H(name);
    double pv = eval_ppl_value(bn, bt);
    P(pv < 1e6 ? "%s</td><td>%lld</td><td>%lld</td><td>%.2f</td>"
               : "%s</td><td>%lld</td><td>%lld</td><td>%.3g</td>",
      all ? "</b>" : "", (long long)bs, (long long)bt, pv);
    if (tuned) {
      double tn = NAN;
      int64_t tt = 0;
      if (all) {
        tn = tuned->nll;
        tt = tuned->tokens;
      } else {
        for (size_t k = 0; k < tuned->n_authors; k++)
          if (strcmp(tuned->authors[k].name, name) == 0)
            tn = tuned->authors[k].nll, tt = tuned->authors[k].tokens;
      }
      double pb = eval_ppl_value(bn, bt), pt = eval_ppl_value(tn, tt);
      P(pt < 1e6 ? "<td>%.2f</td><td>%+.1f%%</td>" : "<td>%.3g</td><td>%+.1f%%</td>", pt,
        100 * (pt - pb) / pb);
    }
    P("</tr>\n");
  }
  P("</table>\n");
  if (base->skipped)
    P("<p>%lld samples longer than the context window were skipped.</p>\n",
      (long long)base->skipped);
  return rc;
}

static int build_html(buf *b, const eval_report *r) {
  int rc = 0;
  char when[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  P("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mimic evaluation</title><style>"
    "body{font-family:sans-serif;max-width:820px;margin:2em "
    "auto;color:#222}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:14px}"
    "th{background:#f3f3f3}.ex "
    "td{vertical-align:top;white-space:pre-wrap}.small{color:#666;font-size:90%%}"
    "</style></head><body>\n<h1>How well does the model talk like the community?</h1>\n<p "
    "class=\"small\">");
  P("%s &middot; model ", when);
  H(r->model ? r->model : "?");
  if (r->lora) {
    P(" &middot; adapter ");
    H(r->lora);
  }
  P(" &middot; held-out data ");
  H(r->data ? r->data : "?");
  P(" &middot; seed %llu", (unsigned long long)r->seed);
  if (r->gen_seconds > 0) P(" &middot; generation took %.1f s", r->gen_seconds);
  P("</p>\n");
  if (r->ppl_base) {
    P("<h2>Held-out perplexity</h2>\n<p>Perplexity of the real replies (their tokens only, each "
      "given the "
      "conversation before it). Lower is better; the adapter should lower it for the people it "
      "learned from.</p>\n");
    if (r->ppl_tuned) {
      P("<p>Each reply scored twice: by the base model alone, and with the adapter ");
      H(r->lora ? r->lora : "");
      P(" applied; the change column is the adapter's effect.</p>\n");
    } else {
      P("<p class=\"small\">No adapter: the model alone is scored (give one with --lora, or "
        "engine.adapter, to compare base and adapter).</p>\n");
    }
    if (!rc) rc = ppl_table(b, r->ppl_base, r->ppl_tuned);
  }
  if (r->cmp) {
    const eval_compare *c = r->cmp;
    P("<h2>Style: generated vs real replies to the same contexts</h2>\n");
    if (!rc) rc = metrics_table(b, c);
    P("<h3>Message length (characters)</h3>\n");
    const char *labels[EVAL_LEN_BINS];
    char lab[EVAL_LEN_BINS][16];
    for (int i = 0; i < EVAL_LEN_BINS; i++) {
      if (i + 1 < EVAL_LEN_BINS)
        snprintf(lab[i], sizeof lab[i], "%d-%d", eval_len_bin_lo[i], eval_len_bin_lo[i + 1] - 1);
      else
        snprintf(lab[i], sizeof lab[i], "%d+", eval_len_bin_lo[i]);
      labels[i] = lab[i];
    }
    if (!rc)
      rc = svg_bars(b, labels, c->real.len_hist, c->gen.len_hist, EVAL_LEN_BINS, "real",
                    "generated", true);
    P("<h3>Surface markers (share of replies)</h3>\n");
    const char *ml[] = {"emoji",      "ALL CAPS", "lowercase start",
                        "!!! ?? ...", "question", "ends . ! ?"};
    double ra[] = {c->real.rate_emoji,     c->real.rate_caps,     c->real.rate_lower_start,
                   c->real.rate_punct_run, c->real.rate_question, c->real.rate_end_punct};
    double ga[] = {c->gen.rate_emoji,     c->gen.rate_caps,     c->gen.rate_lower_start,
                   c->gen.rate_punct_run, c->gen.rate_question, c->gen.rate_end_punct};
    if (!rc) rc = svg_bars(b, ml, ra, ga, 6, "real", "generated", true);
  }
  if (r->loss && (r->loss->n || r->loss->nv)) {
    P("<h2>Training loss</h2>\n");
    if (!rc) rc = svg_loss(b, r->loss);
  }
  if (r->n_examples) {
    P("<h2>Examples</h2>\n<table class=\"ex\"><tr><th>conversation (end)</th><th>real "
      "reply</th><th>generated</th></tr>\n");
    for (size_t i = 0; i < r->n_examples && i < 12 && !rc; i++) {
      const eval_example *e = &r->examples[i];
      const char *ctx = e->context;
      for (int lines = 0, k = (int)strlen(ctx); k > 0; k--)
        if (ctx[k - 1] == '\n' && ++lines == 3) {
          ctx += k;
          break;
        }
      P("<tr><td class=\"small\">");
      H(ctx);
      P("</td><td>");
      H(e->real);
      P("</td><td>");
      H(e->gen);
      P("</td></tr>\n");
    }
    P("</table>\n");
  }
  if (r->blind_dir) {
    P("<h2>Blind test</h2>\n<p>A sheet for people to judge is in <code>");
    H(r->blind_dir);
    P("/blind-sheet.csv</code> (readable copy: <code>blind-sheet.html</code>); the answers are in "
      "<code>blind-key.csv</code>. Score a filled-in sheet with <code>mimic eval --score "
      "blind-sheet.csv --key "
      "blind-key.csv</code>. About 50%% accuracy means the judges cannot tell the model from the "
      "community.</p>\n");
  }
  P("<p class=\"small\">Metric definitions: docs/eval.md.</p>\n</body></html>\n");
  return rc;
}

static int write_buf(const char *path, buf *b, int rc) {
  if (rc) {
    buf_free(b);
    return err_set(MIMIC_ENOMEM, "%s: out of memory building the report", path);
  }
  char dir[4096];
  str_lcpy(dir, path, sizeof dir);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    if ((rc = fs_mkdirs(dir))) {
      buf_free(b);
      return rc;
    }
  }
  rc = fs_write_atomic(path, b->data ? b->data : "", b->len);
  buf_free(b);
  return rc;
}

int eval_report_write(const char *path, const eval_report *r) {
  buf b;
  buf_init(&b, 0);
  return write_buf(path, &b, build_html(&b, r));
}

/* JSON numbers: NAN and infinities become null. */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *ppl_json(const eval_ppl *p) {
  json_t *o = json_object(), *a = json_object();
  json_object_set_new(o, "perplexity", jnum(eval_ppl_value(p->nll, p->tokens)));
  json_object_set_new(o, "tokens", json_integer(p->tokens));
  json_object_set_new(o, "samples", json_integer(p->samples));
  json_object_set_new(o, "skipped", json_integer(p->skipped));
  for (size_t i = 0; i < p->n_authors; i++)
    json_object_set_new(a, p->authors[i].name,
                        jnum(eval_ppl_value(p->authors[i].nll, p->authors[i].tokens)));
  json_object_set_new(o, "per_author", a);
  return o;
}

static json_t *style_json(const eval_style *s) {
  json_t *o = json_object();
  json_object_set_new(o, "n", json_integer((json_int_t)s->n));
  json_object_set_new(o, "len_mean", jnum(s->len_mean));
  json_object_set_new(o, "words_mean", jnum(s->words_mean));
  json_object_set_new(o, "distinct1", jnum(s->distinct1));
  json_object_set_new(o, "distinct2", jnum(s->distinct2));
  json_object_set_new(o, "rate_emoji", jnum(s->rate_emoji));
  json_object_set_new(o, "rate_caps", jnum(s->rate_caps));
  json_object_set_new(o, "rate_lower_start", jnum(s->rate_lower_start));
  json_object_set_new(o, "rate_punct_run", jnum(s->rate_punct_run));
  json_object_set_new(o, "rate_question", jnum(s->rate_question));
  json_object_set_new(o, "rate_end_punct", jnum(s->rate_end_punct));
  json_t *h = json_array();
  for (int i = 0; i < EVAL_LEN_BINS; i++) json_array_append_new(h, jnum(s->len_hist[i]));
  json_object_set_new(o, "len_hist", h);
  return o;
}

int eval_report_json(const char *path, const eval_report *r) {
  json_t *root = json_object();
  json_object_set_new(root, "model", r->model ? json_string(r->model) : json_null());
  json_object_set_new(root, "adapter", r->lora ? json_string(r->lora) : json_null());
  json_object_set_new(root, "data", r->data ? json_string(r->data) : json_null());
  json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
  if (r->cmp) {
    const eval_compare *c = r->cmp;
    json_t *m = json_object();
    json_object_set_new(m, "real", style_json(&c->real));
    json_object_set_new(m, "generated", style_json(&c->gen));
    json_object_set_new(m, "len_jsd", jnum(c->len_jsd));
    json_object_set_new(m, "len_ks", jnum(c->len_ks));
    json_object_set_new(m, "tfidf_cos", jnum(c->tfidf_cos));
    json_object_set_new(m, "vocab_jaccard", jnum(c->vocab_jaccard));
    json_object_set_new(m, "embed_cos", jnum(c->embed_cos));
    json_object_set_new(m, "embed_pair_cos", jnum(c->embed_pair_cos));
    json_object_set_new(m, "embed_centroid_cos", jnum(c->embed_centroid_cos));
    json_object_set_new(m, "copy_rate", jnum(c->copy_rate));
    json_object_set_new(m, "copies", json_integer((json_int_t)c->copies));
    json_object_set_new(root, "metrics", m);
  }
  if (r->ppl_base) {
    json_t *p = json_object();
    json_object_set_new(p, "base", ppl_json(r->ppl_base));
    if (r->ppl_tuned) json_object_set_new(p, "tuned", ppl_json(r->ppl_tuned));
    json_object_set_new(root, "perplexity", p);
  }
  if (r->n_examples) {
    /* the same replies the page shows side by side */
    json_t *ex = json_array();
    for (size_t i = 0; i < r->n_examples && i < 12; i++) {
      const eval_example *e = &r->examples[i];
      json_t *o = json_object();
      json_object_set_new(o, "context", e->context ? json_string(e->context) : json_null());
      json_object_set_new(o, "real", e->real ? json_string(e->real) : json_null());
      json_object_set_new(o, "generated", e->gen ? json_string(e->gen) : json_null());
      json_array_append_new(ex, o);
    }
    json_object_set_new(root, "examples", ex);
  }
  char *s = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
  json_decref(root);
  buf b;
  buf_init(&b, 0);
  int rc = s ? buf_puts(&b, s) : MIMIC_ENOMEM;
  if (!rc) rc = buf_putc(&b, '\n');
  free(s);
  return write_buf(path, &b, rc);
}
