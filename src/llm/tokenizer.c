/* The tokenizer (see tokenizer.h): vocabulary tables, the special-token partition, the three
 * tokenization algorithms and the streaming decoder. The algorithms follow llama.cpp's behaviour
 * (llama-vocab.cpp), because mimic must produce the ids the reference produces; the code is our
 * own. docs/internals/tokenizer.md walks through the pipeline. GGUF reading is in tok_load.c. */
#include "llm/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/utf8.h"
#include "llm/tok_int.h"

#define MAX_REGEX 6

typedef enum {
  PRE_NONE = 0,
  PRE_DEFAULT,
  PRE_GPT2,
  PRE_QWEN2,
  PRE_LLAMA3,
  PRE_DEEPSEEK_LLM
} pre_kind;

/* Per-token flags. */
enum { TF_EOG = 1, TF_RSTRIP = 2, TF_LSTRIP = 4, TF_SPECIAL_MATCH = 8 };

struct tokenizer {
  tok_kind kind;
  pre_kind pre;
  char pre_name[32];
  int32_t n;           /* vocabulary size */
  int32_t n_pieces;    /* n plus merge halves that are not tokens (BPE) */
  char *pool;          /* texts of every piece, each NUL-terminated */
  uint32_t *off, *len; /* per piece */
  float *score;        /* per token */
  uint8_t *type;       /* per token (tok_type) */
  uint8_t *flags;      /* per token (TF_*) */
  char *dpool;         /* decoded bytes per token */
  uint32_t *doff, *dlen;
  uint32_t *slots; /* text -> piece id + 1, open addressing */
  uint32_t mask;
  uint64_t *mkeys; /* merge pair (left piece << 32 | right piece) -> rank */
  int32_t *mrank;
  uint32_t mmask;
  /* Special tokens matched in text: sorted by length (longest first), then id. */
  int32_t *specials;
  int32_t n_specials;
  uint32_t *sslots; /* special text -> index into specials + 1 */
  uint32_t smask;
  uint32_t *slens; /* distinct special lengths, descending */
  int n_slens;
  uint8_t sfirst[256]; /* 1 when some special token starts with this byte */
  int32_t bos, eos, eot, eom, unk, sep, pad;
  bool add_bos, add_eos, add_space_prefix, ignore_merges, lowercase, strip_accents;
  uint32_t max_token_len;
  int32_t byte_tok[256]; /* SPM byte fallback: id of <0xXX> (or the byte itself) */
  uint8_t spm_cut[128];  /* SPM: ASCII bytes no multi-byte token contains (see spm_fragment) */
  char bmap[256][3];     /* BPE: byte -> its printable code point, UTF-8 */
  uint8_t bmap_len[256];
  pcre2_code *re[MAX_REGEX];
  int n_re;
  char *chat_template;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

static uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static uint32_t table_size(size_t n) {
  uint32_t s = 16;
  while (s < n * 2 + 1) s <<= 1;
  return s;
}

static inline const char *piece_text(const tokenizer *t, int32_t id) {
  return t->pool + t->off[id];
}

/* Piece id with exactly this text, or -1. */
static int32_t piece_find(const tokenizer *t, const char *s, size_t n) {
  uint32_t i = (uint32_t)hash_bytes(s, n) & t->mask;
  for (;;) {
    uint32_t v = t->slots[i];
    if (!v) return -1;
    int32_t id = (int32_t)(v - 1);
    if (t->len[id] == n && memcmp(piece_text(t, id), s, n) == 0) return id;
    i = (i + 1) & t->mask;
  }
}

/* Vocabulary id with exactly this text (last id wins among duplicates), or TOK_NULL. */
static int32_t vocab_find(const tokenizer *t, const char *s, size_t n) {
  int32_t id = piece_find(t, s, n);
  return id >= 0 && id < t->n ? id : TOK_NULL;
}

static int32_t merge_rank(const tokenizer *t, int32_t a, int32_t b) {
  if (!t->mkeys || a < 0 || b < 0) return -1;
  uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
  uint32_t i = (uint32_t)hash_u64(key) & t->mmask;
  for (;;) {
    if (t->mkeys[i] == UINT64_MAX) return -1;
    if (t->mkeys[i] == key) return t->mrank[i];
    i = (i + 1) & t->mmask;
  }
}

/* Growable array of int32 ids (the output). */
typedef struct ivec {
  int32_t *v;
  size_t n, cap;
} ivec;

static int ivec_push(ivec *a, int32_t x) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    int32_t *p = mem_realloc(a->v, nc * sizeof *p);
    if (!p) return err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %zu ids", nc);
    a->v = p;
    a->cap = nc;
  }
  a->v[a->n++] = x;
  return 0;
}

