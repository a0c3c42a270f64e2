/* Tests for the GGUF reader and writer: writer→reader round trip, every test model in
 * ../shared/testdata/llm, and hostile files (truncations, huge counts, bad offsets and types). */
#include <stdint.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "test.h"

/* ---- A test-local byte builder, independent of the writer, for hand-made (and broken) files. */

typedef struct bb {
  uint8_t *p;
  size_t n, cap;
} bb;

static void bb_put(bb *b, const void *v, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, v, n);
  b->n += n;
}
static void bb_u32(bb *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_put(b, &v, 8); }
static void bb_str(bb *b, const char *s) {
  bb_u64(b, strlen(s));
  bb_put(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t a) {
  uint8_t z = 0;
  while (b->n % a) bb_put(b, &z, 1);
}

/* Knobs for the hand-made file: two tensors "a" (F32 {8,2}) and "b" (Q8_0 {32,1}), three KVs. */
typedef struct knobs {
  uint32_t version;
  uint64_t n_tensors_override, n_kv_override; /* 0: real count */
  uint64_t str_len_override;                  /* 0: real length (for the name KV) */
  uint64_t arr_count_override;
  uint32_t arr_elem_type; /* default GGUF_STRING */
  uint32_t b_type, b_ndims;
  uint64_t b_ne0, b_ne1;
  uint64_t b_offset_delta; /* added to b's offset */
  bool b_offset_zero;      /* overlap a */
  bool dup_key, dup_tensor;
  uint32_t alignment; /* 0: none written */
  uint8_t bool_value;
  uint32_t key_type; /* type of general.name (default STRING) */
} knobs;

static knobs knobs_default(void) {
  knobs k;
  memset(&k, 0, sizeof k);
  k.version = 3;
  k.arr_elem_type = GGUF_STRING;
  k.b_type = TT_Q8_0;
  k.b_ndims = 2;
  k.b_ne0 = 32;
  k.b_ne1 = 1;
  k.bool_value = 1;
  k.key_type = GGUF_STRING;
  return k;
}

static bb build(const knobs *k) {
  bb b = {0};
  bb_put(&b, "GGUF", 4);
  bb_u32(&b, k->version);
  uint64_t nt = 2 + (k->dup_tensor ? 1 : 0),
           nkv = 3 + (k->dup_key ? 1 : 0) + (k->alignment ? 1 : 0);
  bb_u64(&b, k->n_tensors_override ? k->n_tensors_override : nt);
  bb_u64(&b, k->n_kv_override ? k->n_kv_override : nkv);
  bb_str(&b, "general.name");
  bb_u32(&b, k->key_type);
  if (k->key_type == GGUF_STRING) {
    bb_u64(&b, k->str_len_override ? k->str_len_override : 4);
    bb_put(&b, "tiny", 4);
  } else {
    bb_u32(&b, 7);
  }
  bb_str(&b, "flag");
  bb_u32(&b, GGUF_BOOL);
  bb_put(&b, &k->bool_value, 1);
  bb_str(&b, "tokens");
  bb_u32(&b, GGUF_ARRAY);
  bb_u32(&b, k->arr_elem_type);
  bb_u64(&b, k->arr_count_override ? k->arr_count_override : 2);
  bb_str(&b, "ab");
  bb_str(&b, "cd");
  if (k->dup_key) {
    bb_str(&b, "flag");
    bb_u32(&b, GGUF_BOOL);
    bb_put(&b, &k->bool_value, 1);
  }
  uint32_t align = k->alignment ? k->alignment : 32;
  if (k->alignment) {
    bb_str(&b, "general.alignment");
    bb_u32(&b, GGUF_U32);
    bb_u32(&b, k->alignment);
  }
  /* tensor a: F32 {8, 2} = 64 bytes at 0 */
  bb_str(&b, "a");
  bb_u32(&b, 2);
  bb_u64(&b, 8);
  bb_u64(&b, 2);
  bb_u32(&b, TT_F32);
  bb_u64(&b, 0);
  /* tensor b */
  uint64_t boff = k->b_offset_zero ? 0 : (64 + align - 1) / align * align + k->b_offset_delta;
  bb_str(&b, k->dup_tensor ? "a" : "b");
  bb_u32(&b, k->b_ndims);
  bb_u64(&b, k->b_ne0);
  for (uint32_t j = 1; j < k->b_ndims && j < 8; j++) bb_u64(&b, j == 1 ? k->b_ne1 : 1);
  bb_u32(&b, k->b_type);
  bb_u64(&b, boff);
  if (k->dup_tensor) {
    bb_str(&b, "c");
    bb_u32(&b, 1);
    bb_u64(&b, 4);
    bb_u32(&b, TT_F32);
    bb_u64(&b, 2 * (uint64_t)align * 4);
  }
  bb_pad(&b, align);
  size_t data0 = b.n;
  float fa[16];
  for (int i = 0; i < 16; i++) fa[i] = (float)i * 0.5f;
  bb_put(&b, fa, sizeof fa);
  bb_pad(&b, align);
  uint8_t q[34];
  for (int i = 0; i < 34; i++) q[i] = (uint8_t)(i * 7);
  bb_put(&b, q, sizeof q);
  if (k->dup_tensor) {
    while (b.n < data0 + 8 * align + 16) bb_put(&b, q, 1);
  }
  return b;
}

static int open_bytes(const bb *b, gguf_file **f) {
  return gguf_open_memory(b->p, b->n, "t.gguf", f);
}

TEST(handmade_file_reads) {
  knobs k = knobs_default();
  bb b = build(&k);
  gguf_file *f = NULL;
  CHECK_OK(open_bytes(&b, &f));
  REQUIRE(f);
  CHECK_INT(gguf_version(f), 3);
  CHECK_INT(gguf_n_kv(f), 3);
  CHECK_INT(gguf_n_tensors(f), 2);
  gguf_str s;
  CHECK_OK(gguf_get_str(f, "general.name", &s));
  CHECK(s.len == 4 && memcmp(s.ptr, "tiny", 4) == 0);
  bool flag = false;
  CHECK_OK(gguf_get_bool(f, "flag", &flag));
  CHECK(flag);
  gguf_vtype et;
  uint64_t n;
  CHECK_OK(gguf_get_arr(f, "tokens", &et, &n));
  CHECK_INT(et, GGUF_STRING);
  CHECK_INT(n, 2);
  gguf_str e = gguf_arr_str(f, "tokens", 1);
  CHECK(e.len == 2 && memcmp(e.ptr, "cd", 2) == 0);
  CHECK(gguf_arr_str(f, "tokens", 2).ptr == NULL);
  const gguf_tensor *a = gguf_tensor_find(f, "a"), *t = gguf_tensor_find(f, "b");
  REQUIRE(a && t);
  CHECK_INT(a->ne[0], 8);
  CHECK_INT(a->ne[1], 2);
  CHECK_INT(a->nbytes, 64);
  CHECK_INT(t->type, TT_Q8_0);
  CHECK_INT(t->nbytes, 34);
  float v;
  memcpy(&v, (const uint8_t *)a->data + 4 * 3, 4);
  CHECK_NEAR(v, 1.5, 0);
  CHECK_INT(((const uint8_t *)t->data)[1], 7);
  CHECK(gguf_tensor_find(f, "zz") == NULL);
  CHECK_INT(gguf_find_key(f, "nope"), -1);
  uint32_t u;
  CHECK_INT(gguf_get_u32(f, "nope", &u), MIMIC_ENOTFOUND);
  CHECK_INT(gguf_get_u32(f, "general.name", &u), MIMIC_EFORMAT);
  gguf_close(f);
  free(b.p);
}

/* Every proper prefix of a valid file must be rejected with an error, never read out of bounds. */
TEST(truncation_at_every_offset_fails) {
  knobs k = knobs_default();
  bb b = build(&k);
  int ok = 0;
  for (size_t n = 0; n < b.n; n++) {
    uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
    memcpy(copy, b.p, n);
    gguf_file *f = NULL;
    int rc = gguf_open_memory(copy, n, "t.gguf", &f);
    if (rc == 0) ok++;
    CHECK(rc < 0 || n == b.n);
    gguf_close(f);
    free(copy);
  }
  CHECK_INT(ok, 0);
  free(b.p);
}

static void expect_fail(const knobs *k, int code, const char *needle) {
  bb b = build(k);
  uint8_t *copy = malloc(b.n);
  memcpy(copy, b.p, b.n);
  gguf_file *f = NULL;
  int rc = gguf_open_memory(copy, b.n, "t.gguf", &f);
  if (code == -100 ? rc >= 0 : rc != code)
    TEST_FAIL_("expected %d, got %d (%s)", code, rc, rc ? err_msg() : "ok");
  if (rc && needle && !strstr(err_msg(), needle))
    TEST_FAIL_("message \"%s\" lacks \"%s\"", err_msg(), needle);
  if (rc && !strstr(err_msg(), "t.gguf"))
    TEST_FAIL_("message \"%s\" lacks the file name", err_msg());
  gguf_close(f);
  free(copy);
  free(b.p);
}

TEST(hostile_headers_fail) {
  knobs k = knobs_default();
  k.version = 1;
  expect_fail(&k, MIMIC_EUNSUPPORTED, "version");
  k = knobs_default();
  k.version = 0x00030000;
  expect_fail(&k, MIMIC_EUNSUPPORTED, "big-endian");
  k = knobs_default();
  k.n_tensors_override = 1ull << 40;
  expect_fail(&k, MIMIC_ERANGE, "tensors");
  k = knobs_default();
  k.n_kv_override = UINT64_MAX;
  expect_fail(&k, MIMIC_ERANGE, "metadata");
  k = knobs_default();
  k.n_kv_override = 1000; /* plausible, but tensor infos are read as keys */
  expect_fail(&k, -100, "metadata entry 4");
  k = knobs_default();
  k.str_len_override = 1ull << 62;
  expect_fail(&k, MIMIC_ERANGE, "general.name");
  k = knobs_default();
  k.str_len_override = 1000;
  expect_fail(&k, MIMIC_EFORMAT, "general.name");
  k = knobs_default();
  k.arr_count_override = 1ull << 40;
  expect_fail(&k, MIMIC_ERANGE, "tokens");
  k = knobs_default();
  k.arr_count_override = 1u << 20;
  expect_fail(&k, MIMIC_EFORMAT, "tokens");
  k = knobs_default();
  k.arr_elem_type = GGUF_ARRAY;
  expect_fail(&k, MIMIC_EFORMAT, "tokens");
  k = knobs_default();
  k.key_type = 13;
  expect_fail(&k, MIMIC_EFORMAT, "general.name");
  k = knobs_default();
  k.bool_value = 2;
  expect_fail(&k, MIMIC_EFORMAT, "flag");
  k = knobs_default();
  k.dup_key = true;
  expect_fail(&k, MIMIC_EFORMAT, "twice");
  k = knobs_default();
  k.alignment = 48;
  expect_fail(&k, MIMIC_EFORMAT, "alignment");
  k = knobs_default();
  k.alignment = 64; /* valid, different alignment */
  expect_fail(&k, 0, NULL);
}

TEST(hostile_tensors_fail) {
  knobs k = knobs_default();
  k.b_type = 4; /* removed type id */
  expect_fail(&k, MIMIC_EFORMAT, "'b'");
  k = knobs_default();
  k.b_type = 1000;
  expect_fail(&k, MIMIC_EFORMAT, "unknown tensor type");
  k = knobs_default();
  k.b_ndims = 5;
  expect_fail(&k, MIMIC_EFORMAT, "dimensions");
  k = knobs_default();
  k.b_ndims = 0;
  expect_fail(&k, MIMIC_EFORMAT, "dimensions");
  k = knobs_default();
  k.b_ne1 = 0;
  expect_fail(&k, MIMIC_EFORMAT, "dimension");
  k = knobs_default();
  k.b_ne0 = 1ull << 40;
  k.b_ne1 = 1ull << 40;
  expect_fail(&k, MIMIC_EFORMAT, "'b'");
  k = knobs_default();
  k.b_ne0 = 1ull << 36;
  expect_fail(&k, MIMIC_EFORMAT, "'b'");
  k = knobs_default();
  k.b_ne0 = 16; /* not a multiple of the Q8_0 block */
  expect_fail(&k, MIMIC_EFORMAT, "block size");
  k = knobs_default();
  k.b_offset_delta = 8;
  expect_fail(&k, MIMIC_EFORMAT, "alignment");
  k = knobs_default();
  k.b_offset_delta = 1u << 20;
  expect_fail(&k, MIMIC_EFORMAT, "past the end");
  k = knobs_default();
  k.b_offset_delta = UINT64_MAX - 63; /* wraps around */
  expect_fail(&k, MIMIC_EFORMAT, "'b'");
  k = knobs_default();
  k.b_offset_zero = true;
  expect_fail(&k, MIMIC_EFORMAT, "overlaps");
  k = knobs_default();
  k.dup_tensor = true;
  expect_fail(&k, MIMIC_EFORMAT, "twice");
}

/* Random single- and multi-byte corruptions of a valid file: any result is fine except a crash. */
TEST(random_mutations_never_crash) {
  knobs k = knobs_default();
  bb b = build(&k);
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  int opened = 0;
  for (int iter = 0; iter < 3000; iter++) {
    uint8_t *copy = malloc(b.n);
    memcpy(copy, b.p, b.n);
    int flips = 1 + iter % 4;
    for (int j = 0; j < flips; j++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      copy[(rng >> 8) % b.n] = (uint8_t)(rng >> 40);
    }
    gguf_file *f = NULL;
    if (gguf_open_memory(copy, b.n, "m.gguf", &f) == 0) {
      opened++;
      for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const uint8_t *d = t->data;
        CHECK(d >= copy && d + t->nbytes <= copy + b.n);
      }
    }
    gguf_close(f);
    free(copy);
  }
  CHECK(opened > 0); /* some mutations (of data bytes) keep the file valid */
  free(b.p);
}

