/* Tokenizer tests: every reference string of ../shared/testdata/tokenizer must give llama.cpp's
 * ids, decoding must round-trip, the streaming decoder must only ever emit valid UTF-8, special
 * tokens must only be parsed when asked, and hostile input must not crash. The in-memory
 * vocabularies check the merge rules without ../shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/stop.h"
#include "llm/tokenizer.h"
#include "test.h"

#define SEP "\n__ggml_vocab_test__\n"

static const char *const vocabs[] = {"gpt-2",        "gpt-2-pre-qwen2", "gpt-2-pre-llama-bpe",
                                     "deepseek-llm", "llama-spm",       "phi-3",
                                     "bert-bge"};
#define N_VOCABS (sizeof vocabs / sizeof vocabs[0])

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long l = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)l + 1);
  *n = fread(b, 1, (size_t)l, f);
  b[*n] = 0;
  fclose(f);
  return b;
}

static tokenizer *load_vocab(const char *name) {
  char rel[256], path[1024];
  snprintf(rel, sizeof rel, "testdata/tokenizer/ggml-vocab-%s.gguf", name);
  if (!test_shared_path(rel, path, sizeof path)) return NULL;
  gguf_file *f = NULL;
  tokenizer *t = NULL;
  if (gguf_open(path, &f) != 0 || tok_load(f, &t) != 0) {
    printf("  load %s: %s\n", name, err_msg());
    t = NULL;
  }
  gguf_close(f);
  return t;
}

/* Test strings of an .inp file: pointers into buf (the separators are overwritten with NULs). */
typedef struct strs {
  char *buf;
  const char *s[256];
  size_t len[256];
  int n;
} strs;

static bool strs_load(strs *v, const char *rel) {
  char path[1024];
  size_t n;
  memset(v, 0, sizeof *v);
  if (!test_shared_path(rel, path, sizeof path) || !(v->buf = slurp(path, &n))) return false;
  char *p = v->buf;
  char *e;
  while ((e = strstr(p, SEP)) != NULL && v->n < 256) {
    *e = 0;
    v->s[v->n] = p;
    v->len[v->n] = (size_t)(e - p);
    v->n++;
    p = e + strlen(SEP);
  }
  return true;
}

/* Compares every string's ids with the .out lines; reports the first mismatch. Returns mismatches.
 */
static int check_pairs(tokenizer *t, const char *inp_rel, const char *out_rel) {
  strs in;
  char path[1024];
  size_t n;
  if (!strs_load(&in, inp_rel)) return -1;
  char *out = test_shared_path(out_rel, path, sizeof path) ? slurp(path, &n) : NULL;
  if (!out) {
    free(in.buf);
    return -1;
  }
  int bad = 0, lines = 0;
  char *line = out;
  for (int k = 0; k < in.n; k++) {
    char *nl = strchr(line, '\n');
    if (!nl) {
      printf("  %s: only %d lines for %d strings\n", out_rel, lines, in.n);
      bad++;
      break;
    }
    *nl = 0;
    lines++;
    int32_t *ids = NULL;
    size_t nid = 0;
    if (tok_encode(t, in.s[k], in.len[k], false, false, &ids, &nid) != 0) {
      printf("  %s #%d: %s\n", inp_rel, k, err_msg());
      bad++;
    } else {
      buf got;
      buf_init(&got, 0);
      for (size_t i = 0; i < nid; i++) CHECK_OK(buf_printf(&got, " %d", (int)ids[i]));
      if (strcmp(got.data ? got.data : "", line) != 0) {
        if (bad == 0)
          printf("  %s: first mismatch, string #%d \"%.60s\"\n    want:%s\n    got: %s\n", out_rel,
                 k, in.s[k], line, got.data ? got.data : "");
        bad++;
      }
      buf_free(&got);
    }
    mem_free(ids);
    line = nl + 1;
  }
  free(in.buf);
  free(out);
  return bad;
}

TEST(test_reference_ids) {
  char path[1024];
  if (!test_shared_path("testdata/tokenizer/discord.inp", path, sizeof path))
    SKIP("../shared/testdata/tokenizer is absent");
  int files = 0;
  for (size_t v = 0; v < N_VOCABS; v++) {
    tokenizer *t = load_vocab(vocabs[v]);
    CHECK(t != NULL);
    if (!t) continue;
    char inp[256], out[256];
    snprintf(inp, sizeof inp, "testdata/tokenizer/ggml-vocab-%s.gguf.inp", vocabs[v]);
    snprintf(out, sizeof out, "testdata/tokenizer/ggml-vocab-%s.gguf.out", vocabs[v]);
    int bad = check_pairs(t, inp, out);
    CHECK_INT(bad, 0);
    files += bad >= 0;
    snprintf(out, sizeof out, "testdata/tokenizer/ggml-vocab-%s.discord.out", vocabs[v]);
    bad = check_pairs(t, "testdata/tokenizer/discord.inp", out);
    CHECK_INT(bad, 0);
    files += bad >= 0;
    tok_destroy(t);
  }
  CHECK_INT(files, 2 * (int)N_VOCABS);
}

