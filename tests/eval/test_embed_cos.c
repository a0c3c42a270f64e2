/* The style-embedding cosine (eval_embed_cosine) on a random-weight BERT written by mimic's own
 * GGUF writer: identical sets give 1 for both parts, different replies less, the headline is the
 * mean of the two parts, an empty set NAN; the report shows the rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "embed/tiny_bert.h"
#include "eval/eval.h"
#include "test.h"

static char tmpdir[] = "/tmp/mimic-test-embedcos-XXXXXX";
static char model[600];

TEST(identical_and_different_sets) {
  embed_model *m = embed_open(model, NULL);
  if (!m) printf("  %s\n", err_msg());
  REQUIRE(m);
  const char *real[] = {"gg ez", "no way lol", "who is up for a raid tonight", "brb"};
  const char *gen[] = {"gg", "lmao no", "raid at nine?", "ok"};
  double pair, cen, mean;
  CHECK_OK(eval_embed_cosine(m, real, real, 4, &pair, &cen, &mean));
  CHECK_NEAR(pair, 1, 1e-6);
  CHECK_NEAR(cen, 1, 1e-6);
  CHECK_NEAR(mean, 1, 1e-6);
  CHECK_OK(eval_embed_cosine(m, real, gen, 4, &pair, &cen, &mean));
  CHECK(pair < 0.9999 && pair > -1);
  CHECK(cen < 0.9999 && cen >= pair - 1e-9); /* the centroids agree at least as well */
  CHECK_NEAR(mean, (pair + cen) / 2, 1e-12);
  CHECK_OK(eval_embed_cosine(m, real, gen, 0, &pair, &cen, &mean));
  CHECK(isnan(pair) && isnan(cen) && isnan(mean));
  /* the report shows the headline and its parts */
  eval_compare c;
  CHECK_OK(eval_compare_sets(real, 4, gen, 4, NULL, 0, 5, &c));
  CHECK(isnan(c.embed_pair_cos) && isnan(c.embed_centroid_cos));
  CHECK_OK(
      eval_embed_cosine(m, real, gen, 4, &c.embed_pair_cos, &c.embed_centroid_cos, &c.embed_cos));
  char path[700];
  snprintf(path, sizeof path, "%s/report.html", tmpdir);
  eval_report r = {.model = "m.gguf", .cmp = &c};
  CHECK_OK(eval_report_write(path, &r));
  FILE *f = fopen(path, "rb");
  REQUIRE(f);
  static char html[1 << 20];
  size_t n = fread(html, 1, sizeof html - 1, f);
  html[n] = 0;
  fclose(f);
  CHECK(strstr(html, "style-embedding cosine") != NULL);
  CHECK(strstr(html, "paired reply cosine") != NULL);
  CHECK(strstr(html, "centroid cosine") != NULL);
  unlink(path);
  embed_close(m);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  snprintf(model, sizeof model, "%s/bert.gguf", tmpdir);
  tiny_bert_spec s = {.n_embd = 32,
                      .n_layer = 2,
                      .n_head = 2,
                      .n_ff = 64,
                      .n_ctx = 64,
                      .n_vocab = 600,
                      .wtype = TT_F16,
                      .pooling = 1,
                      .seed = 3};
  if (tiny_bert_write(model, &s)) {
    printf("cannot write the test model: %s\n", err_msg());
    return 1;
  }
  RUN(identical_and_different_sets);
  unlink(model);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
