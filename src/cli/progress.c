/* Training progress for the terminal and for files: the bar (or a log line every 10 steps), the
 * CSV log (one row per step, columns below) and the loss-curve SVG (the raw training loss faint,
 * its exponential moving average over it, validation points in red). The values all come from
 * train_run's progress events; nothing here knows how they were computed. */
#include "cli/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/cli.h"
#include "cli/job.h"
#include "eval/eval.h"
#include "llm/quant.h"

typedef struct hist {
  double *step, *val;
  size_t n, cap;
} hist;

struct cli_progress {
  char *csv_path, *svg_path;
  bool bar, mid_line;
  FILE *csv;
  hist tr, va;
  cli_job job; /* the run's row in the jobs table */
};

static void hist_add(hist *h, double step, double v) {
  if (h->n == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 256;
    h->step = xrealloc(h->step, h->cap * sizeof *h->step);
    h->val = xrealloc(h->val, h->cap * sizeof *h->val);
  }
  h->step[h->n] = step;
  h->val[h->n++] = v;
}

static void hist_free(hist *h) {
  mem_free(h->step);
  mem_free(h->val);
  memset(h, 0, sizeof *h);
}

cli_progress *cli_progress_new(const char *csv, const char *svg, bool bar) {
  cli_progress *p = xcalloc(1, sizeof *p);
  p->csv_path = xstrdup(csv);
  p->svg_path = xstrdup(svg);
  p->bar = bar;
  return p;
}

void cli_progress_destroy(cli_progress *p) {
  if (!p) return;
  if (p->csv) fclose(p->csv);
  hist_free(&p->tr);
  hist_free(&p->va);
  mem_free(p->csv_path);
  mem_free(p->svg_path);
  mem_free(p);
}

bool cli_progress_mid_line(const cli_progress *p) { return p && p->mid_line; }

/* ---- The CSV log ------------------------------------------------------------------------------
 */

static const char csv_header[] =
    "step,epoch,lr,loss,val_loss,grad_norm,tokens,tok_per_s,elapsed_s\n";

/* Keeps the rows up to step `upto` of an existing log (a resumed run rewrites what came after its
 * checkpoint) and loads them into the history. */
static int csv_open(cli_progress *p, int64_t upto) {
  hist_free(&p->tr);
  hist_free(&p->va);
  FILE *old = upto > 0 ? fopen(p->csv_path, "r") : NULL;
  size_t tl = strlen(p->csv_path) + 8;
  char *tmp = xalloc(tl);
  snprintf(tmp, tl, "%s.tmp", p->csv_path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    if (old) fclose(old);
    int rc = err_set(MIMIC_EIO, "%s: cannot write the training log: %s", tmp, strerror(errno));
    mem_free(tmp);
    return rc;
  }
  fputs(csv_header, f);
  if (old) {
    char line[512];
    while (fgets(line, sizeof line, old)) {
      double step, ep, lr, loss;
      char val[64] = "";
      if (sscanf(line, "%lf,%lf,%lf,%lf,%63[^,]", &step, &ep, &lr, &loss, val) < 4 ||
          step > (double)upto)
        continue;
      fputs(line, f);
      hist_add(&p->tr, step, loss);
      double v;
      if (val[0] && str_to_double(val, &v) == 0) hist_add(&p->va, step, v);
    }
    fclose(old);
  }
  fflush(f);
  int rc = 0;
  if (rename(tmp, p->csv_path) != 0) {
    fclose(f);
    rc = err_set(MIMIC_EIO, "%s: cannot write the training log: %s", p->csv_path, strerror(errno));
  } else {
    p->csv = f;
  }
  mem_free(tmp);
  return rc;
}

/* ---- The loss curve ---------------------------------------------------------------------------
 */

typedef struct frame {
  double x0, x1, y0, y1;
} frame;

/* A polyline (or dots) of h's steps against vals (h->val, or a smoothed copy). */
static void svg_curve(FILE *f, const hist *h, const double *vals, const frame *fr,
                      const char *style, bool dots) {
  if (!h->n) return;
  const double W = 560, H = 300, L = 60, T = 30;
  if (!dots) fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
  size_t stride = h->n > 2000 ? h->n / 2000 : 1;
  for (size_t i = 0; i < h->n; i += stride) {
    double v = vals[i];
    if (!isfinite(v)) continue;
    double x = L + (fr->x1 > fr->x0 ? (h->step[i] - fr->x0) / (fr->x1 - fr->x0) : 0.5) * W;
    double y = T + (fr->y1 > fr->y0 ? (fr->y1 - v) / (fr->y1 - fr->y0) : 0.5) * H;
    if (dots)
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" %s/>\n", x, y, style);
    else
      fprintf(f, "%.1f,%.1f ", x, y);
  }
  if (!dots) fprintf(f, "\"/>\n");
}