/* decode(encode(s)) == s for every valid test string (BPE and SPM keep every byte). */
TEST(test_roundtrip) {
  strs a, b;
  if (!strs_load(&a, "testdata/tokenizer/ggml-vocab-gpt-2.gguf.inp")) SKIP("../shared absent");
  if (!strs_load(&b, "testdata/tokenizer/discord.inp")) {
    free(a.buf);
    SKIP("../shared absent");
  }
  const char *names[] = {"gpt-2", "gpt-2-pre-qwen2", "gpt-2-pre-llama-bpe", "deepseek-llm",
                         "llama-spm"};
  for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
    tokenizer *t = load_vocab(names[v]);
    REQUIRE(t != NULL);
    int bad = 0;
    for (int set = 0; set < 2; set++) {
      strs *s = set ? &b : &a;
      for (int k = 0; k < s->n; k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        char *text = NULL;
        size_t len = 0;
        CHECK_OK(tok_encode(t, s->s[k], s->len[k], false, false, &ids, &n));
        CHECK_OK(tok_decode_all(t, ids, n, TOK_DEC_STRIP_SPACE, &text, &len));
        if (!text || len != s->len[k] || memcmp(text, s->s[k], len) != 0) {
          if (!bad)
            printf("  %s: \"%s\" came back as \"%s\"\n", names[v], s->s[k], text ? text : "");
          bad++;
        }
        mem_free(ids);
        mem_free(text);
      }
    }
    CHECK_INT(bad, 0);
    tok_destroy(t);
  }
  free(a.buf);
  free(b.buf);
}

/* Feeding ids one at a time never yields invalid UTF-8, and the concatenation is the text. */
TEST(test_stream_utf8) {
  tokenizer *t = load_vocab("gpt-2-pre-qwen2");
  if (!t) SKIP("../shared absent");
  const char *texts[] = {
      "lmaooo 💀💀💀 that game last night 🎮🔥",
      "日本語のテキスト English mixed 한국어 텍스트",
      "emoji zwj 👨‍👩‍👧‍👦 family, flags 🇫🇷🇯🇵, skin tone 👍🏽",
  };
  int held_back = 0;
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(tok_encode(t, texts[k], strlen(texts[k]), false, false, &ids, &n));
    tok_decoder d;
    tok_decoder_init(&d, t, 0);
    buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < n; i++) {
      size_t before = out.len, blen;
      CHECK_OK(tok_decoder_push(&d, ids[i], &out));
      CHECK(utf8_valid(out.data ? out.data : "", out.len));
      tok_token_bytes(t, ids[i], &blen);
      if (out.len - before != blen) held_back++;
    }
    CHECK_OK(tok_decoder_flush(&d, &out));
    CHECK_STR(out.data, texts[k]);
    buf_free(&out);
    mem_free(ids);
  }
  CHECK(held_back > 0); /* the texts do split characters across tokens */
  tok_destroy(t);
}

