/* The report: training logs in CSV and JSONL become loss curves; the HTML holds the metrics table,
 * the SVG plots and escaped examples, and is written atomically; the JSON twin round-trips the
 * numbers (NAN as null) and the examples. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "eval/eval.h"
#include "test.h"

static char tmpdir[64];

static void spit(const char *path, const char *s) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs(s, f);
    fclose(f);
  }
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  buf b;
  buf_init(&b, 0);
  char tmp[4096];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (buf_append(&b, tmp, k)) break;
  fclose(f);
  return buf_steal(&b);
}

TEST(loss_logs) {
  char p[128];
  eval_loss_curve c;
  snprintf(p, sizeof p, "%s/train.csv", tmpdir);
  spit(p, "epoch,step,lr,loss,val_loss\n0,1,0.001,3.5,\n0,2,0.001,3.0,3.2\n0,3,0.001,2.5,\n0,x,0,1,"
          "1\n");
  CHECK_OK(eval_loss_curve_read(p, &c));
  CHECK_INT(c.n, 3);
  CHECK_INT(c.nv, 1);
  CHECK_NEAR(c.loss[2], 2.5, 0);
  CHECK_NEAR(c.vstep[0], 2, 0);
  eval_loss_curve_free(&c);
  snprintf(p, sizeof p, "%s/train.jsonl", tmpdir);
  spit(p, "{\"step\":10,\"loss\":4.0}\nnot "
          "json\n{\"step\":20,\"train_loss\":3.0,\"valid_loss\":3.5}\n");
  CHECK_OK(eval_loss_curve_read(p, &c));
  CHECK_INT(c.n, 2);
  CHECK_INT(c.nv, 1);
  CHECK_NEAR(c.step[1], 20, 0);
  eval_loss_curve_free(&c);
  snprintf(p, sizeof p, "%s/bad.csv", tmpdir);
  spit(p, "when,how\n1,2\n");
  CHECK(eval_loss_curve_read(p, &c) == MIMIC_EFORMAT);
  CHECK(eval_loss_curve_read("/nonexistent/log.csv", &c) == MIMIC_EIO);
}

TEST(html_and_json) {
  const char *real[] = {"yo whats up", "LETS GOOO", "ngl mid", "ok",
                        "good morning everyone \xE2\x98\x80\xEF\xB8\x8F"};
  const char *gen[] = {"yo", "LETS GO", "ngl kinda mid", "<script>alert(1)</script>",
                       "morning \xF0\x9F\x8C\xB8"};
  eval_compare cmp;
  REQUIRE(eval_compare_sets(real, 5, gen, 5, NULL, 0, 10, &cmp) == 0);
  eval_ppl_author ab[2] = {{"owl", 20, 10, 2}, {"DEX", 30, 10, 3}},
                  at[2] = {{"owl", 10, 10, 2}, {"DEX", 25, 10, 3}};
  eval_ppl base = {.nll = 50, .tokens = 20, .samples = 5, .authors = ab, .n_authors = 2};
  eval_ppl tuned = {.nll = 35, .tokens = 20, .samples = 5, .authors = at, .n_authors = 2};
  double st[] = {1, 2, 3}, lo[] = {3, 2.5, 2}, vs[] = {3}, vl[] = {2.4};
  eval_loss_curve lc = {.step = st, .loss = lo, .n = 3, .vstep = vs, .vloss = vl, .nv = 1};
  eval_example ex[] = {{"owl: hi\nDEX: <b>yo</b>", "k: ok", gen[3]}};
  eval_report r = {.model = "m.gguf",
                   .lora = "a.gguf",
                   .data = "valid.jsonl",
                   .cmp = &cmp,
                   .ppl_base = &base,
                   .ppl_tuned = &tuned,
                   .loss = &lc,
                   .examples = ex,
                   .n_examples = 1,
                   .blind_dir = "data/reports",
                   .seed = 7};
  char dir[128], html[160], js[160];
  snprintf(dir, sizeof dir, "%s/reports/deep", tmpdir);
  snprintf(html, sizeof html, "%s/report.html", dir);
  snprintf(js, sizeof js, "%s/eval.json", dir);
  CHECK_OK(eval_report_write(html, &r));
  CHECK_OK(eval_report_json(js, &r));
  char *h = slurp(html);
  REQUIRE(h);
  CHECK(strstr(h, "<table class=\"metrics\">") != NULL);
  CHECK(strstr(h, "<polyline") != NULL); /* loss curve */
  CHECK(strstr(h, "<svg") != NULL);
  CHECK(strstr(h, "<script>") == NULL); /* escaped */
  CHECK(strstr(h, "&lt;script&gt;") != NULL);
  CHECK(strstr(h, "&lt;b&gt;yo&lt;/b&gt;") != NULL);
  CHECK(strstr(h, "no training set given") != NULL); /* copy rate unknown without a training set */
  CHECK(strstr(h, "<td>12.18</td>") != NULL);        /* base perplexity of all: exp(50/20) */
  /* with an adapter the table shows base and base + adapter side by side */
  CHECK(strstr(h, "<th>base model</th><th>base + adapter</th><th>change</th>") != NULL);
  CHECK(strstr(h, "<td>5.75</td>") != NULL); /* with the adapter: exp(35/20) */
  CHECK(strstr(h, "a.gguf") != NULL);
  /* the loss curve: raw faint, its moving average over it */
  const char *raw = strstr(h, "<polyline class=\"loss-raw\""),
             *smooth = strstr(h, "<polyline class=\"loss-smooth\"");
  CHECK(raw != NULL && smooth != NULL);
  CHECK(raw && strstr(raw, "stroke-opacity=\"0.3\"") < strstr(raw, "points="));
  CHECK(strstr(h, "<polyline class=\"loss-valid\"") != NULL);
  CHECK(strstr(h, "</html>") != NULL);
  mem_free(h);
  /* nothing left behind but the two files */
  DIR *d = opendir(dir);
  REQUIRE(d);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      files++;
      CHECK(strstr(e->d_name, ".tmp") == NULL);
    }
  closedir(d);
  CHECK_INT(files, 2);
  char *j = slurp(js);
  REQUIRE(j);
  json_t *root = jv_parse(j, strlen(j), "eval.json");
  mem_free(j);
  REQUIRE(root);
  json_t *m = json_object_get(root, "metrics");
  CHECK_NEAR(jv_num(m, "tfidf_cos", -1), cmp.tfidf_cos, 1e-12);
  CHECK(json_is_null(json_object_get(m, "copy_rate")));
  json_t *pt = json_object_get(json_object_get(root, "perplexity"), "tuned");
  CHECK_NEAR(jv_num(pt, "perplexity", -1), exp(35.0 / 20), 1e-9);
  CHECK_NEAR(jv_num(json_object_get(pt, "per_author"), "owl", -1), exp(1.0), 1e-9);
  /* the examples shown on the page, for scripts and the demo */
  json_t *exs = json_object_get(root, "examples");
  CHECK_INT(json_array_size(exs), 1);
  CHECK_STR(json_string_value(json_object_get(json_array_get(exs, 0), "real")), "k: ok");
  CHECK_STR(json_string_value(json_object_get(json_array_get(exs, 0), "generated")), gen[3]);
  json_decref(root);

  /* no adapter: one perplexity column, and the page says how to compare */
  r.ppl_tuned = NULL;
  r.lora = NULL;
  CHECK_OK(eval_report_write(html, &r));
  h = slurp(html);
  REQUIRE(h);
  CHECK(strstr(h, "<th>model</th></tr>") != NULL);
  CHECK(strstr(h, "base + adapter") == NULL);
  CHECK(strstr(h, "No adapter") != NULL);
  mem_free(h);
}

/* The smoothed loss: a bias-corrected moving average (its first point is the first value), window
 * at least 2 (keep = 1/3 for short curves), skipping non-finite values. */
TEST(loss_smoothing) {
  double v[4] = {3, 2.5, 2, NAN}, o[4];
  eval_loss_smooth(v, 4, o);
  CHECK_NEAR(o[0], 3, 1e-12);
  CHECK_NEAR(o[1], (2.0 / 9 * 3 + 2.0 / 3 * 2.5) / (8.0 / 9), 1e-12);
  CHECK_NEAR(o[2], 2.1923076923076925, 1e-12);
  CHECK_NEAR(o[3], o[2], 0);
  /* a long noisy curve: the average moves much less than the raw points */
  double n[1000], s[1000];
  for (int i = 0; i < 1000; i++) n[i] = 2 + (i % 2 ? 0.5 : -0.5);
  eval_loss_smooth(n, 1000, s);
  CHECK(fabs(s[999] - s[998]) < 0.1);
  CHECK(fabs(s[999] - 2) < 0.1);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_report_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(loss_logs);
  RUN(html_and_json);
  RUN(loss_smoothing);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
