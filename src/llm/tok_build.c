/* Builds a tokenizer from a tok_spec (tokenizer.h): the piece and merge tables, the pre-tokenizer
 * regexes, the special-token table, the end-of-generation set and the decoded bytes of every
 * token. The behaviour follows llama.cpp (llama-vocab.cpp) so that mimic produces the reference
 * ids; the code is our own. Reading the spec from GGUF is tok_load.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/utf8.h"
#include "llm/tok_int.h"

void tok_spec_init(tok_spec *s) {
  memset(s, 0, sizeof *s);
  s->bos = s->eos = s->eot = s->eom = s->unk = s->sep = s->pad = TOK_NULL;
  s->add_bos = s->add_eos = s->add_space_prefix = -1;
  s->lowercase = s->strip_accents = -1;
}

void tok_destroy(tokenizer *t) {
  if (!t) return;
  mem_free(t->pool);
  mem_free(t->off);
  mem_free(t->len);
  mem_free(t->score);
  mem_free(t->type);
  mem_free(t->flags);
  mem_free(t->dpool);
  mem_free(t->doff);
  mem_free(t->dlen);
  mem_free(t->slots);
  mem_free(t->mkeys);
  mem_free(t->mrank);
  mem_free(t->specials);
  mem_free(t->sslots);
  mem_free(t->slens);
  for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
  mem_free(t->chat_template);
  mem_free(t);
}

/* White_Space as an explicit class, so \s means exactly what llama.cpp's splitters mean whatever
 * PCRE2's version thinks \s is. */
#define WS                                                                                         \
  "\\t-\\r "                                                                                       \
  "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

static const char *const re_gpt2[] = {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                      "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])",
                                      NULL};
/* smollm and the starcoder family: each digit alone, then GPT-2's splitter (llama.cpp). */
static const char *const re_smollm[] = {"\\p{N}",
                                        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                        "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])",
                                        NULL};
static const char *const re_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+",
                                         "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                         "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])",
                                         "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const re_qwen2[] = {
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS
                    "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+",
    NULL};
static const char *const re_llama3[] = {
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS
                    "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+",
    NULL};
/* deepseek-llm: cased letters, ASCII and full-width punctuation, CJK and Hangul, digits (the
 * character classes of llama.cpp's list, written as code points). */
static const char *const re_deepseek_llm[] = {
    "[\\r\\n]",
    "[" WS
    "]?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{"
    "293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}-\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{"
    "388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{"
    "531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{"
    "1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
    "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}"
    "\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{"
    "1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{"
    "2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{"
    "2145}-\\x{2149}\\x{214E}\\x{2183}-\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-"
    "\\x{2CEE}\\x{2CF2}-\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}"
    "-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{"
    "FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{"
    "104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
    "[" WS
    "]?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
    "[" WS "]+\\z",
    "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
    "\\p{N}+",
    NULL};

typedef struct pre_entry {
  const char *name;
  pre_kind kind;
} pre_entry;

/* tokenizer.ggml.pre values and the splitter each one means (llama.cpp's mapping). */
static const pre_entry pre_names[] = {
    {"default", PRE_DEFAULT},
    {"gpt-2", PRE_GPT2},
    {"phi-2", PRE_GPT2},
    {"jina-es", PRE_GPT2},
    {"jina-de", PRE_GPT2},
    {"jina-v2-es", PRE_GPT2},
    {"jina-v2-de", PRE_GPT2},
    {"jina-v2-code", PRE_GPT2},
    {"roberta-bpe", PRE_GPT2},
    {"gigachat", PRE_GPT2},
    {"qwen2", PRE_QWEN2},
    {"deepseek-r1-qwen", PRE_QWEN2},
    {"megrez", PRE_QWEN2},
    {"llama3", PRE_LLAMA3},
    {"llama-v3", PRE_LLAMA3},
    {"llama-bpe", PRE_LLAMA3},
    {"falcon3", PRE_LLAMA3},
    {"pixtral", PRE_LLAMA3},
    {"deepseek-llm", PRE_DEEPSEEK_LLM},
    {"smollm", PRE_SMOLLM},
    {"starcoder", PRE_SMOLLM},
};