/* A stream cut in the middle of a character, or fed garbage bytes, still yields valid UTF-8. */
TEST(test_stream_partial) {
  tokenizer *t = load_vocab("llama-spm");
  if (!t) SKIP("../shared absent");
  int32_t f0 = tok_find(t, "<0xF0>", 6), x9f = tok_find(t, "<0x9F>", 6),
          x92 = tok_find(t, "<0x92>", 6);
  int32_t x80 = tok_find(t, "<0x80>", 6), a = tok_find(t, "a", 1);
  REQUIRE(f0 >= 0 && x9f >= 0 && x92 >= 0 && x80 >= 0 && a >= 0);
  tok_decoder d;
  buf out;
  buf_init(&out, 0);
  /* F0 9F 92 80 is U+1F480 (skull): nothing comes out until the fourth byte. */
  tok_decoder_init(&d, t, 0);
  int32_t skull[] = {f0, x9f, x92, x80};
  for (int i = 0; i < 3; i++) {
    CHECK_OK(tok_decoder_push(&d, skull[i], &out));
    CHECK_INT(out.len, 0);
  }
  CHECK_OK(tok_decoder_push(&d, skull[3], &out));
  CHECK_STR(out.data, "\xF0\x9F\x92\x80");
  /* An interrupted sequence becomes U+FFFD, then decoding carries on. */
  buf_reset(&out);
  tok_decoder_init(&d, t, 0);
  CHECK_OK(tok_decoder_push(&d, f0, &out));
  CHECK_OK(tok_decoder_push(&d, x9f, &out));
  CHECK_OK(tok_decoder_push(&d, a, &out));
  CHECK_OK(tok_decoder_push(&d, x80, &out)); /* a lone continuation byte */
  CHECK_OK(tok_decoder_push(&d, f0, &out));
  CHECK_OK(tok_decoder_flush(&d, &out)); /* cut off at the end */
  CHECK_STR(out.data, "\xEF\xBF\xBD"
                      "a"
                      "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(tok_decoder_push(&d, tok_n_vocab(t), &out) == MIMIC_EINVAL);
  CHECK(tok_decoder_push(&d, -5, &out) == MIMIC_EINVAL);
  buf_free(&out);
  tok_destroy(t);
}

static bool has_id(const int32_t *ids, size_t n, int32_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

TEST(test_special_tokens) {
  tokenizer *t = load_vocab("gpt-2-pre-qwen2");
  if (!t) SKIP("../shared absent");
  const char *s = "hi<|endoftext|>there";
  int32_t eot = tok_find(t, "<|endoftext|>", 13);
  CHECK_INT(eot, 50256);
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK_OK(tok_encode(t, s, strlen(s), false, false, &ids, &n));
  CHECK(!has_id(ids, n, eot));
  char *text = NULL;
  size_t len;
  CHECK_OK(tok_decode_all(t, ids, n, 0, &text, &len));
  CHECK_STR(text, s); /* the user's text survives as plain text */
  mem_free(text);
  mem_free(ids);
  CHECK_OK(tok_encode(t, s, strlen(s), false, true, &ids, &n));
  CHECK(has_id(ids, n, eot));
  CHECK_INT(n, 3);
  if (n == 3) CHECK_INT(ids[1], eot);
  CHECK_OK(tok_decode_all(t, ids, n, 0, &text, &len));
  CHECK_STR(text, "hithere"); /* control tokens are not rendered by default */
  mem_free(text);
  CHECK_OK(tok_decode_all(t, ids, n, TOK_DEC_SPECIAL, &text, &len));
  CHECK_STR(text, s);
  mem_free(text);
  mem_free(ids);
  CHECK(tok_is_eog(t, eot));
  CHECK(tok_is_control(t, eot));
  CHECK(!tok_is_eog(t, 0));
  tok_destroy(t);

  /* deepseek's added (user-defined) tokens are matched even in user text, as llama.cpp does. */
  t = load_vocab("deepseek-llm");
  REQUIRE(t != NULL);
  int32_t oslash = tok_find(t, "\xc3\xb8", 2);
  CHECK_INT(tok_token_type(t, oslash), TOK_T_USER_DEFINED);
  CHECK_OK(tok_encode(t, "s\xc3\xb8ster", 7, false, false, &ids, &n));
  CHECK(has_id(ids, n, oslash));
  mem_free(ids);
  CHECK(tok_adds_bos(t));
  CHECK_OK(tok_encode(t, "x", 1, true, false, &ids, &n));
  CHECK(n >= 2 && ids[0] == tok_bos(t));
  mem_free(ids);
  tok_destroy(t);

  /* Phi-3: "</s>" is a user-defined token (matched in any text) that eats the spaces after it. */
  t = load_vocab("phi-3");
  REQUIRE(t != NULL);
  int32_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  CHECK_OK(tok_encode(t, "a</s>   b", 9, false, false, &a, &na));
  CHECK_OK(tok_encode(t, "a</s>b", 6, false, false, &b, &nb));
  CHECK(has_id(a, na, 2));
  CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
  mem_free(a);
  mem_free(b);
  tok_destroy(t);
}

TEST(test_bos_and_framing) {
  tokenizer *t = load_vocab("llama-spm");
  if (!t) SKIP("../shared absent");
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK_OK(tok_encode(t, "", 0, true, false, &ids, &n));
  CHECK_INT(n, 1);
  if (n) CHECK_INT(ids[0], 1);
  mem_free(ids);
  CHECK_OK(tok_encode(t, "", 0, false, false, &ids, &n));
  CHECK_INT(n, 0);
  mem_free(ids);
  /* <s> in text: a control token, only with parse_special. */
  CHECK_OK(tok_encode(t, "<s>", 3, false, true, &ids, &n));
  CHECK_INT(n, 1);
  if (n) CHECK_INT(ids[0], 1);
  mem_free(ids);
  CHECK_OK(tok_encode(t, "<s>", 3, false, false, &ids, &n));
  CHECK(n > 1 && !has_id(ids, n, 1));
  mem_free(ids);
  CHECK_INT(tok_eos(t), 2);
  CHECK(tok_is_eog(t, 2));
  tok_destroy(t);

  t = load_vocab("bert-bge");
  REQUIRE(t != NULL);
  CHECK_OK(tok_encode(t, "what is the capital of france?", 30, true, false, &ids, &n));
  REQUIRE(n >= 3);
  CHECK_INT(ids[0], 101);
  CHECK_INT(ids[n - 1], 102);
  mem_free(ids);
  tok_destroy(t);
}

/* Invalid UTF-8 and random bytes: no crash, BPE decodes back to valid UTF-8. */
TEST(test_hostile_input) {
  char path[1024];
  if (!test_shared_path("testdata/tokenizer/discord.inp", path, sizeof path))
    SKIP("../shared absent");
  unsigned char junk[4096];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    x = x * 1103515245u + 12345u;
    junk[i] = (unsigned char)(x >> 16);
  }
  const char *fixed[] = {"\xff\xfe",         "\xc3",
                         "a\xe2\x82",        "\xed\xa0\x80 surrogate",
                         "\xf4\x90\x80\x80", "\xc0\xaf overlong",
                         "\xf0\x9f\x92",     "<|endoftext|\xff>"};
  for (size_t v = 0; v < N_VOCABS; v++) {
    tokenizer *t = load_vocab(vocabs[v]);
    REQUIRE(t != NULL);
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0] + 1; k++) {
      const char *s = k < sizeof fixed / sizeof fixed[0] ? fixed[k] : (const char *)junk;
      size_t len = k < sizeof fixed / sizeof fixed[0] ? strlen(s) : sizeof junk;
      for (int ps = 0; ps < 2; ps++) {
        int32_t *ids = NULL;
        size_t n = 0;
        char *text = NULL;
        size_t tl = 0;
        CHECK_OK(tok_encode(t, s, len, true, ps, &ids, &n));
        if (len > 0) CHECK(n > 0);
        for (size_t i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < tok_n_vocab(t));
        CHECK_OK(tok_decode_all(t, ids, n, TOK_DEC_SPECIAL, &text, &tl));
        CHECK(text && utf8_valid(text, tl));
        mem_free(text);
        mem_free(ids);
      }
    }
    tok_destroy(t);
  }
}

