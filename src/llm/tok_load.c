/* tok_load: reads a vocabulary from a GGUF file into a tok_spec and builds the tokenizer. Kept
 * apart from tokenizer.c so that the tokenizer itself does not depend on the GGUF reader. */
#include <string.h>

#include "base/alloc.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

/* Reads an optional u32 id key; absent keeps TOK_NULL, a bad type is an error. */
static int read_id(const gguf_file *f, const char *key, int32_t *out) {
  uint32_t v;
  int rc = gguf_get_u32(f, key, &v);
  if (rc == MIMIC_ENOTFOUND) return 0;
  if (rc)
    return err_set(MIMIC_EFORMAT, "%s: %s: expected an unsigned integer token id", gguf_path(f),
                   key);
  *out = v > (uint32_t)INT32_MAX ? TOK_NULL : (int32_t)v;
  return 0;
}

static int read_flag(const gguf_file *f, const char *key, int *out) {
  bool v;
  int rc = gguf_get_bool(f, key, &v);
  if (rc == MIMIC_ENOTFOUND) return 0;
  if (rc) return err_set(MIMIC_EFORMAT, "%s: %s: expected a boolean", gguf_path(f), key);
  *out = v ? 1 : 0;
  return 0;
}

/* Reads a string array into tok_str views of the mapping. */
static int read_strs(const gguf_file *f, const char *key, tok_str **out, size_t *n, bool required) {
  gguf_vtype et;
  uint64_t cnt;
  *out = NULL;
  *n = 0;
  int rc = gguf_get_arr(f, key, &et, &cnt);
  if (rc == MIMIC_ENOTFOUND && !required) return 0;
  if (rc == MIMIC_ENOTFOUND)
    return err_set(MIMIC_ENOTFOUND, "%s: no %s: this file has no vocabulary", gguf_path(f), key);
  if (rc || et != GGUF_STRING)
    return err_set(MIMIC_EFORMAT, "%s: %s: expected an array of strings", gguf_path(f), key);
  if (cnt > (uint64_t)TOK_MAX_VOCAB * 4)
    return err_set(MIMIC_ERANGE, "%s: %s: %llu entries is over the cap", gguf_path(f), key,
                   (unsigned long long)cnt);
  if (cnt == 0) return 0;
  tok_str *v = mem_calloc((size_t)cnt, sizeof *v);
  if (!v) return err_set(MIMIC_ENOMEM, "%s: out of memory reading %s", gguf_path(f), key);
  for (uint64_t i = 0; i < cnt; i++) {
    gguf_str s = gguf_arr_str(f, key, i);
    v[i].ptr = s.ptr;
    v[i].len = (size_t)s.len;
  }
  *out = v;
  *n = (size_t)cnt;
  return 0;
}