static int compile_regexes(tokenizer *t, const char *const *src) {
  for (int i = 0; src[i]; i++) {
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                   &ecode, &eoff, NULL);
    if (!re) {
      PCRE2_UCHAR msg[128];
      pcre2_get_error_message(ecode, msg, sizeof msg);
      return err_set(MIMIC_EFORMAT, "tokenizer: pre-tokenizer '%s': regex %d: %s at %zu",
                     t->pre_name, i, (const char *)msg, (size_t)eoff);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: plain matching works too */
    t->re[t->n_re++] = re;
  }
  return 0;
}

static void build_byte_map(tokenizer *t) {
  /* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 take U+0100+k in
   * byte order. */
  int k = 0;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = printable ? (uint32_t)b : 0x100u + (uint32_t)k++;
    char tmp[4];
    int n = utf8_encode(cp, tmp);
    memcpy(t->bmap[b], tmp, (size_t)n);
    t->bmap_len[b] = (uint8_t)n;
  }
}

/* Reverse of the byte map for one code point; -1 when cp stands for no byte. */
static int bpe_cp_to_byte(uint32_t cp) {
  if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
    return (int)cp;
  if (cp < 0x100 || cp >= 0x100 + 68) return -1;
  int k = (int)(cp - 0x100);
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (!printable && k-- == 0) return b;
  }
  return -1;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Adds pieces (token texts, then extra merge halves) to the pool and the hash. */
typedef struct pool_builder {
  char *p;
  size_t n, cap;
} pool_builder;

static int pool_add(pool_builder *pb, const char *s, size_t n, uint32_t *off) {
  if (pb->n + n + 1 > UINT32_MAX)
    return err_set(MIMIC_ERANGE, "tokenizer: vocabulary text over 4 GiB");
  int rc = tok__grow((void **)&pb->p, &pb->cap, pb->n + n + 1, 1);
  if (rc) return rc;
  memcpy(pb->p + pb->n, s, n);
  pb->p[pb->n + n] = 0;
  *off = (uint32_t)pb->n;
  pb->n += n + 1;
  return 0;
}

static void slot_insert(tokenizer *t, int32_t id) {
  const char *s = tok__piece_text(t, id);
  size_t n = t->len[id];
  uint32_t i = (uint32_t)hash_fnv64_mixed(s, n) & t->mask;
  for (;;) {
    uint32_t v = t->slots[i];
    if (!v) {
      t->slots[i] = (uint32_t)id + 1;
      return;
    }
    int32_t other = (int32_t)(v - 1);
    if (t->len[other] == n && memcmp(tok__piece_text(t, other), s, n) == 0) {
      t->slots[i] = (uint32_t)id + 1; /* duplicate text: the later id wins, as in llama.cpp */
      return;
    }
    i = (i + 1) & t->mask;
  }
}