/* ~100 KB of chat-like text: encodes (the merge loop is not quadratic) and round-trips. */
TEST(test_long_input) {
  tokenizer *t = load_vocab("gpt-2-pre-qwen2");
  if (!t) SKIP("../shared absent");
  buf b;
  buf_init(&b, 0);
  const char *lines[] = {"lol that game last night was wild 💀\n", "nooooooooooooooo way\n",
                         "<@123456789012345678> u up? ", "日本語 mixed text, 3.14159 ok\n"};
  for (int i = 0; b.len < 100000; i++) CHECK_OK(buf_puts(&b, lines[i % 4]));
  CHECK_OK(buf_append(&b, "x", 1));
  for (int i = 0; i < 20000; i++) CHECK_OK(buf_putc(&b, 'z')); /* one 20 KB word */
  int32_t *ids = NULL;
  size_t n = 0;
  char *text = NULL;
  size_t len = 0;
  CHECK_OK(tok_encode(t, b.data, b.len, false, false, &ids, &n));
  CHECK(n > 10000 && n < b.len);
  CHECK_OK(tok_decode_all(t, ids, n, 0, &text, &len));
  CHECK(len == b.len && text && memcmp(text, b.data, len) == 0);
  mem_free(text);
  mem_free(ids);
  CHECK(tok_encode(t, b.data, (size_t)TOK_MAX_INPUT + 1, false, false, &ids, &n) == MIMIC_ERANGE);
  buf_free(&b);
  tok_destroy(t);
}

/* The tiny models' vocabularies (cut to 8,192 tokens) give the ids llama.cpp prompted them with. */
TEST(test_model_prompts) {
  struct {
    const char *model, *tokens, *text;
  } cases[] = {
      {"testdata/llm/tiny-qwen2-f32.gguf", "testdata/llm/ref-qwen2-f32-plain.tokens",
       "BRUH that's wild, nooooo way \xf0\x9f\x92\x80 lmao"},
      {"testdata/llm/tiny-llama-f32.gguf", "testdata/llm/ref-llama-f32-plain.tokens",
       "Hello world, how's it going? gg ez"},
      {"testdata/llm/tiny-bert-f16.gguf", "testdata/llm/ref-bert-f16.tokens",
       "what is the capital of france?"},
  };
  char path[1024];
  if (!test_shared_path(cases[0].model, path, sizeof path)) SKIP("../shared/testdata/llm absent");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    gguf_file *f = NULL;
    tokenizer *t = NULL;
    REQUIRE(test_shared_path(cases[c].model, path, sizeof path));
    CHECK_OK(gguf_open(path, &f));
    if (f) CHECK_OK(tok_load(f, &t));
    gguf_close(f);
    REQUIRE(t != NULL);
    REQUIRE(test_shared_path(cases[c].tokens, path, sizeof path));
    FILE *fp = fopen(path, "r");
    REQUIRE(fp != NULL);
    int32_t want[256];
    size_t nw = 0;
    int x;
    while (nw < 256 && fscanf(fp, "%d", &x) == 1) want[nw++] = x;
    fclose(fp);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(tok_encode(t, cases[c].text, strlen(cases[c].text), true, true, &ids, &n));
    bool same = n == nw;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    if (!same) printf("  %s: ids differ (%zu vs %zu)\n", cases[c].tokens, n, nw);
    CHECK(same);
    mem_free(ids);
    tok_destroy(t);
  }
}

/* Runs a shell command and returns its first output line (without the newline), or NULL. */
static char *run_line(const char *cmd, int *status) {
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  static char line[65536];
  line[0] = 0;
  if (!fgets(line, sizeof line, p)) line[0] = 0;
  char rest[256];
  while (fgets(rest, sizeof rest, p)) {}
  *status = pclose(p);
  line[strcspn(line, "\n")] = 0;
  return line;
}

/* `mimic tokenize` prints the reference ids for the discord strings (gpt-2 vocabulary). */
TEST(test_cli_tokenize) {
  const char *bin = getenv("MIMIC_BIN");
  char model[1024], outp[1024], cmd[4096];
  if (!bin || access(bin, X_OK) != 0) SKIP("MIMIC_BIN not set (run through ctest)");
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-gpt-2.gguf", model, sizeof model) ||
      !test_shared_path("testdata/tokenizer/ggml-vocab-gpt-2.discord.out", outp, sizeof outp))
    SKIP("../shared absent");
  strs in;
  REQUIRE(strs_load(&in, "testdata/tokenizer/discord.inp"));
  size_t n;
  char *want = slurp(outp, &n);
  REQUIRE(want != NULL);
  char tmp[] = "/tmp/mimic-test-tok-XXXXXX";
  int fd = mkstemp(tmp);
  REQUIRE(fd >= 0);
  close(fd);
  char *line = want;
  int checked = 0;
  for (int k = 0; k < in.n; k++) {
    char *nl = strchr(line, '\n');
    REQUIRE(nl != NULL);
    *nl = 0;
    if (k % 4 != 0) { /* a sample keeps the test fast: each run loads the vocabulary */
      line = nl + 1;
      continue;
    }
    FILE *f = fopen(tmp, "wb");
    REQUIRE(f != NULL);
    fwrite(in.s[k], 1, in.len[k], f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' --file '%s'", bin, model, tmp);
    int st = -1;
    char *got = run_line(cmd, &st);
    CHECK_INT(st, 0);
    CHECK_STR(got, line[0] == ' ' ? line + 1 : line);
    checked++;
    line = nl + 1;
  }
  CHECK(checked >= 8);
  int st = -1;
  snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' --text 'a<|endoftext|>' --parse-special",
           bin, model);
  CHECK_STR(run_line(cmd, &st), "64 50256");
  snprintf(cmd, sizeof cmd, "'%s' tokenize --model /nonexistent.gguf --text hi 2>/dev/null", bin);
  run_line(cmd, &st);
  CHECK(st != 0);
  snprintf(cmd, sizeof cmd, "'%s' tokenize --text hi 2>/dev/null", bin);
  run_line(cmd, &st);
  CHECK(st != 0);
  unlink(tmp);
  free(want);
  free(in.buf);
}