static int write_svg(const cli_progress *p, train_stage stage) {
  size_t tl = strlen(p->svg_path) + 8;
  char *tmp = xalloc(tl);
  snprintf(tmp, tl, "%s.tmp", p->svg_path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    int rc = err_set(MIMIC_EIO, "%s: cannot write the loss curve: %s", tmp, strerror(errno));
    mem_free(tmp);
    return rc;
  }
  frame fr = {1e300, -1e300, 1e300, -1e300};
  const hist *hs[2] = {&p->tr, &p->va};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < hs[k]->n; i++) {
      if (!isfinite(hs[k]->val[i])) continue;
      fr.x0 = fmin(fr.x0, hs[k]->step[i]), fr.x1 = fmax(fr.x1, hs[k]->step[i]);
      fr.y0 = fmin(fr.y0, hs[k]->val[i]), fr.y1 = fmax(fr.y1, hs[k]->val[i]);
    }
  if (fr.x0 > fr.x1) fr = (frame){0, 1, 0, 1};
  if (fr.y1 - fr.y0 < 1e-9) fr.y1 = fr.y0 + 1;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"380\" "
             "font-family=\"sans-serif\" "
             "font-size=\"12\">\n<rect width=\"640\" height=\"380\" fill=\"white\"/>\n");
  fprintf(f, "<text x=\"320\" y=\"18\" text-anchor=\"middle\">mimic train: %s loss</text>\n",
          stage == TRAIN_SFT   ? "SFT"
          : stage == TRAIN_DPO ? "DPO"
                               : "ORPO");
  fprintf(f, "<path d=\"M60 30 V330 H620\" fill=\"none\" stroke=\"#333\"/>\n");
  for (int k = 0; k <= 4; k++) {
    double y = 30 + 300.0 * k / 4, v = fr.y1 - (fr.y1 - fr.y0) * k / 4;
    fprintf(f, "<text x=\"55\" y=\"%.0f\" text-anchor=\"end\">%.3g</text>\n", y + 4, v);
    fprintf(f, "<path d=\"M60 %.0f H620\" stroke=\"#eee\"/>\n", y);
  }
  fprintf(f,
          "<text x=\"60\" y=\"348\">step %.0f</text><text x=\"620\" y=\"348\" "
          "text-anchor=\"end\">step %.0f</text>\n",
          fr.x0, fr.x1);
  double *smooth = p->tr.n ? xalloc(p->tr.n * sizeof *smooth) : NULL;
  if (smooth) eval_loss_smooth(p->tr.val, p->tr.n, smooth);
  svg_curve(f, &p->tr, p->tr.val, &fr,
            "stroke=\"#1f77b4\" stroke-opacity=\"0.3\" stroke-width=\"1\"", false);
  if (smooth) svg_curve(f, &p->tr, smooth, &fr, "stroke=\"#1f77b4\" stroke-width=\"1.5\"", false);
  mem_free(smooth);
  if (p->va.n >= 3)
    svg_curve(f, &p->va, p->va.val, &fr, "stroke=\"#d62728\" stroke-width=\"1.5\"", false);
  svg_curve(f, &p->va, p->va.val, &fr, "fill=\"#d62728\"", true);
  fprintf(f, "<text x=\"70\" y=\"370\" fill=\"#1f77b4\">training (smoothed; raw faint)</text>"
             "<text x=\"280\" y=\"370\" fill=\"#d62728\">validation</text>\n</svg>\n");
  bool ok = fflush(f) == 0 && !ferror(f);
  fclose(f);
  int rc = 0;
  if (!ok || rename(tmp, p->svg_path) != 0)
    rc = err_set(MIMIC_EIO, "%s: cannot write the loss curve", p->svg_path);
  mem_free(tmp);
  return rc;
}

/* ---- The bar ----------------------------------------------------------------------------------
 */

static void fmt_eta(double s, char *out, size_t cap) {
  if (!isfinite(s) || s < 0) s = 0;
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
}

static void show_step(cli_progress *p, const train_progress *e) {
  char etas[32], accs[48] = "", vbuf[40] = "";
  fmt_eta(e->eta_s, etas, sizeof etas);
  if (isfinite(e->accuracy)) snprintf(accs, sizeof accs, " acc %.2f", e->accuracy);
  double last_val = p->va.n ? p->va.val[p->va.n - 1] : NAN;
  if (isfinite(last_val)) snprintf(vbuf, sizeof vbuf, " val %.4f", last_val);
  if (p->bar) {
    int width = 24, fill = (int)((double)width * (double)e->step / (double)e->total);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[width] = '\0';
    fprintf(stderr, "\rstep %lld/%lld [%s] loss %.4f%s%s | %.0f tok/s | ETA %s   ",
            (long long)e->step, (long long)e->total, bar, e->loss, vbuf, accs, e->tokens_per_s,
            etas);
    fflush(stderr);
    p->mid_line = true;
  } else if (e->step % 10 == 0 || e->step == e->total || e->session == 1) {
    LOG_I("train", "step %lld/%lld loss %.4f%s%s lr %.3g | %.0f tok/s | ETA %s", (long long)e->step,
          (long long)e->total, e->loss, vbuf, accs, e->lr, e->tokens_per_s, etas);
  }
}