/* ---- Writer round trip ---------------------------------------------------------------------- */

static char tmpdir[64];

static void path_in_tmp(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmpdir, name);
}

TEST(writer_round_trip) {
  char path[128];
  path_in_tmp(path, sizeof path, "rt.gguf");
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "qwen2");
  gguf_set_u32(w, "qwen2.block_count", 2);
  gguf_set_u32(w, "qwen2.block_count", 3); /* replaces */
  gguf_set_i32(w, "neg", -5);
  gguf_set_u64(w, "big", 1ull << 40);
  gguf_set_f32(w, "eps", 1e-6f);
  gguf_set_bool(w, "yes", true);
  const char *toks[] = {"a", "", "hello world"};
  gguf_set_arr_str(w, "tok", toks, 3);
  float sc[] = {0.5f, -1.0f, 3.25f};
  gguf_set_arr_f32(w, "scores", sc, 3);
  int32_t ty[] = {1, 3, -7};
  gguf_set_arr_i32(w, "types", ty, 3);
  float data[64 * 3];
  for (int i = 0; i < 64 * 3; i++) data[i] = (float)i - 10.0f;
  int64_t ne[2] = {64, 3};
  CHECK_OK(gguf_add_tensor(w, "w.weight", TT_F32, 2, ne, data));
  uint8_t q[2 * 34];
  for (int i = 0; i < (int)sizeof q; i++) q[i] = (uint8_t)(i * 3 + 1);
  int64_t ne2[1] = {64};
  CHECK_OK(gguf_add_tensor(w, "q", TT_Q8_0, 1, ne2, q));
  CHECK_INT(gguf_add_tensor(w, "q", TT_Q8_0, 1, ne2, q), MIMIC_EINVAL); /* duplicate */
  int64_t ne3[1] = {40};
  CHECK_INT(gguf_add_tensor(w, "r", TT_Q8_0, 1, ne3, q), MIMIC_EINVAL); /* not a block multiple */
  CHECK_INT(gguf_add_tensor(w, "r", (tensor_type)4, 1, ne2, q), MIMIC_EINVAL); /* unknown type */
  CHECK_OK(gguf_writer_save(w, path));
  gguf_writer_destroy(w);
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  CHECK(access(tmp, F_OK) != 0); /* renamed away */

  gguf_file *f = NULL;
  CHECK_OK(gguf_open(path, &f));
  REQUIRE(f);
  char *arch = gguf_get_str_dup(f, "general.architecture");
  CHECK_STR(arch, "qwen2");
  mem_free(arch);
  uint32_t u = 0;
  CHECK_OK(gguf_get_u32(f, "qwen2.block_count", &u));
  CHECK_INT(u, 3);
  CHECK_INT(gguf_kv_type(f, gguf_find_key(f, "qwen2.block_count")), GGUF_U32);
  int64_t i64 = 0;
  CHECK_OK(gguf_get_i64(f, "neg", &i64));
  CHECK_INT(i64, -5);
  CHECK_INT(gguf_get_u32(f, "neg", &u), MIMIC_EFORMAT); /* negative does not fit */
  CHECK_INT(gguf_get_u32(f, "big", &u), MIMIC_EFORMAT);
  CHECK_OK(gguf_get_i64(f, "big", &i64));
  CHECK_INT(i64, 1ll << 40);
  float e = 0;
  CHECK_OK(gguf_get_f32(f, "eps", &e));
  CHECK(e == 1e-6f);
  bool y = false;
  CHECK_OK(gguf_get_bool(f, "yes", &y));
  CHECK(y);
  gguf_str s = gguf_arr_str(f, "tok", 2);
  CHECK(s.len == 11 && memcmp(s.ptr, "hello world", 11) == 0);
  CHECK_INT(gguf_arr_str(f, "tok", 1).len, 0);
  float sc2[3];
  CHECK_OK(gguf_arr_f32(f, "scores", sc2, 3));
  CHECK(memcmp(sc, sc2, sizeof sc) == 0);
  int32_t ty2[3];
  CHECK_OK(gguf_arr_i32(f, "types", ty2, 3));
  CHECK(memcmp(ty, ty2, sizeof ty) == 0);
  float f3[3];
  CHECK_OK(gguf_arr_f32(f, "types", f3, 3)); /* ints convert to float */
  CHECK_NEAR(f3[2], -7, 0);
  CHECK_INT(gguf_arr_i32(f, "scores", ty2, 3), MIMIC_EFORMAT);
  CHECK_INT(gguf_arr_i32(f, "types", ty2, 4), MIMIC_EFORMAT); /* more than there are */
  const gguf_tensor *t = gguf_tensor_find(f, "w.weight");
  REQUIRE(t);
  CHECK_INT(t->type, TT_F32);
  CHECK_INT(t->n_dims, 2);
  CHECK_INT(t->ne[1], 3);
  CHECK(memcmp(t->data, data, sizeof data) == 0);
  const gguf_tensor *tq = gguf_tensor_find(f, "q");
  REQUIRE(tq);
  CHECK_INT(tq->nbytes, 68);
  CHECK(memcmp(tq->data, q, sizeof q) == 0);
  CHECK_INT(tq->offset % 32, 0);

  /* Copy with a skipped prefix into a second file. */
  char path2[128];
  path_in_tmp(path2, sizeof path2, "rt2.gguf");
  gguf_writer *w2 = gguf_writer_new();
  gguf_copy_kv(w2, f, "qwen2.");
  gguf_set_u32(w2, "general.alignment", 64);
  CHECK_OK(gguf_add_tensor(w2, "q", TT_Q8_0, 1, ne2, tq->data));
  CHECK_OK(gguf_add_tensor(w2, "w", TT_F32, 2, ne, t->data));
  CHECK_OK(gguf_writer_save(w2, path2));
  gguf_writer_destroy(w2);
  gguf_close(f);
  CHECK_OK(gguf_open(path2, &f));
  REQUIRE(f);
  CHECK_INT(gguf_find_key(f, "qwen2.block_count"), -1);
  CHECK(gguf_find_key(f, "tok") >= 0);
  CHECK_INT(gguf_alignment(f), 64);
  t = gguf_tensor_find(f, "w");
  REQUIRE(t);
  CHECK_INT(t->offset, 128); /* 68 bytes padded to 64 */
  CHECK(memcmp(t->data, data, sizeof data) == 0);
  gguf_close(f);
  unlink(path);
  unlink(path2);
}