/* Writes a vocabulary file with gguf_writer; which = the defect to plant. Returns tok_load's code.
 */
static int load_written(int which, tokenizer **out) {
  const char *toks[] = {"a", "b", "ab", "<|im_end|>"};
  int32_t types[] = {1, 1, 1, 3, 1};
  const char *merges[] = {"a b"};
  float scores[] = {0, 0, 0};
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "qwen2");
  if (which != 1) gguf_set_str(w, "tokenizer.ggml.model", which == 5 ? "t5" : "gpt2");
  gguf_set_str(w, "tokenizer.ggml.pre", which == 2 ? "mystery-splitter" : "qwen2");
  if (which != 3) gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
  gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, which == 4 ? 5 : 4);
  if (which != 6) gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
  if (which == 7) gguf_set_arr_f32(w, "tokenizer.ggml.scores", scores, 3);
  if (which == 8) gguf_set_str(w, "tokenizer.ggml.eos_token_id", "two");
  gguf_set_u32(w, "tokenizer.ggml.bos_token_id", which == 9 ? 999 : 3);
  char path[] = "/tmp/mimic-test-vocab-XXXXXX";
  int fd = mkstemp(path);
  int rc = MIMIC_EIO;
  *out = NULL;
  if (fd >= 0) {
    close(fd);
    if (gguf_writer_save(w, path) == 0) {
      gguf_file *f = NULL;
      rc = gguf_open(path, &f);
      if (rc == 0) rc = tok_load(f, out);
      gguf_close(f);
    }
    unlink(path);
  }
  gguf_writer_destroy(w);
  return rc;
}

TEST(test_load_errors) {
  tokenizer *t = NULL;
  CHECK_OK(load_written(0, &t));
  REQUIRE(t != NULL);
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK_OK(tok_encode(t, "abab", 4, false, false, &ids, &n));
  CHECK(n == 2 && ids[0] == 2 && ids[1] == 2);
  mem_free(ids);
  CHECK_INT(tok_bos(t), 3);
  tok_destroy(t);
  CHECK_INT(load_written(1, &t), MIMIC_ENOTFOUND); /* no tokenizer.ggml.model */
  CHECK_INT(load_written(2, &t), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "mystery-splitter") != NULL);
  CHECK_INT(load_written(3, &t), MIMIC_ENOTFOUND); /* no tokens */
  CHECK_INT(load_written(4, &t), MIMIC_EFORMAT);   /* token_type count differs */
  CHECK_INT(load_written(5, &t), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "t5") != NULL);
  CHECK_INT(load_written(6, &t), MIMIC_EFORMAT); /* gpt2 without merges */
  CHECK_INT(load_written(7, &t), MIMIC_EFORMAT); /* scores count differs */
  CHECK_INT(load_written(8, &t), MIMIC_EFORMAT); /* an id that is a string */
  CHECK(t == NULL);
  CHECK_OK(load_written(9, &t)); /* an id past the vocabulary: ignored */
  if (t) CHECK_INT(tok_bos(t), TOK_NULL);
  tok_destroy(t);
}

/* ---- in-memory vocabularies (no ../shared needed) ------------------------------------------ */

/* GPT-2's byte -> printable code point map, written out from its definition. */
static void byte_char(int b, char out[3]) {
  int k = 0;
  uint32_t cp = 0;
  for (int i = 0; i <= b; i++) {
    bool printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE);
    cp = printable ? (uint32_t)i : 0x100u + (uint32_t)k++;
  }
  char tmp[4];
  int n = utf8_encode(cp, tmp);
  memcpy(out, tmp, (size_t)n);
  out[n] = 0;
}

typedef struct mini {
  char text[300][16];
  tok_str toks[300];
  int32_t types[300];
  float scores[300];
  int n;
} mini;

static int mini_add(mini *m, const char *s, int32_t type, float score) {
  snprintf(m->text[m->n], sizeof m->text[m->n], "%s", s);
  m->toks[m->n] = (tok_str){m->text[m->n], strlen(s)};
  m->types[m->n] = type;
  m->scores[m->n] = score;
  return m->n++;
}

