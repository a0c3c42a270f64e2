/* The blind-test kit: the sheet holds every real and generated reply once, shuffled, with no hint
 * of which is which; the key matches; a sheet filled in from the key scores 100% with a tiny
 * p-value, one filled in with the opposite scores 0%; bad sheets are refused by row. Plus the CSV
 * reader on quoted fields and the binomial tail on hand-computed values. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "eval/eval.h"
#include "test.h"

static char tmpdir[64];

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

static void spit(const char *path, const char *s) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs(s, f);
    fclose(f);
  }
}

TEST(csv_reader) {
  const char *d = "a,\"b,c\",\"say \"\"hi\"\"\nthere\"\r\n,x\nlast";
  size_t pos = 0, nf, n = strlen(d);
  char **f;
  CHECK_INT(eval_csv_record(d, n, &pos, &f, &nf), 1);
  REQUIRE(nf == 3);
  CHECK_STR(f[0], "a");
  CHECK_STR(f[1], "b,c");
  CHECK_STR(f[2], "say \"hi\"\nthere");
  eval_csv_free(f, nf);
  CHECK_INT(eval_csv_record(d, n, &pos, &f, &nf), 1);
  CHECK_INT(nf, 2);
  CHECK_STR(f[0], "");
  eval_csv_free(f, nf);
  CHECK_INT(eval_csv_record(d, n, &pos, &f, &nf), 1);
  CHECK_STR(f[0], "last");
  eval_csv_free(f, nf);
  CHECK_INT(eval_csv_record(d, n, &pos, &f, &nf), 0);
  const char *bad = "\"open";
  pos = 0;
  CHECK(eval_csv_record(bad, strlen(bad), &pos, &f, &nf) == MIMIC_EFORMAT);
  const char *bad2 = "\"x\"y,z";
  pos = 0;
  CHECK(eval_csv_record(bad2, strlen(bad2), &pos, &f, &nf) == MIMIC_EFORMAT);
}

TEST(binomial_tail) {
  CHECK_NEAR(eval_binom_tail_half(0, 10), 1, 0);
  CHECK_NEAR(eval_binom_tail_half(11, 10), 0, 0);
  CHECK_NEAR(eval_binom_tail_half(10, 10), 1.0 / 1024, 1e-15);
  CHECK_NEAR(eval_binom_tail_half(9, 10), 11.0 / 1024, 1e-14);
  CHECK_NEAR(eval_binom_tail_half(8, 10), 56.0 / 1024, 1e-14);
  CHECK_NEAR(eval_binom_tail_half(1, 1), 0.5, 1e-15);
  CHECK_NEAR(eval_binom_tail_half(500, 1000), 0.5 + 0.5 * 0.02522501817836, 1e-9); /* P(X=500)/2 */
}

/* Fills the sheet's guess column from the key (inverted when flip), leaving every `skip`-th blank.
 */
static void fill_sheet(const char *sheet, const char *key, const char *out, bool flip, int skip) {
  char *s = slurp(sheet), *k = slurp(key);
  size_t ps = 0, pk = 0, ns = strlen(s), nk = strlen(k), nf, nk2;
  char **f, **g;
  buf b;
  buf_init(&b, 0);
  int row = 0;
  while (eval_csv_record(s, ns, &ps, &f, &nf) == 1) {
    if (eval_csv_record(k, nk, &pk, &g, &nk2) != 1) break;
    if (row++ == 0) {
      CHECK(buf_puts(&b, "guess,id,reply\n") == 0); /* columns reordered, as a spreadsheet might */
    } else {
      const char *truth = g[1];
      const char *guess = skip && row % skip == 0                ? ""
                          : (strcmp(truth, "real") == 0) != flip ? "Real"
                                                                 : "bot";
      CHECK(buf_printf(&b, "%s,%s,\"x\"\n", guess, f[0]) == 0);
    }
    eval_csv_free(f, nf);
    eval_csv_free(g, nk2);
  }
  spit(out, b.data);
  buf_free(&b);
  mem_free(s);
  mem_free(k);
}