TEST(open_errors_name_the_file) {
  gguf_file *f = NULL;
  CHECK_INT(gguf_open("/nonexistent/x.gguf", &f), MIMIC_ENOTFOUND);
  CHECK(strstr(err_msg(), "/nonexistent/x.gguf") != NULL);
  char path[128];
  path_in_tmp(path, sizeof path, "junk.gguf");
  FILE *fp = fopen(path, "wb");
  REQUIRE(fp);
  fputs("this is not a gguf file at all, just text\n", fp);
  fclose(fp);
  CHECK_INT(gguf_open(path, &f), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "magic") != NULL);
  CHECK(f == NULL);
  unlink(path);
  char saved[128];
  path_in_tmp(saved, sizeof saved, "nodir/x.gguf");
  gguf_writer *w = gguf_writer_new();
  CHECK_INT(gguf_writer_save(w, saved), MIMIC_EIO);
  char longkey[300];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = 0;
  gguf_set_u32(w, longkey, 1);
  path_in_tmp(saved, sizeof saved, "longkey.gguf");
  CHECK_INT(gguf_writer_save(w, saved), MIMIC_EINVAL);
  CHECK(access(saved, F_OK) != 0);
  gguf_writer_destroy(w);
}

/* ---- The shared test models -------------------------------------------------------------- */