static tokenizer *mini_bpe(mini *m, const char *pre, const char *const *merges, size_t n_merges) {
  static tok_str ms[16];
  memset(m, 0, sizeof *m);
  for (int b = 0; b < 256; b++) {
    char c[3];
    byte_char(b, c);
    mini_add(m, c, TOK_T_NORMAL, 0);
  }
  for (size_t i = 0; i < n_merges; i++) {
    ms[i] = (tok_str){merges[i], strlen(merges[i])};
    char tok[16];
    const char *sp = strchr(merges[i] + 1, ' ');
    snprintf(tok, sizeof tok, "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
    mini_add(m, tok, TOK_T_NORMAL, 0);
  }
  mini_add(m, "<|im_start|>", TOK_T_CONTROL, 0);
  mini_add(m, "<|im_end|>", TOK_T_CONTROL, 0);
  tok_spec sp;
  tok_spec_init(&sp);
  sp.model = "gpt2";
  sp.pre = pre;
  sp.tokens = m->toks;
  sp.types = m->types;
  sp.n_tokens = (size_t)m->n;
  sp.merges = ms;
  sp.n_merges = n_merges;
  tokenizer *t = NULL;
  if (tok_new(&sp, &t) != 0) t = NULL;
  return t;
}

static void expect_ids(tokenizer *t, const char *text, bool special, const int32_t *want,
                       size_t nw) {
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK_OK(tok_encode(t, text, strlen(text), false, special, &ids, &n));
  bool same = n == nw;
  for (size_t i = 0; same && i < n; i++) same = ids[i] == want[i];
  if (!same) {
    printf("  \"%s\": got", text);
    for (size_t i = 0; i < n; i++) printf(" %d", (int)ids[i]);
    printf(", want");
    for (size_t i = 0; i < nw; i++) printf(" %d", (int)want[i]);
    printf("\n");
  }
  CHECK(same);
  mem_free(ids);
}

TEST(test_bpe_merge_order) {
  /* Ranks decide, not position: "b c" (rank 0) wins over "a b" (rank 1) in "abc", and "a bc" then
   * completes the word. */
  const char *merges[] = {"b c", "a b", "a bc", "\xc4\xa0 a"};
  mini m;
  tokenizer *t = mini_bpe(&m, "qwen2", merges, 4);
  REQUIRE(t != NULL);
  int32_t bc = 256, ab = 257, abc = 258, sp_a = 259, im_start = 260, im_end = 261;
  expect_ids(t, "abc", false, (int32_t[]){abc}, 1);
  expect_ids(t, "ab", false, (int32_t[]){ab}, 1);
  expect_ids(t, "abab", false, (int32_t[]){ab, ab}, 2);
  expect_ids(t, "bcab", false, (int32_t[]){bc, ab}, 2);
  expect_ids(t, " a", false, (int32_t[]){sp_a}, 1);
  expect_ids(t, "x\n", false, (int32_t[]){'x', '\n'}, 2); /* token b is byte b ('\n' is U+010A) */
  expect_ids(t, "<|im_start|>abc<|im_end|>", true, (int32_t[]){im_start, abc, im_end}, 3);
  expect_ids(t, "<|im_end|><|im_start|>", true, (int32_t[]){im_end, im_start}, 2);
  expect_ids(t, "<|im_end|>", false, (int32_t[]){'<', '|', 'i', 'm', '_', 'e', 'n', 'd', '|', '>'},
             10);
  CHECK(tok_is_eog(t, im_end));
  CHECK_INT(tok_eot(t), im_end);
  CHECK(!tok_is_eog(t, im_start));
  CHECK_STR(tok_pre_name(t), "qwen2");
  CHECK_INT(tok_model(t), TOK_BPE);
  size_t len;
  const char *bytes = tok_token_bytes(t, '\n', &len);
  CHECK(len == 1 && bytes[0] == '\n');
  CHECK_STR(tok_token_text(t, '\n'), "\xc4\x8a");
  tok_destroy(t);
}

TEST(test_bpe_errors) {
  const char *merges[] = {"a b"};
  mini m;
  tokenizer *t = mini_bpe(&m, "no-such-splitter", merges, 1);
  CHECK(t == NULL);
  CHECK(strstr(err_msg(), "no-such-splitter") != NULL);
  tok_destroy(t);
  tok_spec sp;
  tok_spec_init(&sp);
  sp.model = "rwkv";
  sp.tokens = m.toks;
  sp.n_tokens = 10;
  CHECK(tok_new(&sp, &t) == MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "rwkv") != NULL);
  sp.model = "gpt2"; /* no merges */
  CHECK(tok_new(&sp, &t) == MIMIC_EFORMAT);
  sp.n_tokens = 0;
  CHECK(tok_new(&sp, &t) == MIMIC_EFORMAT);
}