TEST(kit_roundtrip) {
  const char *ctx[] = {"owl: raid tonight?\nDEX: YES", "mochi: morning 🌸", "k: ok",
                       "owl: a\nb\nc\nd\ne\nf"};
  const char *real[] = {"jay: bet im in", "owl: gm", "Benny: waht", "k: no"};
  const char *gen[] = {"jay: ngl im down", "owl: morning", "Benny: lol yea", "=SUM(A1)"};
  char dir[128], sheet[160], key[160], html[160], filled[160];
  snprintf(dir, sizeof dir, "%s/kit/sub", tmpdir);
  CHECK_OK(eval_blind_write(dir, ctx, real, gen, 4, 42));
  snprintf(sheet, sizeof sheet, "%s/blind-sheet.csv", dir);
  snprintf(key, sizeof key, "%s/blind-key.csv", dir);
  snprintf(html, sizeof html, "%s/blind-sheet.html", dir);
  char *s = slurp(sheet), *k = slurp(key), *h = slurp(html);
  REQUIRE(s && k && h);
  /* every reply once, no truth in the sheet, the formula defused, only the last 4 context lines */
  for (int i = 0; i < 4; i++) {
    if (i != 3) CHECK(strstr(s, real[i]) && strstr(s, gen[i]));
    CHECK(strstr(h, real[i]) != NULL);
  }
  CHECK(strstr(s, "\"'=SUM(A1)\"") != NULL);
  CHECK(strstr(s, "generated") == NULL && strstr(s, ",real") == NULL);
  CHECK(strstr(s, "owl: a\n") == NULL && strstr(s, "\"c\nd\ne\nf\"") != NULL);
  CHECK(strstr(k, "generated") && strstr(k, "real"));
  /* shuffled: the first item is not always the first real reply (two seeds differ) */
  char dir2[128], sheet2[160];
  snprintf(dir2, sizeof dir2, "%s/kit2", tmpdir);
  CHECK_OK(eval_blind_write(dir2, ctx, real, gen, 4, 43));
  snprintf(sheet2, sizeof sheet2, "%s/blind-sheet.csv", dir2);
  char *s2 = slurp(sheet2);
  CHECK(s2 && strcmp(s, s2) != 0);
  mem_free(s2);

  eval_blind_result r;
  snprintf(filled, sizeof filled, "%s/filled.csv", tmpdir);
  fill_sheet(sheet, key, filled, false, 0);
  CHECK_OK(eval_blind_score(filled, key, &r));
  CHECK_INT(r.items, 8);
  CHECK_INT(r.answered, 8);
  CHECK_INT(r.correct, 8);
  CHECK_INT(r.gen_answered, 4);
  CHECK_INT(r.gen_caught, 4);
  CHECK_NEAR(r.p_value, 1.0 / 256, 1e-12);
  CHECK(r.ci_lo > 0.6 && r.ci_hi <= 1.0 + 1e-12);
  fill_sheet(sheet, key, filled, true, 4); /* all wrong, every 4th row blank */
  CHECK_OK(eval_blind_score(filled, key, &r));
  CHECK_INT(r.answered, 6);
  CHECK_INT(r.correct, 0);
  CHECK_NEAR(r.accuracy, 0, 0);
  CHECK_NEAR(r.p_value, 1, 0);
  /* the untouched sheet: nothing answered */
  CHECK_OK(eval_blind_score(sheet, key, &r));
  CHECK_INT(r.answered, 0);
  CHECK(isnan(r.accuracy));
  /* bad sheets */
  spit(filled, "id,guess\n1,maybe\n");
  CHECK(eval_blind_score(filled, key, &r) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "row 2") && strstr(err_msg(), "maybe"));
  spit(filled, "id,guess\n99,real\n");
  CHECK(eval_blind_score(filled, key, &r) == MIMIC_EFORMAT);
  spit(filled, "id,guess\n1,real\n1,real\n");
  CHECK(eval_blind_score(filled, key, &r) == MIMIC_EFORMAT);
  spit(filled, "number,answer\n1,real\n");
  CHECK(eval_blind_score(filled, key, &r) == MIMIC_EFORMAT);
  CHECK(eval_blind_score("/nonexistent.csv", key, &r) == MIMIC_EIO);
  CHECK(eval_blind_write(dir, ctx, real, gen, 0, 1) == MIMIC_EINVAL);
  mem_free(s);
  mem_free(k);
  mem_free(h);
}

/* Issue 19: with contexts cut from one conversation, each real reply is a line of the next item's
 * context; the kit must leave such items out, so no reply is given away by another item. Text that
 * is not valid UTF-8 (a generation cut mid-character) is repaired before it is written. */
TEST(kit_does_not_leak_answers) {
  enum { N = 12 };
  char *ctx[N], *real[N], *gen[N];
  char line[64];
  buf conv;
  buf_init(&conv, 0);
  for (int i = 0; i < N; i++) {
    snprintf(line, sizeof line, "%s: message number %d of the chat", i % 2 ? "ann" : "ben", i);
    real[i] = xstrdup(line);
    ctx[i] = xstrdup(conv.data ? conv.data : "");
    snprintf(line, sizeof line, "%s: generated \xe2\x9c number %d", i % 2 ? "ann" : "ben", i);
    gen[i] = xstrdup(line); /* a cut 3-byte character */
    CHECK_OK(buf_printf(&conv, "%s%s", conv.len ? "\n" : "", real[i]));
  }
  buf_free(&conv);
  char dir[128], path[160];
  snprintf(dir, sizeof dir, "%s/leak", tmpdir);
  size_t kept = 0;
  CHECK_OK(eval_blind_pick(dir, (const char *const *)ctx, (const char *const *)real,
                           (const char *const *)gen, N, N, 7, &kept));
  CHECK(kept >= 2 && kept < N);
  snprintf(path, sizeof path, "%s/blind-sheet.csv", dir);
  char *s = slurp(path);
  REQUIRE(s);
  CHECK(utf8_valid(s, strlen(s)));
  /* A real reply that is an item (the reply field: `","reply",`) is in no context. */
  int items = 0;
  for (int i = 0; i < N; i++) {
    char needle[96];
    snprintf(needle, sizeof needle, "\",\"%s\",", real[i]);
    if (!strstr(s, needle)) continue;
    items++;
    const char *p = strstr(s, real[i]);
    CHECK(p && strstr(p + 1, real[i]) == NULL);
  }
  CHECK_INT(items, (int)kept);
  snprintf(path, sizeof path, "%s/blind-sheet.html", dir);
  char *h = slurp(path);
  REQUIRE(h);
  CHECK(utf8_valid(h, strlen(h)));
  mem_free(s);
  mem_free(h);
  /* max_items caps the kit. */
  CHECK_OK(eval_blind_pick(dir, (const char *const *)ctx, (const char *const *)real,
                           (const char *const *)gen, N, 2, 7, &kept));
  CHECK_INT(kept, 2);
  for (int i = 0; i < N; i++) mem_free(ctx[i]), mem_free(real[i]), mem_free(gen[i]);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_blind_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(csv_reader);
  RUN(binomial_tail);
  RUN(kit_roundtrip);
  RUN(kit_does_not_leak_answers);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