static int cmp_special(const void *a, const void *b, void *ctx) {
  const tokenizer *t = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  if (t->len[x] != t->len[y]) return t->len[x] > t->len[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

static int build_specials(tokenizer *t) {
  int32_t cnt = 0;
  for (int32_t i = 0; i < t->n; i++)
    if ((t->flags[i] & TF_SPECIAL_MATCH) && t->len[i] > 0) cnt++;
  t->n_specials = cnt;
  if (!cnt) return 0;
  t->specials = mem_calloc((size_t)cnt, sizeof *t->specials);
  t->slens = mem_calloc((size_t)cnt, sizeof *t->slens);
  t->smask = tok__table_size((size_t)cnt) - 1;
  t->sslots = mem_calloc((size_t)t->smask + 1, sizeof *t->sslots);
  if (!t->specials || !t->slens || !t->sslots)
    return err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %d special tokens", (int)cnt);
  cnt = 0;
  for (int32_t i = 0; i < t->n; i++)
    if ((t->flags[i] & TF_SPECIAL_MATCH) && t->len[i] > 0) t->specials[cnt++] = i;
  qsort_r(t->specials, (size_t)cnt, sizeof *t->specials, cmp_special, t);
  for (int32_t k = 0; k < cnt; k++) {
    int32_t id = t->specials[k];
    const char *s = tok__piece_text(t, id);
    t->sfirst[(unsigned char)s[0]] = 1;
    if (tok__special_find(t, s, t->len[id]) < 0) { /* keep the first (highest-priority) duplicate */
      uint32_t i = (uint32_t)hash_fnv64_mixed(s, t->len[id]) & t->smask;
      while (t->sslots[i]) i = (i + 1) & t->smask;
      t->sslots[i] = (uint32_t)k + 1;
    }
    if (t->n_slens == 0 || t->slens[t->n_slens - 1] != t->len[id])
      t->slens[t->n_slens++] = t->len[id];
  }
  return 0;
}

static bool name_contains(const char *name, const char *what) {
  if (!name) return false;
  size_t n = strlen(name), w = strlen(what);
  for (size_t i = 0; i + w <= n; i++) {
    size_t j = 0;
    while (j < w && (name[i + j] | 0x20) == (what[j] | 0x20)) j++;
    if (j == w) return true;
  }
  return false;
}

/* Texts that end a generation (llama.cpp's list), in the order tok_eot prefers them. */
static const char *const eog_texts[] = {
    "<|im_end|>",         "<|eot_id|>",    "<|end|>", "<end_of_turn>", "<|end_of_text|>",
    "<|eom_id|>",         "<EOT>",         "_<EOT>",  "<|return|>",    "<|call|>",
    "<end_of_utterance>", "<|endoftext|>", NULL};

int tok_new(const tok_spec *spec, tokenizer **out) {
  *out = NULL;
  int rc = 0;
  pool_builder pb = {0};
  tokenizer *t = mem_calloc(1, sizeof *t);
  if (!t) return err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
  const char *model = spec->model ? spec->model : "";
  if (strcmp(model, "gpt2") == 0)
    t->kind = TOK_BPE;
  else if (strcmp(model, "llama") == 0)
    t->kind = TOK_SPM;
  else if (strcmp(model, "bert") == 0)
    t->kind = TOK_WPM;
  else {
    rc = err_set(
        MIMIC_EUNSUPPORTED,
        "tokenizer model '%s' is not supported (mimic reads gpt2, llama and bert vocabularies)",
        model);
    goto out;
  }
  if (spec->n_tokens == 0 || !spec->tokens) {
    rc = err_set(MIMIC_EFORMAT, "tokenizer: the vocabulary has no tokens");
    goto out;
  }
  if (spec->n_tokens > TOK_MAX_VOCAB) {
    rc = err_set(MIMIC_ERANGE, "tokenizer: %zu tokens is over the cap of %d", spec->n_tokens,
                 TOK_MAX_VOCAB);
    goto out;
  }
  t->n = (int32_t)spec->n_tokens;

  /* Pre-tokenizer. */
  const char *pre = spec->pre && spec->pre[0] ? spec->pre : "default";
  snprintf(t->pre_name, sizeof t->pre_name, "%s", pre);
  if (t->kind == TOK_BPE) {
    const char *const *res = NULL;
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++)
      if (strcmp(pre, pre_names[i].name) == 0) t->pre = pre_names[i].kind;
    switch (t->pre) {
    case PRE_DEFAULT: res = re_default; break;
    case PRE_GPT2: res = re_gpt2; break;
    case PRE_QWEN2: res = re_qwen2; break;
    case PRE_LLAMA3: res = re_llama3; break;
    case PRE_DEEPSEEK_LLM: res = re_deepseek_llm; break;
    case PRE_SMOLLM: res = re_smollm; break;
    default:
      rc = err_set(MIMIC_EUNSUPPORTED,
                   "tokenizer: unknown pre-tokenizer '%s' (tokenizer.ggml.pre); mimic knows "
                   "default, gpt-2, qwen2, llama-bpe (llama3), deepseek-llm and smollm",
                   pre);
      goto out;
    }
    if (t->pre == PRE_DEFAULT)
      LOG_W("tok", "vocabulary has no known pre-tokenizer: using the default splitter; token ids "
                   "may differ from what the model was trained on");
    rc = compile_regexes(t, res);
    if (rc) goto out;
    if (t->pre == PRE_LLAMA3) {
      t->ignore_merges = true;
      t->add_bos = true;
    }
    build_byte_map(t);
  } else if (t->kind == TOK_SPM) {
    t->add_bos = true;
    t->add_space_prefix = true;
  } else {
    t->add_bos = true; /* [CLS] ... [SEP] */
  }

  /* Texts. */
  size_t n_extra_max = t->kind == TOK_BPE ? spec->n_merges * 2 : 0;
  size_t n_pieces_max = (size_t)t->n + n_extra_max;
  t->off = mem_calloc(n_pieces_max, sizeof *t->off);
  t->len = mem_calloc(n_pieces_max, sizeof *t->len);
  t->score = mem_calloc((size_t)t->n, sizeof *t->score);
  t->type = mem_calloc((size_t)t->n, sizeof *t->type);
  t->flags = mem_calloc((size_t)t->n, sizeof *t->flags);
  t->mask = tok__table_size(n_pieces_max) - 1;
  t->slots = mem_calloc((size_t)t->mask + 1, sizeof *t->slots);
  if (!t->off || !t->len || !t->score || !t->type || !t->flags || !t->slots) {
    rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %d tokens", (int)t->n);
    goto out;
  }
  for (int32_t i = 0; i < t->n; i++) {
    const tok_str *s = &spec->tokens[i];
    if (s->len > TOK_MAX_TOKEN_BYTES || (s->len && !s->ptr)) {
      rc = err_set(MIMIC_ERANGE, "tokenizer: token %d is %zu bytes long (cap %d)", (int)i, s->len,
                   TOK_MAX_TOKEN_BYTES);
      goto out;
    }
    rc = pool_add(&pb, s->ptr ? s->ptr : "", s->len, &t->off[i]);
    if (rc) goto out;
    t->len[i] = (uint32_t)s->len;
    if (s->len > t->max_token_len) t->max_token_len = (uint32_t)s->len;
    t->score[i] = spec->scores ? spec->scores[i] : 0.0f;
    int32_t ty = spec->types ? spec->types[i] : TOK_T_NORMAL;
    t->type[i] = (uint8_t)(ty >= TOK_T_NORMAL && ty <= TOK_T_BYTE ? ty : TOK_T_NORMAL);
  }
  t->pool = pb.p; /* provisional: slot_insert reads texts through t->pool */
  for (int32_t i = 0; i < t->n; i++) slot_insert(t, i);
  t->n_pieces = t->n;

  /* Merges: each half becomes a piece id (a token, or an extra piece when it is not one). */
  if (t->kind == TOK_BPE) {
    if (!spec->merges || spec->n_merges == 0) {
      rc = err_set(MIMIC_EFORMAT, "tokenizer: a gpt2 (BPE) vocabulary needs tokenizer.ggml.merges");
      goto out;
    }
    t->mmask = tok__table_size(spec->n_merges) - 1;
    t->mkeys = mem_alloc(((size_t)t->mmask + 1) * sizeof *t->mkeys);
    t->mrank = mem_calloc((size_t)t->mmask + 1, sizeof *t->mrank);
    if (!t->mkeys || !t->mrank) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %zu merges", spec->n_merges);
      goto out;
    }
    memset(t->mkeys, 0xFF, ((size_t)t->mmask + 1) * sizeof *t->mkeys);
    for (size_t r = 0; r < spec->n_merges; r++) {
      const tok_str *m = &spec->merges[r];
      if (m->len > 2 * TOK_MAX_TOKEN_BYTES || !m->ptr) continue;
      /* Split at the first space after position 0, as llama.cpp does ("  x" style halves keep
       * their leading space). A merge without one is ignored. */
      const char *sp = m->len > 1 ? memchr(m->ptr + 1, ' ', m->len - 1) : NULL;
      if (!sp) continue;
      const char *halves[2] = {m->ptr, sp + 1};
      size_t hl[2] = {(size_t)(sp - m->ptr), m->len - (size_t)(sp - m->ptr) - 1};
      int32_t ids[2];
      for (int h = 0; h < 2; h++) {
        ids[h] = tok__piece_find(t, halves[h], hl[h]);
        if (ids[h] < 0) {
          int32_t pid = t->n_pieces++;
          rc = pool_add(&pb, halves[h], hl[h], &t->off[pid]);
          if (rc) goto out;
          t->pool = pb.p;
          t->len[pid] = (uint32_t)hl[h];
          slot_insert(t, pid);
          ids[h] = pid;
        }
      }
      uint64_t key = ((uint64_t)(uint32_t)ids[0] << 32) | (uint32_t)ids[1];
      uint32_t i = (uint32_t)hash_mix64(key) & t->mmask;
      while (t->mkeys[i] != UINT64_MAX && t->mkeys[i] != key) i = (i + 1) & t->mmask;
      if (t->mkeys[i] == UINT64_MAX) { /* the first rank of a repeated merge wins */
        t->mkeys[i] = key;
        t->mrank[i] = (int32_t)r;
      }
    }
  }
  t->pool = pb.p;
  pb.p = NULL;

  /* Special ids: the model's defaults, then what the file says. */
  t->bos = t->eos = t->eot = t->eom = t->unk = t->sep = t->pad = TOK_NULL;
  if (t->kind == TOK_SPM) {
    t->bos = 1;
    t->eos = 2;
    t->unk = 0;
  } else if (t->kind == TOK_BPE) {
    t->bos = t->eos = 11;
  } else {
    t->bos = 101;
    t->unk = 100;
    t->sep = 102;
    t->pad = 0;
  }
  if (spec->bos != TOK_NULL) t->bos = spec->bos;
  if (spec->eos != TOK_NULL) t->eos = spec->eos;
  if (spec->eot != TOK_NULL) t->eot = spec->eot;
  if (spec->eom != TOK_NULL) t->eom = spec->eom;
  if (spec->unk != TOK_NULL) t->unk = spec->unk;
  if (spec->sep != TOK_NULL) t->sep = spec->sep;
  if (spec->pad != TOK_NULL) t->pad = spec->pad;
  int32_t *idp[] = {&t->bos, &t->eos, &t->eot, &t->eom, &t->unk, &t->sep, &t->pad};
  for (size_t i = 0; i < sizeof idp / sizeof idp[0]; i++)
    if (!tok__id_ok(t, *idp[i])) *idp[i] = TOK_NULL; /* defaults that do not fit this vocabulary */
  if (spec->add_bos >= 0) t->add_bos = spec->add_bos;
  if (spec->add_eos >= 0) t->add_eos = spec->add_eos;
  if (spec->add_space_prefix >= 0) t->add_space_prefix = spec->add_space_prefix;
  t->lowercase = spec->lowercase != 0;
  t->strip_accents = spec->strip_accents >= 0 ? spec->strip_accents != 0 : t->lowercase;

  /* End of generation: by id and by text. Such tokens are control tokens whatever the file says,
   * so they are never matched in user text. */
  for (int k = 0; eog_texts[k]; k++) {
    int32_t id = tok__vocab_find(t, eog_texts[k], strlen(eog_texts[k]));
    if (id == TOK_NULL) continue;
    t->flags[id] |= TF_EOG;
    if (t->type[id] != TOK_T_CONTROL) t->type[id] = TOK_T_CONTROL;
    if (t->eot == TOK_NULL && strcmp(eog_texts[k], "<|endoftext|>") != 0) t->eot = id;
  }
  if (t->eos != TOK_NULL) t->flags[t->eos] |= TF_EOG;
  if (t->eot != TOK_NULL) t->flags[t->eot] |= TF_EOG;
  if (t->eom != TOK_NULL) t->flags[t->eom] |= TF_EOG;

  /* Tokens matched in text before splitting: control, user-defined and unknown ones. */
  for (int32_t i = 0; i < t->n; i++) {
    uint8_t ty = t->type[i];
    if (ty == TOK_T_CONTROL || ty == TOK_T_USER_DEFINED || ty == TOK_T_UNKNOWN)
      t->flags[i] |= TF_SPECIAL_MATCH;
  }
  /* llama.cpp's Phi-3 quirk: special tokens eat the spaces after them (keyed on general.name). */
  if (name_contains(spec->name, "phi-3") || name_contains(spec->name, "phi3")) {
    for (int32_t i = 0; i < t->n; i++)
      if (t->flags[i] & TF_SPECIAL_MATCH) t->flags[i] |= TF_RSTRIP;
    const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t k = 0; k < 3; k++) {
      int32_t id = tok__vocab_find(t, keep[k], strlen(keep[k]));
      if (id != TOK_NULL) t->flags[id] &= (uint8_t)~TF_RSTRIP;
    }
  }
  rc = build_specials(t);
  if (rc) goto out;

  /* SPM: bytes that can never be part of a merged symbol split the merge work into independent
   * runs (a newline, in practice), which keeps the queue small on long texts. */
  if (t->kind == TOK_SPM) {
    memset(t->spm_cut, 1, sizeof t->spm_cut);
    for (int32_t i = 0; i < t->n; i++) {
      if (t->len[i] < 2) continue;
      const unsigned char *s = (const unsigned char *)tok__piece_text(t, i);
      for (uint32_t k = 0; k < t->len[i]; k++)
        if (s[k] < 128) t->spm_cut[s[k]] = 0;
    }
  }

  /* SPM byte fallback. */
  for (int b = 0; b < 256; b++) {
    char hex[8];
    snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = tok__vocab_find(t, hex, 6);
    if (id == TOK_NULL) {
      char c = (char)b;
      id = tok__vocab_find(t, &c, 1);
    }
    t->byte_tok[b] = id != TOK_NULL ? id : t->unk;
  }

  /* Decoded bytes of every token. */
  {
    pool_builder db = {0};
    t->doff = mem_calloc((size_t)t->n, sizeof *t->doff);
    t->dlen = mem_calloc((size_t)t->n, sizeof *t->dlen);
    if (!t->doff || !t->dlen) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
    char tmp[TOK_MAX_TOKEN_BYTES * 2 + 8];
    for (int32_t i = 0; i < t->n; i++) {
      const char *s = tok__piece_text(t, i);
      size_t n = t->len[i], o = 0;
      uint8_t ty = t->type[i];
      if (ty == TOK_T_CONTROL || ty == TOK_T_UNKNOWN || ty == TOK_T_USER_DEFINED) {
        memcpy(tmp, s, n);
        o = n;
      } else if (ty == TOK_T_BYTE && t->kind != TOK_BPE) {
        if (n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && hex_digit(s[3]) >= 0 &&
            hex_digit(s[4]) >= 0 && s[5] == '>')
          tmp[o++] = (char)(hex_digit(s[3]) * 16 + hex_digit(s[4]));
      } else if (ty == TOK_T_NORMAL && t->kind == TOK_BPE) {
        size_t i2 = 0;
        while (i2 < n) {
          uint32_t cp;
          int k = utf8_decode(s + i2, n - i2, &cp);
          int b = k > 0 ? bpe_cp_to_byte(cp) : -1;
          if (b >= 0) {
            tmp[o++] = (char)b;
          } else { /* not a byte-map character: keep it as written */
            size_t kk = k > 0 ? (size_t)k : 1;
            memcpy(tmp + o, s + i2, kk);
            o += kk;
          }
          i2 += k > 0 ? (size_t)k : 1;
        }
      } else if (ty == TOK_T_NORMAL) { /* SPM, WordPiece: U+2581 is a space */
        size_t i2 = 0;
        while (i2 < n) {
          if (i2 + 3 <= n && memcmp(s + i2, "\xe2\x96\x81", 3) == 0) {
            tmp[o++] = ' ';
            i2 += 3;
          } else {
            tmp[o++] = s[i2++];
          }
        }
      }
      rc = pool_add(&db, tmp, o, &t->doff[i]);
      if (rc) {
        mem_free(db.p);
        goto out;
      }
      t->dlen[i] = (uint32_t)o;
    }
    t->dpool = db.p;
  }

  if (spec->chat_template) {
    t->chat_template = mem_strdup(spec->chat_template);
    if (!t->chat_template) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
  }
  *out = t;
  t = NULL;
out:
  if (t && t->pool == pb.p) pb.p = NULL; /* the provisional pool is freed with t */
  mem_free(pb.p);
  tok_destroy(t);
  return rc;
}