/* Generic growth for scratch arrays. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *q = mem_realloc(*p, nc * elem);
  if (!q) return err_set(MIMIC_ENOMEM, "tokenizer: out of memory (%zu items)", nc);
  *p = q;
  *cap = nc;
  return 0;
}

/* llama.cpp's character length from the first byte (lenient: continuation bytes count as 1). */
static size_t utf8_len_lenient(unsigned char c) {
  static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lens[c >> 4];
}

/* ---- building ------------------------------------------------------------------------------ */

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
  int rc = grow((void **)&pb->p, &pb->cap, pb->n + n + 1, 1);
  if (rc) return rc;
  memcpy(pb->p + pb->n, s, n);
  pb->p[pb->n + n] = 0;
  *off = (uint32_t)pb->n;
  pb->n += n + 1;
  return 0;
}

static void slot_insert(tokenizer *t, int32_t id) {
  const char *s = piece_text(t, id);
  size_t n = t->len[id];
  uint32_t i = (uint32_t)hash_bytes(s, n) & t->mask;
  for (;;) {
    uint32_t v = t->slots[i];
    if (!v) {
      t->slots[i] = (uint32_t)id + 1;
      return;
    }
    int32_t other = (int32_t)(v - 1);
    if (t->len[other] == n && memcmp(piece_text(t, other), s, n) == 0) {
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

static int32_t special_find(const tokenizer *t, const char *s, size_t n) {
  uint32_t i = (uint32_t)hash_bytes(s, n) & t->smask;
  for (;;) {
    uint32_t v = t->sslots[i];
    if (!v) return -1;
    int32_t id = t->specials[v - 1];
    if (t->len[id] == n && memcmp(piece_text(t, id), s, n) == 0) return (int32_t)(v - 1);
    i = (i + 1) & t->smask;
  }
}

static int build_specials(tokenizer *t) {
  int32_t cnt = 0;
  for (int32_t i = 0; i < t->n; i++)
    if ((t->flags[i] & TF_SPECIAL_MATCH) && t->len[i] > 0) cnt++;
  t->n_specials = cnt;
  if (!cnt) return 0;
  t->specials = mem_calloc((size_t)cnt, sizeof *t->specials);
  t->slens = mem_calloc((size_t)cnt, sizeof *t->slens);
  t->smask = table_size((size_t)cnt) - 1;
  t->sslots = mem_calloc((size_t)t->smask + 1, sizeof *t->sslots);
  if (!t->specials || !t->slens || !t->sslots)
    return err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %d special tokens", (int)cnt);
  cnt = 0;
  for (int32_t i = 0; i < t->n; i++)
    if ((t->flags[i] & TF_SPECIAL_MATCH) && t->len[i] > 0) t->specials[cnt++] = i;
  qsort_r(t->specials, (size_t)cnt, sizeof *t->specials, cmp_special, t);
  for (int32_t k = 0; k < cnt; k++) {
    int32_t id = t->specials[k];
    const char *s = piece_text(t, id);
    t->sfirst[(unsigned char)s[0]] = 1;
    if (special_find(t, s, t->len[id]) < 0) { /* keep the first (highest-priority) duplicate */
      uint32_t i = (uint32_t)hash_bytes(s, t->len[id]) & t->smask;
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

static bool id_ok(const tokenizer *t, int32_t id) { return id >= 0 && id < t->n; }

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
    default:
      rc = err_set(MIMIC_EUNSUPPORTED,
                   "tokenizer: unknown pre-tokenizer '%s' (tokenizer.ggml.pre); mimic knows "
                   "default, gpt-2, qwen2, llama-bpe (llama3) and deepseek-llm",
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
  t->mask = table_size(n_pieces_max) - 1;
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
    t->mmask = table_size(spec->n_merges) - 1;
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
        ids[h] = piece_find(t, halves[h], hl[h]);
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
      uint32_t i = (uint32_t)hash_u64(key) & t->mmask;
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
    if (!id_ok(t, *idp[i])) *idp[i] = TOK_NULL; /* defaults that do not fit this vocabulary */
  if (spec->add_bos >= 0) t->add_bos = spec->add_bos;
  if (spec->add_eos >= 0) t->add_eos = spec->add_eos;
  if (spec->add_space_prefix >= 0) t->add_space_prefix = spec->add_space_prefix;
  t->lowercase = spec->lowercase != 0;
  t->strip_accents = spec->strip_accents >= 0 ? spec->strip_accents != 0 : t->lowercase;

  /* End of generation: by id and by text. Such tokens are control tokens whatever the file says,
   * so they are never matched in user text. */
  for (int k = 0; eog_texts[k]; k++) {
    int32_t id = vocab_find(t, eog_texts[k], strlen(eog_texts[k]));
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
      int32_t id = vocab_find(t, keep[k], strlen(keep[k]));
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
      const unsigned char *s = (const unsigned char *)piece_text(t, i);
      for (uint32_t k = 0; k < t->len[i]; k++)
        if (s[k] < 128) t->spm_cut[s[k]] = 0;
    }
  }

  /* SPM byte fallback. */
  for (int b = 0; b < 256; b++) {
    char hex[8];
    snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = vocab_find(t, hex, 6);
    if (id == TOK_NULL) {
      char c = (char)b;
      id = vocab_find(t, &c, 1);
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
      const char *s = piece_text(t, i);
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

/* ---- the special-token partition --------------------------------------------------------- */

typedef struct frag {
  size_t off, len;
  int32_t id; /* token id, or -1 for raw text */
} frag;

typedef struct occ {
  int32_t rank; /* index into specials (priority) */
  uint32_t pos;
} occ;

static int cmp_occ(const void *a, const void *b) {
  const occ *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_occ_pos(const void *a, const void *b) {
  const occ *x = a, *y = b;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool is_ascii_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Splits text into raw fragments and special tokens exactly as llama.cpp's partition does: special
 * tokens are taken longest first, each one left to right over whatever text is still raw. */
static int partition(const tokenizer *t, const char *text, size_t len, bool parse_special,
                     frag **out, size_t *nout) {
  int rc = 0;
  occ *oc = NULL;
  size_t noc = 0, coc = 0;
  uint8_t *claim = NULL; /* 0 raw, 1 token start, 2 token body or stripped space */
  size_t nacc = 0;       /* accepted matches, compacted to the front of oc */
  frag *fr = NULL;
  size_t nfr = 0, cfr = 0;
  *out = NULL;
  *nout = 0;
  if (len == 0) return 0;
  if (t->n_specials > 0) {
    for (size_t p = 0; p < len; p++) {
      if (!t->sfirst[(unsigned char)text[p]]) continue;
      for (int k = 0; k < t->n_slens; k++) {
        uint32_t L = t->slens[k];
        if (L > len - p) continue;
        int32_t r = special_find(t, text + p, L);
        if (r < 0) continue;
        uint8_t ty = t->type[t->specials[r]];
        if (!parse_special && ty != TOK_T_USER_DEFINED) continue;
        rc = grow((void **)&oc, &coc, noc + 1, sizeof *oc);
        if (rc) goto out;
        oc[noc].rank = r;
        oc[noc].pos = (uint32_t)p;
        noc++;
      }
    }
  }
  if (noc > 0) {
    qsort(oc, noc, sizeof *oc, cmp_occ);
    claim = mem_calloc(len, 1);
    if (!claim) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
    size_t last_end = 0;
    int32_t last_rank = -1;
    for (size_t i = 0; i < noc; i++) {
      int32_t id = t->specials[oc[i].rank];
      size_t p = oc[i].pos, L = t->len[id];
      if (oc[i].rank != last_rank) {
        last_rank = oc[i].rank;
        last_end = 0;
      }
      if (p < last_end) continue; /* overlaps the previous match of this same token */
      bool free_run = true;
      for (size_t q = p; q < p + L; q++)
        if (claim[q]) {
          free_run = false;
          break;
        }
      if (!free_run) continue;
      claim[p] = 1;
      oc[nacc++] = oc[i]; /* nacc <= i: compacting in place is safe */
      for (size_t q = p + 1; q < p + L; q++) claim[q] = 2;
      last_end = p + L;
      if (t->flags[id] & TF_RSTRIP)
        for (size_t q = p + L; q < len && !claim[q] && is_ascii_space((unsigned char)text[q]); q++)
          claim[q] = 2;
      if (t->flags[id] & TF_LSTRIP)
        for (size_t q = p; q > 0 && !claim[q - 1] && is_ascii_space((unsigned char)text[q - 1]);
             q--)
          claim[q - 1] = 2;
    }
  }
  /* Emit fragments: accepted matches in text order, raw text between them. */
  if (nacc > 1) qsort(oc, nacc, sizeof *oc, cmp_occ_pos);
  size_t p = 0, next = 0;
  while (p < len) {
    rc = grow((void **)&fr, &cfr, nfr + 1, sizeof *fr);
    if (rc) goto out;
    if (claim && claim[p] == 1) {
      int32_t id = t->specials[oc[next++].rank];
      fr[nfr++] = (frag){p, t->len[id], id};
      p += t->len[id];
    } else if (claim && claim[p] == 2) {
      p++;
    } else {
      size_t q = p;
      while (q < len && !(claim && claim[q])) q++;
      fr[nfr++] = (frag){p, q - p, -1};
      p = q;
    }
  }
  *out = fr;
  *nout = nfr;
  fr = NULL;
out:
  mem_free(oc);
  mem_free(claim);
  mem_free(fr);
  return rc;
}

/* ---- merge machinery shared by BPE and SPM -------------------------------------------------- */

typedef struct sym {
  uint32_t off, len; /* into the word being merged */
  int32_t prev, next;
  int32_t piece; /* BPE: piece id of the text, or -1 */
} sym;

typedef struct bigram {
  double key; /* BPE: rank; SPM: -score. Lowest key first, then leftmost. */
  int32_t left, right;
  uint32_t llen, rlen;
} bigram;

typedef struct session {
  const tokenizer *t;
  ivec *outv;
  sym *sy;
  size_t csy;
  bigram *hp;
  size_t nhp, chp;
  char *w; /* scratch word */
  size_t cw;
  pcre2_match_data *md;
  size_t *spl; /* split offsets: pairs (off, len) */
  size_t nspl, cspl;
  size_t *spl2;
  size_t nspl2, cspl2;
  char *clean; /* sanitized UTF-8 fragment */
  size_t cclean;
  uint32_t *cps; /* code points (WordPiece) */
  size_t ccps;
} session;

static bool bigram_less(const bigram *a, const bigram *b) {
  if (a->key != b->key) return a->key < b->key;
  return a->left < b->left;
}

static int heap_push(session *s, bigram b) {
  int rc = grow((void **)&s->hp, &s->chp, s->nhp + 1, sizeof *s->hp);
  if (rc) return rc;
  size_t i = s->nhp++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!bigram_less(&b, &s->hp[parent])) break;
    s->hp[i] = s->hp[parent];
    i = parent;
  }
  s->hp[i] = b;
  return 0;
}

static bigram heap_pop(session *s) {
  bigram top = s->hp[0];
  bigram last = s->hp[--s->nhp];
  size_t i = 0, n = s->nhp;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && bigram_less(&s->hp[c + 1], &s->hp[c])) c++;
    if (!bigram_less(&s->hp[c], &last)) break;
    s->hp[i] = s->hp[c];
    i = c;
  }
  if (n) s->hp[i] = last;
  return top;
}

/* BPE: queue the pair (l, r) if the merges list ranks it. */
static int bpe_add_bigram(session *s, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return 0;
  int32_t rank = merge_rank(s->t, s->sy[l].piece, s->sy[r].piece);
  if (rank < 0) return 0;
  return heap_push(s, (bigram){(double)rank, l, r, s->sy[l].len, s->sy[r].len});
}

/* SPM: queue the pair (l, r) if their concatenation is a token; its score ranks it. */
static int spm_add_bigram(session *s, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return 0;
  int32_t id = vocab_find(s->t, s->w + s->sy[l].off, s->sy[l].len + s->sy[r].len);
  if (id == TOK_NULL) return 0;
  return heap_push(s, (bigram){-(double)s->t->score[id], l, r, s->sy[l].len, s->sy[r].len});
}

/* Runs the merge loop over s->sy[0..n); is_bpe picks how pairs are ranked. */
static int merge_loop(session *s, bool is_bpe) {
  int rc;
  while (s->nhp > 0) {
    bigram b = heap_pop(s);
    sym *L = &s->sy[b.left], *R = &s->sy[b.right];
    if (L->len != b.llen || R->len != b.rlen || !L->len || !R->len) continue; /* outdated */
    L->len += R->len;
    R->len = 0;
    L->next = R->next;
    if (R->next >= 0) s->sy[R->next].prev = b.left;
    if (is_bpe) {
      L->piece = piece_find(s->t, s->w + L->off, L->len);
      if ((rc = bpe_add_bigram(s, L->prev, b.left)) || (rc = bpe_add_bigram(s, b.left, L->next)))
        return rc;
    } else {
      if ((rc = spm_add_bigram(s, L->prev, b.left)) || (rc = spm_add_bigram(s, b.left, L->next)))
        return rc;
    }
  }
  return 0;
}

/* ---- BPE ------------------------------------------------------------------------------------ */

/* Lenient UTF-8 clean-up mirroring llama.cpp: each byte that does not start a well-formed sequence
 * becomes U+FFFD. Writes into s->clean. */
static int sanitize(session *s, const char *text, size_t len, size_t *out_len) {
  int rc = grow((void **)&s->clean, &s->cclean, len * 3 + 1, 1);
  if (rc) return rc;
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80) {
      s->clean[o++] = (char)c;
      i++;
      continue;
    }
    uint32_t cp;
    int k = utf8_decode(text + i, len - i, &cp);
    if (k > 0) {
      memcpy(s->clean + o, text + i, (size_t)k);
      o += (size_t)k;
      i += (size_t)k;
    } else {
      memcpy(s->clean + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  *out_len = o;
  return 0;
}

/* Applies the pre-tokenizer regexes in turn; each splits every current piece into matches and the
 * gaps between them (gaps are kept, as in llama.cpp). Result: s->spl pairs over s->clean. */
static int regex_split(session *s, size_t len) {
  int rc;
  s->nspl = 0;
  rc = grow((void **)&s->spl, &s->cspl, 2, sizeof *s->spl);
  if (rc) return rc;
  s->spl[0] = 0;
  s->spl[1] = len;
  s->nspl = 1;
  for (int r = 0; r < s->t->n_re; r++) {
    s->nspl2 = 0;
    for (size_t k = 0; k < s->nspl; k++) {
      size_t base = s->spl[2 * k], n = s->spl[2 * k + 1];
      const char *subj = s->clean + base;
      size_t pos = 0, start = 0;
      while (start < n) {
        int m =
            pcre2_match(s->t->re[r], (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK, s->md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
          PCRE2_UCHAR msg[128];
          pcre2_get_error_message(m, msg, sizeof msg);
          return err_set(MIMIC_EFORMAT, "tokenizer: pre-tokenizer regex failed: %s",
                         (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* empty match: step over one character */
          start = ms + 1;
          while (start < n && ((unsigned char)subj[start] & 0xC0) == 0x80) start++;
          continue;
        }
        if ((rc = grow((void **)&s->spl2, &s->cspl2, 2 * (s->nspl2 + 2), sizeof *s->spl2)))
          return rc;
        if (ms > pos) {
          s->spl2[2 * s->nspl2] = base + pos;
          s->spl2[2 * s->nspl2 + 1] = ms - pos;
          s->nspl2++;
        }
        s->spl2[2 * s->nspl2] = base + ms;
        s->spl2[2 * s->nspl2 + 1] = me - ms;
        s->nspl2++;
        pos = start = me;
      }
      if (pos < n) {
        if ((rc = grow((void **)&s->spl2, &s->cspl2, 2 * (s->nspl2 + 1), sizeof *s->spl2)))
          return rc;
        s->spl2[2 * s->nspl2] = base + pos;
        s->spl2[2 * s->nspl2 + 1] = n - pos;
        s->nspl2++;
      }
    }
    size_t *tmp = s->spl;
    s->spl = s->spl2;
    s->spl2 = tmp;
    size_t tc = s->cspl;
    s->cspl = s->cspl2;
    s->cspl2 = tc;
    s->nspl = s->nspl2;
  }
  return 0;
}

static int bpe_word(session *s, const char *word, size_t wlen) {
  const tokenizer *t = s->t;
  int rc;
  /* Map bytes to their printable code points. */
  if ((rc = grow((void **)&s->w, &s->cw, wlen * 2 + 1, 1))) return rc;
  if ((rc = grow((void **)&s->sy, &s->csy, wlen, sizeof *s->sy))) return rc;
  size_t o = 0;
  for (size_t i = 0; i < wlen; i++) {
    unsigned char b = (unsigned char)word[i];
    s->sy[i].off = (uint32_t)o;
    s->sy[i].len = t->bmap_len[b];
    s->sy[i].prev = (int32_t)i - 1;
    s->sy[i].next = i + 1 < wlen ? (int32_t)i + 1 : -1;
    memcpy(s->w + o, t->bmap[b], t->bmap_len[b]);
    o += t->bmap_len[b];
  }
  if (t->ignore_merges) {
    int32_t id = vocab_find(t, s->w, o);
    if (id != TOK_NULL) return ivec_push(s->outv, id);
  }
  for (size_t i = 0; i < wlen; i++)
    s->sy[i].piece = piece_find(t, s->w + s->sy[i].off, s->sy[i].len);
  s->nhp = 0;
  for (size_t i = 1; i < wlen; i++)
    if ((rc = bpe_add_bigram(s, (int32_t)i - 1, (int32_t)i))) return rc;
  if ((rc = merge_loop(s, true))) return rc;
  for (int32_t i = 0; i >= 0; i = s->sy[i].next) {
    const sym *y = &s->sy[i];
    int32_t id = y->piece >= 0 && y->piece < t->n ? y->piece : TOK_NULL;
    if (id != TOK_NULL) {
      if ((rc = ivec_push(s->outv, id))) return rc;
      continue;
    }
    /* Not a token: llama.cpp emits each byte of the mapped text that is a token by itself. */
    for (uint32_t j = 0; j < y->len; j++) {
      int32_t b = vocab_find(t, s->w + y->off + j, 1);
      if (b != TOK_NULL && (rc = ivec_push(s->outv, b))) return rc;
    }
  }
  return 0;
}

static int bpe_fragment(session *s, const char *text, size_t len) {
  size_t clen;
  int rc = sanitize(s, text, len, &clen);
  if (rc) return rc;
  if ((rc = regex_split(s, clen))) return rc;
  for (size_t k = 0; k < s->nspl; k++)
    if ((rc = bpe_word(s, s->clean + s->spl[2 * k], s->spl[2 * k + 1]))) return rc;
  return 0;
}

/* ---- SentencePiece -------------------------------------------------------------------------- */

static int spm_fragment(session *s, const char *text, size_t len, bool prefix_space) {
  const tokenizer *t = s->t;
  int rc;
  /* The text with spaces escaped to U+2581, prefixed with one when asked. */
  size_t spaces = prefix_space ? 1 : 0;
  for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
  size_t wl = len + spaces * 2 + (prefix_space ? 1 : 0);
  if ((rc = grow((void **)&s->w, &s->cw, wl + 1, 1))) return rc;
  size_t o = 0;
  if (prefix_space) {
    memcpy(s->w, "\xe2\x96\x81", 3);
    o = 3;
  }
  for (size_t i = 0; i < len; i++) {
    if (text[i] == ' ') {
      memcpy(s->w + o, "\xe2\x96\x81", 3);
      o += 3;
    } else {
      s->w[o++] = text[i];
    }
  }
  /* One symbol per character (lenient lengths, as llama.cpp). */
  if ((rc = grow((void **)&s->sy, &s->csy, o + 1, sizeof *s->sy))) return rc;
  int32_t ns = 0;
  for (size_t i = 0; i < o;) {
    size_t cl = utf8_len_lenient((unsigned char)s->w[i]);
    if (cl > o - i) cl = o - i;
    s->sy[ns] = (sym){(uint32_t)i, (uint32_t)cl, ns - 1, -1, -1};
    if (ns > 0) s->sy[ns - 1].next = ns;
    ns++;
    i += cl;
  }
  if (ns == 0) return 0;
  /* Merge run by run between cut characters: no bigram can ever include one (no token longer
   * than a byte contains it), so the runs are independent and the result is the same as one loop
   * over everything. */
  int32_t run = 0;
  for (int32_t i = 0; i <= ns; i++) {
    bool cut = i == ns || (s->sy[i].len == 1 && (unsigned char)s->w[s->sy[i].off] < 128 &&
                           t->spm_cut[(unsigned char)s->w[s->sy[i].off]]);
    if (!cut) continue;
    s->nhp = 0;
    for (int32_t k = run + 1; k < i; k++)
      if ((rc = spm_add_bigram(s, k - 1, k))) return rc;
    if ((rc = merge_loop(s, false))) return rc;
    run = i + 1;
  }
  for (int32_t i = 0; i >= 0; i = s->sy[i].next) {
    const sym *y = &s->sy[i];
    int32_t id = vocab_find(t, s->w + y->off, y->len);
    if (id != TOK_NULL) {
      if ((rc = ivec_push(s->outv, id))) return rc;
      continue;
    }
    for (uint32_t j = 0; j < y->len; j++) { /* byte fallback */
      int32_t b = t->byte_tok[(unsigned char)s->w[y->off + j]];
      if (b != TOK_NULL && (rc = ivec_push(s->outv, b))) return rc;
    }
  }
  return 0;
}

/* ---- WordPiece ------------------------------------------------------------------------------ */

static bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest match from the left over "▁" + word; a word with any unmatched position becomes
 * [UNK] as a whole. */
static int wpm_word(session *s, const char *word, size_t wl) {
  const tokenizer *t = s->t;
  int rc;
  if (wl == 0) return 0;
  if ((rc = grow((void **)&s->w, &s->cw, wl + 4, 1))) return rc;
  memcpy(s->w, "\xe2\x96\x81", 3);
  memcpy(s->w + 3, word, wl);
  size_t n = wl + 3, before = s->outv->n;
  for (size_t i = 0; i < n; i++) {
    bool match = false;
    size_t jmax = i + t->max_token_len + 1 < n ? i + t->max_token_len + 1 : n;
    for (size_t j = jmax; j > i; j--) {
      int32_t id = vocab_find(t, s->w + i, j - i);
      if (id != TOK_NULL) {
        if ((rc = ivec_push(s->outv, id))) return rc;
        match = true;
        i = j - 1;
        break;
      }
    }
    if (!match) {
      s->outv->n = before;
      break;
    }
  }
  if (s->outv->n == before) return ivec_push(s->outv, t->unk);
  return 0;
}

static int wpm_fragment(session *s, const char *text, size_t len) {
  const tokenizer *t = s->t;
  int rc;
  /* Normalize into s->clean as words separated by NUL: whitespace ends a word, punctuation, ASCII
   * symbols and CJK ideographs are words of their own, controls are dropped. */
  if ((rc = grow((void **)&s->clean, &s->cclean, len * 4 + 2, 1))) return rc;
  size_t o = 0, i = 0;
  bool in_word = false;
  while (i < len) {
    uint32_t cp;
    int k = utf8_decode(text + i, len - i, &cp);
    i += k > 0 ? (size_t)k : 1;
    if (k <= 0) cp = 0xFFFD;
    if (t->strip_accents) cp = tok__unfd_first(cp);
    if (tok__uspace(cp)) {
      if (in_word) s->clean[o++] = 0;
      in_word = false;
      continue;
    }
    int cls = tok__ucls(cp);
    if (cp == 0 || cp == 0xFFFD || cls == UCLASS_CONTROL) continue;
    if (t->strip_accents && cls == UCLASS_MARK) continue;
    if (t->lowercase) cp = tok__ulower_of(cp);
    char enc[4];
    int el = utf8_encode(cp, enc);
    if (el == 0) continue;
    if (cls == UCLASS_PUNCT || (cp < 0x7F && cls == UCLASS_SYMBOL) || is_cjk(cp)) {
      if (in_word) s->clean[o++] = 0;
      memcpy(s->clean + o, enc, (size_t)el);
      o += (size_t)el;
      s->clean[o++] = 0;
      in_word = false;
    } else {
      memcpy(s->clean + o, enc, (size_t)el);
      o += (size_t)el;
      in_word = true;
    }
  }
  if (in_word) s->clean[o++] = 0;
  for (size_t p = 0; p < o;) {
    size_t q = p;
    while (s->clean[q]) q++;
    if ((rc = wpm_word(s, s->clean + p, q - p))) return rc;
    p = q + 1;
  }
  return 0;
}

/* ---- encode --------------------------------------------------------------------------------- */

static void session_free(session *s) {
  mem_free(s->sy);
  mem_free(s->hp);
  mem_free(s->w);
  mem_free(s->spl);
  mem_free(s->spl2);
  mem_free(s->clean);
  mem_free(s->cps);
  if (s->md) pcre2_match_data_free(s->md);
}

int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
               int32_t **ids, size_t *n) {
  *ids = NULL;
  *n = 0;
  if (len > TOK_MAX_INPUT)
    return err_set(MIMIC_ERANGE, "tokenizer: input of %zu bytes is over the cap of %u bytes", len,
                   TOK_MAX_INPUT);
  if (len && !text) return err_set(MIMIC_EINVAL, "tokenizer: NULL text");
  int rc = 0;
  ivec outv = {0};
  frag *fr = NULL;
  size_t nfr = 0;
  session s = {.t = t, .outv = &outv};
  if (t->n_re > 0) {
    s.md = pcre2_match_data_create_from_pattern(t->re[0], NULL);
    if (!s.md) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
  }
  if ((rc = partition(t, text, len, parse_special, &fr, &nfr))) goto out;
  if (add_bos && t->add_bos && t->bos != TOK_NULL && (rc = ivec_push(&outv, t->bos))) goto out;
  bool prev_special = true; /* SPM: the first raw text gets the space prefix */
  for (size_t i = 0; i < nfr; i++) {
    if (fr[i].id >= 0) {
      if ((rc = ivec_push(&outv, fr[i].id))) goto out;
      prev_special = true;
      continue;
    }
    const char *p = text + fr[i].off;
    switch (t->kind) {
    case TOK_BPE: rc = bpe_fragment(&s, p, fr[i].len); break;
    case TOK_SPM: rc = spm_fragment(&s, p, fr[i].len, t->add_space_prefix && prev_special); break;
    case TOK_WPM: rc = wpm_fragment(&s, p, fr[i].len); break;
    }
    if (rc) goto out;
    prev_special = false;
  }
  if (add_bos && t->kind == TOK_WPM && t->sep != TOK_NULL && (rc = ivec_push(&outv, t->sep)))
    goto out;
  if (add_bos && t->add_eos && t->eos != TOK_NULL && (rc = ivec_push(&outv, t->eos))) goto out;
  *ids = outv.v;
  *n = outv.n;
  outv.v = NULL;
out:
  mem_free(outv.v);
  mem_free(fr);
  session_free(&s);
  return rc;
}

/* ---- facts ---------------------------------------------------------------------------------- */

int32_t tok_n_vocab(const tokenizer *t) { return t->n; }
tok_kind tok_model(const tokenizer *t) { return t->kind; }
const char *tok_pre_name(const tokenizer *t) { return t->pre_name; }
int32_t tok_bos(const tokenizer *t) { return t->bos; }
int32_t tok_eos(const tokenizer *t) { return t->eos; }
int32_t tok_eot(const tokenizer *t) { return t->eot; }
int32_t tok_unk(const tokenizer *t) { return t->unk; }
int32_t tok_sep(const tokenizer *t) { return t->sep; }
int32_t tok_pad(const tokenizer *t) { return t->pad; }
bool tok_adds_bos(const tokenizer *t) { return t->add_bos && t->bos != TOK_NULL; }
bool tok_is_eog(const tokenizer *t, int32_t id) { return id_ok(t, id) && (t->flags[id] & TF_EOG); }
bool tok_is_control(const tokenizer *t, int32_t id) {
  return id_ok(t, id) && (t->type[id] == TOK_T_CONTROL || t->type[id] == TOK_T_UNKNOWN);
}
tok_type tok_token_type(const tokenizer *t, int32_t id) {
  return id_ok(t, id) ? (tok_type)t->type[id] : (tok_type)0;
}
const char *tok_token_text(const tokenizer *t, int32_t id) {
  return id_ok(t, id) ? piece_text(t, id) : NULL;
}
const char *tok_token_bytes(const tokenizer *t, int32_t id, size_t *len) {
  if (!id_ok(t, id)) {
    *len = 0;
    return NULL;
  }
  *len = t->dlen[id];
  return t->dpool + t->doff[id];
}
int32_t tok_find(const tokenizer *t, const char *s, size_t len) { return vocab_find(t, s, len); }
const char *tok_chat_template(const tokenizer *t) { return t->chat_template; }

/* ---- decoding ------------------------------------------------------------------------------- */

void tok_decoder_init(tok_decoder *d, const tokenizer *t, unsigned flags) {
  memset(d, 0, sizeof *d);
  d->tok = t;
  d->flags = flags;
}

/* Expected length of a UTF-8 sequence from its lead byte; 0 for a byte that cannot lead. */
static uint8_t lead_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

/* Is c a valid byte at position npend of a sequence starting with lead? */
static bool cont_ok(unsigned char lead, uint8_t pos, unsigned char c) {
  if ((c & 0xC0) != 0x80) return false;
  if (pos != 1) return true;
  if (lead == 0xE0) return c >= 0xA0;
  if (lead == 0xED) return c <= 0x9F;
  if (lead == 0xF0) return c >= 0x90;
  if (lead == 0xF4) return c <= 0x8F;
  return true;
}

static int push_bytes(tok_decoder *d, const unsigned char *p, size_t n, buf *out) {
  int rc;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (d->npend == 0) {
      /* Fast path: copy a run of ASCII. */
      size_t j = i;
      while (j < n && p[j] < 0x80) j++;
      if (j > i) {
        if ((rc = buf_append(out, p + i, j - i))) return rc;
        i = j;
        continue;
      }
      uint8_t need = lead_len(c);
      if (need == 0) {
        if ((rc = buf_append(out, "\xef\xbf\xbd", 3))) return rc;
      } else {
        d->pend[0] = c;
        d->npend = 1;
        d->need = need;
      }
      i++;
      continue;
    }
    if (!cont_ok(d->pend[0], d->npend, c)) {
      /* The held sequence can never complete: replace it and look at c afresh. */
      if ((rc = buf_append(out, "\xef\xbf\xbd", 3))) return rc;
      d->npend = 0;
      continue;
    }
    d->pend[d->npend++] = c;
    i++;
    if (d->npend == d->need) {
      if ((rc = buf_append(out, d->pend, d->npend))) return rc;
      d->npend = 0;
    }
  }
  return 0;
}

int tok_decoder_push(tok_decoder *d, int32_t id, buf *out) {
  const tokenizer *t = d->tok;
  if (!id_ok(t, id))
    return err_set(MIMIC_EINVAL, "tokenizer: token id %d is out of range", (int)id);
  if (tok_is_control(t, id) && !(d->flags & TOK_DEC_SPECIAL)) return 0;
  size_t n = t->dlen[id];
  const unsigned char *p = (const unsigned char *)t->dpool + t->doff[id];
  if (n == 0) return 0;
  if (!d->started) {
    d->started = true;
    if ((d->flags & TOK_DEC_STRIP_SPACE) && t->kind != TOK_BPE && p[0] == ' ') {
      p++;
      n--;
    }
  }
  return push_bytes(d, p, n, out);
}

int tok_decoder_flush(tok_decoder *d, buf *out) {
  if (d->npend == 0) return 0;
  d->npend = 0;
  return buf_append(out, "\xef\xbf\xbd", 3);
}

int tok_decode_all(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                   size_t *len) {
  buf b;
  buf_init(&b, 0);
  tok_decoder d;
  tok_decoder_init(&d, t, flags);
  int rc = 0;
  *text = NULL;
  *len = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = tok_decoder_push(&d, ids[i], &b);
  if (!rc) rc = tok_decoder_flush(&d, &b);
  if (!rc) rc = buf_append(&b, "", 0); /* makes sure data exists and is NUL-terminated */
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *len = b.len;
  *text = buf_steal(&b);
  return 0;
}