/* The run's row in the jobs table: the dashboard, !status and this bar read the same numbers. A
 * database that cannot be written costs the row, never the run. */
static void job_write(cli_progress *p, const train_progress *e) {
  char msg[128];
  snprintf(msg, sizeof msg, "step %lld/%lld", (long long)e->step, (long long)e->total);
  cli_job_step(&p->job, e->step, e->total, e->loss, msg, p->csv_path);
}

int cli_progress_report(const train_progress *e, void *user) {
  cli_progress *p = user;
  job_write(p, e);
  switch (e->ev) {
  case TRAIN_EV_BEGIN: return csv_open(p, e->resumed ? e->step : 0);
  case TRAIN_EV_STEP: {
    hist_add(&p->tr, (double)e->step, e->loss);
    char vs[32] = "";
    if (isfinite(e->val_loss)) {
      hist_add(&p->va, (double)e->step, e->val_loss);
      snprintf(vs, sizeof vs, "%.6g", e->val_loss);
    }
    if (p->csv) {
      fprintf(p->csv, "%lld,%.4f,%.6g,%.6g,%s,%.4g,%llu,%.1f,%.2f\n", (long long)e->step, e->epoch,
              e->lr, e->loss, vs, e->grad_norm, (unsigned long long)e->tokens, e->tokens_per_s,
              e->elapsed_s);
      if (fflush(p->csv) != 0 || ferror(p->csv))
        return err_set(MIMIC_EIO, "%s: cannot write the training log", p->csv_path);
    }
    show_step(p, e);
    return 0;
  }
  case TRAIN_EV_END:
    if (p->mid_line) fputc('\n', stderr);
    p->mid_line = false;
    return write_svg(p, e->stage);
  }
  return 0;
}

/* ---- A run from the command line --------------------------------------------------------------
 */

int cli_train_run(train_run_opts *o, const cli_train_show *show, int threads, train_result *res) {
  char csv[4096], svg[4096];
  snprintf(csv, sizeof csv, "%s%s", show->log_csv ? show->log_csv : o->out,
           show->log_csv ? "" : ".csv");
  snprintf(svg, sizeof svg, "%s%s", show->svg ? show->svg : o->out, show->svg ? "" : ".svg");
  cli_progress *pr = cli_progress_new(csv, svg, show->bar);
  cli_job_open(&pr->job, show->db_path, "train");
  compute_pool *cp = compute_pool_new(threads);
  o->pool = cp;
  o->on_progress = cli_progress_report;
  o->progress_user = pr;
  int rc = train_run(o, res);
  o->pool = NULL;
  o->on_progress = NULL;
  o->progress_user = NULL;
  compute_pool_destroy(cp);
  bool mid = cli_progress_mid_line(pr);
  cli_job_close(&pr->job, rc);
  cli_progress_destroy(pr);
  if (rc) {
    if (mid) fputc('\n', stderr);
    cli_error("%s", err_msg());
    return rc;
  }
  if (res->already_finished) {
    char ck[4096];
    snprintf(ck, sizeof ck, "%s%s", o->ckpt ? o->ckpt : o->out, o->ckpt ? "" : ".ckpt");
    printf("this run has already finished: %s is at its last step (%lld), so there is nothing to "
           "resume.\n"
           "The trained model is %s. To train again, delete %s or give another --out;\n"
           "to train longer, start a new run (more --steps or --epochs) from a fresh --out.\n",
           ck, (long long)res->steps, o->out, ck);
    return 0;
  }
  if (res->stopped == TRAIN_STOP_DEADLINE || res->stopped == TRAIN_STOP_ASKED)
    printf("stopped %s after step %lld: loss %.4f",
           res->stopped == TRAIN_STOP_DEADLINE ? "at the time limit" : "early",
           (long long)res->steps, res->loss);
  else
    printf("trained %lld steps: loss %.4f", (long long)res->steps, res->loss);
  if (isfinite(res->val_loss)) printf(", validation %.4f", res->val_loss);
  printf(" (%.0f tokens/s, %.2f GFLOP/s, %.1f s)\nwrote %s\n", res->tokens_per_s, res->gflops,
         res->seconds, o->out);
  return 0;
}