typedef struct model_case {
  const char *file, *arch;
  int64_t n_tensors;
  tensor_type big; /* expected type of blk.0.ffn_gate.weight */
} model_case;

TEST(shared_models_open) {
  static const model_case cases[] = {
      {"tiny-qwen2-f32.gguf", "qwen2", 26, TT_F32},
      {"tiny-qwen2-f16.gguf", "qwen2", 26, TT_F16},
      {"tiny-qwen2-bf16.gguf", "qwen2", 26, TT_BF16},
      {"tiny-qwen2-q8_0.gguf", "qwen2", 26, TT_Q8_0},
      {"tiny-qwen2-q4_0.gguf", "qwen2", 26, TT_Q4_0},
      {"tiny-qwen2-q4_k_m.gguf", "qwen2", 26, TT_Q4_K},
      {"tiny-qwen2-q5_k_m.gguf", "qwen2", 26, TT_Q5_K},
      {"tiny-qwen2-q6_k.gguf", "qwen2", 26, TT_Q6_K},
      {"tiny-llama-f32.gguf", "llama", 21, TT_F32},
      {"tiny-llama-q8_0.gguf", "llama", 21, TT_Q8_0},
      {"tiny-llama-q4_k_m.gguf", "llama", 21, TT_Q4_K},
  };
  char p[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", p, sizeof p)) SKIP("../shared absent");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char rel[128];
    snprintf(rel, sizeof rel, "testdata/llm/%s", cases[c].file);
    REQUIRE(test_shared_path(rel, p, sizeof p));
    gguf_file *f = NULL;
    CHECK_OK(gguf_open(p, &f));
    if (!f) continue;
    char *arch = gguf_get_str_dup(f, "general.architecture");
    CHECK_STR(arch, cases[c].arch);
    CHECK_INT(gguf_n_tensors(f), cases[c].n_tensors);
    char key[64];
    snprintf(key, sizeof key, "%s.embedding_length", arch ? arch : "?");
    uint32_t n_embd = 0, n_layer = 0, n_ff = 0;
    CHECK_OK(gguf_get_u32(f, key, &n_embd));
    snprintf(key, sizeof key, "%s.block_count", arch ? arch : "?");
    CHECK_OK(gguf_get_u32(f, key, &n_layer));
    snprintf(key, sizeof key, "%s.feed_forward_length", arch ? arch : "?");
    CHECK_OK(gguf_get_u32(f, key, &n_ff));
    CHECK_INT(n_embd, 256);
    CHECK_INT(n_layer, 2);
    uint64_t n_vocab = 0;
    gguf_vtype et;
    CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &n_vocab));
    CHECK_INT(et, GGUF_STRING);
    const gguf_tensor *emb = gguf_tensor_find(f, "token_embd.weight");
    REQUIRE(emb);
    CHECK_INT(emb->n_dims, 2);
    CHECK_INT(emb->ne[0], n_embd);
    CHECK_INT(emb->ne[1], (int64_t)n_vocab);
    const gguf_tensor *g = gguf_tensor_find(f, "blk.0.ffn_gate.weight");
    const gguf_tensor *d = gguf_tensor_find(f, "blk.1.ffn_down.weight");
    const gguf_tensor *nrm = gguf_tensor_find(f, "output_norm.weight");
    REQUIRE(g && d && nrm);
    CHECK_INT(g->type, cases[c].big);
    CHECK_INT(g->ne[0], n_embd);
    CHECK_INT(g->ne[1], n_ff);
    CHECK_INT(d->ne[0], n_ff);
    CHECK_INT(d->ne[1], n_embd);
    CHECK_INT(nrm->type, TT_F32);
    CHECK_INT(nrm->n_dims, 1);
    bool tied = strcmp(cases[c].arch, "qwen2") == 0;
    CHECK((gguf_tensor_find(f, "output.weight") == NULL) == tied);
    /* Every tensor's bytes agree with its type and shape and lie inside the file. */
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
      const gguf_tensor *t = gguf_tensor_at(f, i);
      tensor_type_info ti = tensor_type_get((int)t->type);
      CHECK(ti.supported);
      int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
      CHECK_INT(t->nbytes, tensor_row_bytes(t->type, t->ne[0]) * (uint64_t)rows);
      CHECK_INT(t->offset % gguf_alignment(f), 0);
    }
    mem_free(arch);
    gguf_close(f);
  }
  /* The other files: adapter, bert, tokenizer-only. */
  static const char *others[] = {"testdata/llm/tiny-qwen2-lora-f32.gguf",
                                 "testdata/llm/tiny-bert-f16.gguf",
                                 "testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf",
                                 "testdata/tokenizer/ggml-vocab-llama-spm.gguf",
                                 "testdata/tokenizer/ggml-vocab-bert-bge.gguf"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    if (!test_shared_path(others[i], p, sizeof p)) continue;
    gguf_file *f = NULL;
    CHECK_OK(gguf_open(p, &f));
    if (f) CHECK(gguf_find_key(f, "general.architecture") >= 0);
    gguf_close(f);
  }
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_gguf_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(handmade_file_reads);
  RUN(truncation_at_every_offset_fails);
  RUN(hostile_headers_fail);
  RUN(hostile_tensors_fail);
  RUN(random_mutations_never_crash);
  RUN(writer_round_trip);
  RUN(open_errors_name_the_file);
  RUN(shared_models_open);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