int tok_load(const gguf_file *f, tokenizer **out) {
  tok_spec sp;
  tok_spec_init(&sp);
  tok_str *tokens = NULL, *merges = NULL;
  float *scores = NULL;
  int32_t *types = NULL;
  char *model = NULL, *pre = NULL, *name = NULL, *tmpl = NULL;
  size_t n_tokens = 0, n_merges = 0;
  int rc = 0;
  *out = NULL;

  model = gguf_get_str_dup(f, "tokenizer.ggml.model");
  if (!model) {
    rc = err_set(MIMIC_ENOTFOUND, "%s: no tokenizer.ggml.model: this file has no vocabulary",
                 gguf_path(f));
    goto out;
  }
  pre = gguf_get_str_dup(f, "tokenizer.ggml.pre");
  name = gguf_get_str_dup(f, "general.name");
  tmpl = gguf_get_str_dup(f, "tokenizer.chat_template");
  if ((rc = read_strs(f, "tokenizer.ggml.tokens", &tokens, &n_tokens, true))) goto out;
  if (n_tokens == 0 || n_tokens > TOK_MAX_VOCAB) {
    rc = err_set(MIMIC_ERANGE, "%s: tokenizer.ggml.tokens: %zu tokens (must be 1..%d)",
                 gguf_path(f), n_tokens, TOK_MAX_VOCAB);
    goto out;
  }
  if ((rc = read_strs(f, "tokenizer.ggml.merges", &merges, &n_merges, false))) goto out;

  gguf_vtype et;
  uint64_t cnt;
  if (gguf_get_arr(f, "tokenizer.ggml.scores", &et, &cnt) == 0) {
    if (cnt != n_tokens) {
      rc = err_set(MIMIC_EFORMAT, "%s: tokenizer.ggml.scores has %llu entries for %zu tokens",
                   gguf_path(f), (unsigned long long)cnt, n_tokens);
      goto out;
    }
    scores = mem_calloc(n_tokens, sizeof *scores);
    if (!scores) {
      rc = err_set(MIMIC_ENOMEM, "out of memory");
      goto out;
    }
    if (gguf_arr_f32(f, "tokenizer.ggml.scores", scores, cnt) != 0) {
      rc = err_set(MIMIC_EFORMAT, "%s: tokenizer.ggml.scores: expected numbers", gguf_path(f));
      goto out;
    }
  }
  if (gguf_get_arr(f, "tokenizer.ggml.token_type", &et, &cnt) == 0) {
    if (cnt != n_tokens) {
      rc = err_set(MIMIC_EFORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %zu tokens",
                   gguf_path(f), (unsigned long long)cnt, n_tokens);
      goto out;
    }
    types = mem_calloc(n_tokens, sizeof *types);
    if (!types) {
      rc = err_set(MIMIC_ENOMEM, "out of memory");
      goto out;
    }
    if (gguf_arr_i32(f, "tokenizer.ggml.token_type", types, cnt) != 0) {
      rc = err_set(MIMIC_EFORMAT, "%s: tokenizer.ggml.token_type: expected integers", gguf_path(f));
      goto out;
    }
  }
  if ((rc = read_id(f, "tokenizer.ggml.bos_token_id", &sp.bos)) ||
      (rc = read_id(f, "tokenizer.ggml.eos_token_id", &sp.eos)) ||
      (rc = read_id(f, "tokenizer.ggml.eot_token_id", &sp.eot)) ||
      (rc = read_id(f, "tokenizer.ggml.eom_token_id", &sp.eom)) ||
      (rc = read_id(f, "tokenizer.ggml.unknown_token_id", &sp.unk)) ||
      (rc = read_id(f, "tokenizer.ggml.seperator_token_id", &sp.sep)) ||
      (rc = read_id(f, "tokenizer.ggml.padding_token_id", &sp.pad)) ||
      (rc = read_flag(f, "tokenizer.ggml.add_bos_token", &sp.add_bos)) ||
      (rc = read_flag(f, "tokenizer.ggml.add_eos_token", &sp.add_eos)) ||
      (rc = read_flag(f, "tokenizer.ggml.add_space_prefix", &sp.add_space_prefix)) ||
      (rc = read_flag(f, "tokenizer.ggml.normalizer.lowercase", &sp.lowercase)) ||
      (rc = read_flag(f, "tokenizer.ggml.normalizer.strip_accents", &sp.strip_accents)))
    goto out;
  if (strcmp(model, "bert") == 0) { /* WordPiece frames with [CLS] ... [SEP] */
    int32_t cls = TOK_NULL;
    if ((rc = read_id(f, "tokenizer.ggml.cls_token_id", &cls))) goto out;
    if (cls != TOK_NULL) sp.bos = cls;
  }
  sp.model = model;
  sp.pre = pre;
  sp.name = name;
  sp.tokens = tokens;
  sp.n_tokens = n_tokens;
  sp.scores = scores;
  sp.types = types;
  sp.merges = merges;
  sp.n_merges = n_merges;
  sp.chat_template = tmpl;
  rc = tok_new(&sp, out);
  if (rc) err_prefix(rc, "%s", gguf_path(f));
out:
  mem_free(tokens);
  mem_free(merges);
  mem_free(scores);
  mem_free(types);
  mem_free(model); /* gguf_get_str_dup copies are malloc'd */
  mem_free(pre);
  mem_free(name);
  mem_free(tmpl);
  return rc;
}