TEST(test_spm_scores_and_fallback) {
  mini m;
  memset(&m, 0, sizeof m);
  mini_add(&m, "<unk>", TOK_T_UNKNOWN, 0);
  mini_add(&m, "<s>", TOK_T_CONTROL, 0);
  mini_add(&m, "</s>", TOK_T_CONTROL, 0);
  for (int b = 0; b < 256; b++) {
    char hex[8];
    snprintf(hex, sizeof hex, "<0x%02X>", b);
    mini_add(&m, hex, TOK_T_BYTE, 0);
  }
  int u = mini_add(&m, "\xe2\x96\x81", TOK_T_NORMAL, -1); /* ▁ */
  int h = mini_add(&m, "h", TOK_T_NORMAL, -2);
  int i = mini_add(&m, "i", TOK_T_NORMAL, -2);
  int uh = mini_add(&m, "\xe2\x96\x81h", TOK_T_NORMAL, -3);
  int hi = mini_add(&m, "hi", TOK_T_NORMAL, -1.5f); /* better score than ▁h: merged first */
  int uhi = mini_add(&m, "\xe2\x96\x81hi", TOK_T_NORMAL, -4);
  tok_spec sp;
  tok_spec_init(&sp);
  sp.model = "llama";
  sp.tokens = m.toks;
  sp.types = m.types;
  sp.scores = m.scores;
  sp.n_tokens = (size_t)m.n;
  tokenizer *t = NULL;
  CHECK_OK(tok_new(&sp, &t));
  REQUIRE(t != NULL);
  (void)uh;
  (void)h;
  /* "hi" -> "▁hi": hi (score -1.5) merges before ▁h (-3), then ▁ + hi -> ▁hi. */
  expect_ids(t, "hi", false, (int32_t[]){uhi}, 1);
  /* "ih" has no merge: ▁ i h. */
  expect_ids(t, "ih", false, (int32_t[]){u, i, h}, 3);
  /* "é" is not a token: its two bytes come out as <0xC3> <0xA9>. */
  expect_ids(t, "hi\xc3\xa9", false, (int32_t[]){uhi, 3 + 0xC3, 3 + 0xA9}, 3);
  expect_ids(t, "<s>hi", true, (int32_t[]){1, uhi}, 2);
  (void)hi;
  int32_t *ids = NULL;
  size_t n = 0;
  char *text = NULL;
  size_t len = 0;
  CHECK_OK(tok_encode(t, "hi hi\xc3\xa9", 7, true, false, &ids, &n));
  CHECK(n > 0 && ids[0] == 1);
  CHECK_OK(tok_decode_all(t, ids, n, TOK_DEC_STRIP_SPACE, &text, &len));
  CHECK_STR(text, "hi hi\xc3\xa9");
  mem_free(text);
  mem_free(ids);
  tok_destroy(t);
}

TEST(test_wordpiece) {
  mini m;
  memset(&m, 0, sizeof m);
  mini_add(&m, "[PAD]", TOK_T_CONTROL, 0);
  int unk = mini_add(&m, "[UNK]", TOK_T_CONTROL, 0);
  int cls = mini_add(&m, "[CLS]", TOK_T_CONTROL, 0);
  int sep = mini_add(&m, "[SEP]", TOK_T_CONTROL, 0);
  int play = mini_add(&m, "\xe2\x96\x81play", TOK_T_NORMAL, 0);
  int ing = mini_add(&m, "ing", TOK_T_NORMAL, 0); /* "##ing" in phantom-space form */
  int bang = mini_add(&m, "\xe2\x96\x81!", TOK_T_NORMAL, 0);
  int cafe = mini_add(&m,
                      "\xe2\x96\x81"
                      "cafe",
                      TOK_T_NORMAL, 0);
  tok_spec sp;
  tok_spec_init(&sp);
  sp.model = "bert";
  sp.tokens = m.toks;
  sp.types = m.types;
  sp.n_tokens = (size_t)m.n;
  sp.bos = cls;
  sp.unk = unk;
  sp.sep = sep;
  tokenizer *t = NULL;
  CHECK_OK(tok_new(&sp, &t));
  REQUIRE(t != NULL);
  expect_ids(t, "Playing!", false, (int32_t[]){play, ing, bang}, 3);
  expect_ids(t, "  PLAY  zzz", false, (int32_t[]){play, unk}, 2);
  expect_ids(t, "Caf\xc3\xa9", false, (int32_t[]){cafe}, 1); /* accents stripped, lowercased */
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK_OK(tok_encode(t, "play", 4, true, false, &ids, &n));
  CHECK_INT(n, 3);
  if (n == 3) {
    CHECK_INT(ids[0], cls);
    CHECK_INT(ids[1], play);
    CHECK_INT(ids[2], sep);
  }
  mem_free(ids);
  tok_destroy(t);
}

/* Every allocation failure during tok_new and tok_encode is reported, not crashed on. */
TEST(test_alloc_failures) {
  const char *merges[] = {"b c", "a b", "a bc"};
  for (long k = 0; k < 400; k += 7) {
    mini m;
    mem_fail_after(k);
    tokenizer *t = mini_bpe(&m, "qwen2", merges, 3);
    int32_t *ids = NULL;
    size_t n = 0;
    if (t) {
      int rc = tok_encode(t, "abc abc <|im_end|>", 18, true, true, &ids, &n);
      CHECK(rc == 0 || rc == MIMIC_ENOMEM);
    }
    mem_fail_after(-1);
    mem_free(ids);
    tok_destroy(t);
  }
}

/* Issue 19: generation must never emit half a character. In a byte-level vocabulary "é" (C3 A9)
 * takes two tokens. The text path of a generation (llm_stop over the tokens' bytes, which the
 * engine and the openai backend both use) holds the first byte back until the second arrives, and
 * a generation that ends after a first byte drops it instead of writing U+FFFD. */
static int collect(void *user, const char *p, size_t n) {
  buf *b = user;
  CHECK(utf8_valid(p, n)); /* every piece handed to a consumer is whole */
  return buf_append(b, p, n);
}

