/* Held-out perplexity on the tiny reference Qwen2 model (../shared, skipped when absent): the split
 * prefix/reply evaluation equals one full forward pass scored over the reply positions, per-author
 * sums add up, an adapter changes the numbers; and the dataset reader rejects bad lines by number.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "eval/eval.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/tokenizer.h"
#include "test.h"

static char tmpdir[64];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static const char sample_jsonl[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"You "
    "chat.\"},{\"role\":\"user\",\"content\":\"owl: anyone up for "
    "raid\"},{\"role\":\"assistant\",\"content\":\"DEX: LETS GOOO\"}]}\n"
    "\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"You "
    "chat.\"},{\"role\":\"user\",\"content\":\"DEX: LETS "
    "GOOO\"},{\"role\":\"assistant\",\"content\":\"owl: im on in 10\"}]}\n"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"You "
    "chat.\"},{\"role\":\"user\",\"content\":\"owl: im on in 10\\nDEX: "
    "W\"},{\"role\":\"assistant\",\"content\":\"DEX: HYPE HYPE <|im_end|> HYPE\"}]}\n";

/* NLL of the reply of one sample by a single full forward with every logit row kept. */
static double reference_nll(const char *model_path, const eval_sample *s, int64_t *ntok) {
  llm_model *m = NULL;
  tokenizer *t = NULL;
  llm_ctx *c = NULL;
  double nll = NAN;
  int32_t *pre = NULL, *full = NULL;
  float *logits = NULL;
  if (llm_model_load(model_path, &m) || tok_load(llm_model_gguf(m), &t)) goto out;
  chat_msg cm[8];
  for (size_t k = 0; k < s->n; k++)
    cm[k] = (chat_msg){.role = s->turns[k].role, .content = s->turns[k].content};
  size_t np, nf;
  chat_family fam = chat_detect(tok_chat_template(t));
  if (chat_encode(t, fam, cm, s->n - 1, true, &pre, &np) ||
      chat_encode(t, fam, cm, s->n, false, &full, &nf))
    goto out;
  size_t e = nf;
  for (size_t i = np; i < nf; i++)
    if (tok_is_eog(t, full[i])) {
      e = i + 1;
      break;
    }
  llm_ctx_params cp = {.n_ctx = 512, .n_slots = 1, .n_batch = 512};
  if (llm_ctx_new(m, &cp, &c)) goto out;
  int nv = llm_model_hparams(m)->n_vocab;
  logits = xalloc(e * (size_t)nv * sizeof *logits);
  if (llm_forward(c, 0, full, (int)e, 0, NULL, 0, logits, LLM_LOGITS_ALL)) goto out;
  nll = 0;
  for (size_t i = np; i < e; i++) {
    const float *row = logits + (i - 1) * (size_t)nv;
    double mx = row[0], z = 0;
    for (int k = 1; k < nv; k++) mx = row[k] > mx ? row[k] : mx;
    for (int k = 0; k < nv; k++) z += exp(row[k] - mx);
    nll += log(z) + mx - row[full[i]];
  }
  *ntok = (int64_t)(e - np);
out:
  mem_free(pre);
  mem_free(full);
  mem_free(logits);
  llm_ctx_destroy(c);
  tok_destroy(t);
  llm_model_destroy(m);
  return nll;
}

TEST(dataset_reader) {
  char path[128];
  snprintf(path, sizeof path, "%s/ok.jsonl", tmpdir);
  write_file(path, sample_jsonl);
  eval_dataset ds;
  CHECK_OK(eval_dataset_load(path, 0, &ds));
  CHECK_INT(ds.n, 3);
  CHECK_STR(ds.s[1].turns[2].content, "owl: im on in 10");
  eval_dataset_free(&ds);
  CHECK_OK(eval_dataset_load(path, 2, &ds)); /* max */
  CHECK_INT(ds.n, 2);
  eval_dataset_free(&ds);

  snprintf(path, sizeof path, "%s/bad.jsonl", tmpdir);
  write_file(path, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
                   "\"content\":\"b\"}]}\n{\"messages\": [\n");
  CHECK(eval_dataset_load(path, 0, &ds) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "bad.jsonl:2") != NULL);
  eval_dataset_free(&ds);
  write_file(path, "{\"messages\":[{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\","
                   "\"content\":\"a\"}]}\n");
  CHECK(eval_dataset_load(path, 0, &ds) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "not the assistant") != NULL);
  eval_dataset_free(&ds);
  write_file(path, "{\"text\": \"chatml, not messages\"}\n");
  CHECK(eval_dataset_load(path, 0, &ds) == MIMIC_EFORMAT);
  eval_dataset_free(&ds);
  CHECK(eval_dataset_load("/nonexistent/x.jsonl", 0, &ds) == MIMIC_EIO);
  eval_dataset_free(&ds);
}

TEST(perplexity_matches_full_forward) {
  char model[512], lora[512], path[128];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model, sizeof model))
    SKIP("tiny-qwen2-f32.gguf absent");
  bool has_lora =
      test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", lora, sizeof lora) != NULL;
  snprintf(path, sizeof path, "%s/ok.jsonl", tmpdir);
  write_file(path, sample_jsonl);
  eval_dataset ds;
  REQUIRE(eval_dataset_load(path, 0, &ds) == 0);
  eval_ppl_opts o = {
      .model_path = model, .lora_path = has_lora ? lora : NULL, .lora_scale = 1, .threads = 1};
  eval_ppl base, tuned;
  CHECK_OK(eval_perplexity(&o, &ds, &base, &tuned));
  CHECK_INT(base.samples, 3);
  CHECK_INT(base.skipped, 0);
  CHECK(base.tokens >= 3 * 4);
  double ppl = eval_ppl_value(base.nll, base.tokens);
  CHECK(isfinite(ppl) && ppl > 1);
  /* two authors, sums add up */
  CHECK_INT(base.n_authors, 2);
  CHECK_STR(base.authors[0].name, "DEX");
  CHECK_INT(base.authors[0].samples, 2);
  CHECK_INT(base.authors[0].tokens + base.authors[1].tokens, base.tokens);
  CHECK_NEAR(base.authors[0].nll + base.authors[1].nll, base.nll, 1e-6 * base.nll);
  /* the split evaluation equals one full forward pass */
  double ref = 0;
  int64_t ref_tok = 0;
  for (size_t i = 0; i < ds.n; i++) {
    int64_t nt = 0;
    ref += reference_nll(model, &ds.s[i], &nt);
    ref_tok += nt;
  }
  CHECK_INT(ref_tok, base.tokens);
  CHECK_NEAR(ref, base.nll, 1e-3 * ref);
  if (has_lora) {
    CHECK_INT(tuned.tokens, base.tokens);
    CHECK(fabs(tuned.nll - base.nll) > 1e-6); /* the adapter changes the model */
  }
  eval_ppl_free(&base);
  eval_ppl_free(&tuned);
  /* a context window too small for every sample: all skipped, no error */
  o.n_ctx = 8;
  o.lora_path = NULL;
  CHECK_OK(eval_perplexity(&o, &ds, &base, NULL));
  CHECK_INT(base.skipped, 3);
  CHECK(isnan(eval_ppl_value(base.nll, base.tokens)));
  eval_ppl_free(&base);
  o.model_path = "/nonexistent/model.gguf";
  CHECK(eval_perplexity(&o, &ds, &base, NULL) != 0);
  CHECK(strstr(err_msg(), "/nonexistent/model.gguf") != NULL);
  eval_dataset_free(&ds);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_ppl_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  log_set_level(LOG_WARN);
  RUN(dataset_reader);
  RUN(perplexity_matches_full_forward);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