TEST(test_generation_never_emits_half_a_character) {
  mini m;
  const char *merges[] = {"c a"};
  tokenizer *t = mini_bpe(&m, "qwen2", merges, 1);
  REQUIRE(t);
  size_t n = 0;
  const char *p = tok_token_bytes(t, 0xC3, &n);
  REQUIRE(p && n == 1 && (unsigned char)p[0] == 0xC3);
  int32_t ids[] = {'c', 'a', 'f', 0xC3, 0xA9, ' ', 0xC3};
  llm_stop s;
  REQUIRE(llm_stop_init(&s, NULL, 0) == 0);
  buf seen;
  buf_init(&seen, 0);
  for (int i = 0; i < 7; i++) {
    p = tok_token_bytes(t, ids[i], &n);
    CHECK_INT(llm_stop_feed(&s, p, n, collect, &seen), 0);
    if (i == 3) CHECK_INT(seen.len, 3); /* "caf": the C3 is held back */
  }
  CHECK_INT(llm_stop_finish(&s, collect, &seen), 0);
  CHECK_INT(seen.len, 6);
  CHECK(seen.len == 6 && memcmp(seen.data, "caf\xC3\xA9 ", 6) == 0); /* the last C3 is gone */
  size_t len = 0;
  const char *all = llm_stop_text(&s, &len);
  CHECK(len == 6 && utf8_valid(all, len));
  llm_stop_free(&s);
  buf_free(&seen);

  /* The decoder itself: the held byte is reported, then dropped. */
  tok_decoder d;
  buf out;
  buf_init(&out, 0);
  tok_decoder_init(&d, t, 0);
  for (int i = 0; i < 4; i++) CHECK_OK(tok_decoder_push(&d, ids[i], &out));
  CHECK_INT(out.len, 3);
  CHECK_INT(tok_decoder_pending(&d), 1);
  CHECK_INT(tok_decoder_drop(&d), 1);
  CHECK_INT(tok_decoder_pending(&d), 0);
  /* Byte-level use, without a vocabulary. */
  tok_decoder_init(&d, NULL, 0);
  buf_reset(&out);
  CHECK_OK(tok_decoder_push_bytes(&d, "\xE2\x82", 2, &out));
  CHECK_INT(out.len, 0);
  CHECK_OK(tok_decoder_push_bytes(&d, "\xAC!", 2, &out));
  CHECK(out.len == 4 && memcmp(out.data, "\xE2\x82\xAC!", 4) == 0);
  buf_free(&out);
  tok_destroy(t);
}

/* Stray bytes that can never be UTF-8 (a lone continuation byte, a lead byte cut short by ASCII,
 * 0xFF): U+FFFD by default, nothing in generated text (TOK_DEC_DROP_INVALID, which llm_stop uses),
 * so a byte-level model's noise never shows as replacement characters in a reply. */
TEST(test_generated_text_drops_invalid_bytes) {
  const char bad[] = "a\x80"
                     "b\xC3(c\xFF\xE2\x82\xAC"
                     "d";
  buf out;
  buf_init(&out, 0);
  tok_decoder d;
  tok_decoder_init(&d, NULL, 0);
  CHECK_OK(tok_decoder_push_bytes(&d, bad, sizeof bad - 1, &out));
  CHECK(out.len == 17 && memcmp(out.data,
                                "a\xEF\xBF\xBD"
                                "b\xEF\xBF\xBD(c\xEF\xBF\xBD\xE2\x82\xAC"
                                "d",
                                17) == 0);
  buf_reset(&out);
  tok_decoder_init(&d, NULL, TOK_DEC_DROP_INVALID);
  CHECK_OK(tok_decoder_push_bytes(&d, bad, sizeof bad - 1, &out));
  CHECK(out.len == 8 && memcmp(out.data,
                               "ab(c\xE2\x82\xAC"
                               "d",
                               8) == 0);
  buf_free(&out);
  llm_stop s;
  REQUIRE(llm_stop_init(&s, NULL, 0) == 0);
  buf seen;
  buf_init(&seen, 0);
  for (size_t i = 0; i + 1 < sizeof bad; i++)
    CHECK_INT(llm_stop_feed(&s, bad + i, 1, collect, &seen), 0);
  CHECK_INT(llm_stop_finish(&s, collect, &seen), 0);
  CHECK(seen.len == 8 && memcmp(seen.data,
                                "ab(c\xE2\x82\xAC"
                                "d",
                                8) == 0);
  size_t len;
  const char *all = llm_stop_text(&s, &len);
  CHECK(len == 8 && memcmp(all,
                           "ab(c\xE2\x82\xAC"
                           "d",
                           8) == 0);
  llm_stop_free(&s);
  /* A generation whose first token is only a stray byte, with a stop string to look for. */
  const char *stops[] = {"##"};
  REQUIRE(llm_stop_init(&s, stops, 1) == 0);
  buf_reset(&seen);
  CHECK_INT(llm_stop_feed(&s, "\xFF", 1, collect, &seen), 0);
  CHECK_INT(seen.len, 0);
  CHECK_INT(llm_stop_feed(&s, "ok#", 3, collect, &seen), 0);
  CHECK_INT(llm_stop_feed(&s, "#x", 2, collect, &seen), 1);
  CHECK(seen.len == 2 && memcmp(seen.data, "ok", 2) == 0);
  llm_stop_free(&s);
  buf_free(&seen);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(test_reference_ids);
  RUN(test_roundtrip);
  RUN(test_stream_utf8);
  RUN(test_generation_never_emits_half_a_character);
  RUN(test_stream_partial);
  RUN(test_generated_text_drops_invalid_bytes);
  RUN(test_special_tokens);
  RUN(test_bos_and_framing);
  RUN(test_hostile_input);
  RUN(test_long_input);
  RUN(test_cli_tokenize);
  RUN(test_model_prompts);
  RUN(test_load_errors);
  RUN(test_bpe_merge_order);
  RUN(test_bpe_errors);
  RUN(test_spm_scores_and_fallback);
  RUN(test_wordpiece);
  RUN(test_alloc_failures);
  TEST_MAIN_END();
}
