/* GGUF v2/v3 files: a validating reader over mmap (weights are never copied) and a writer.
 * The reader checks every count, length, offset, alignment and shape against the file size before
 * anything is used, so a truncated or hostile file gets an error naming the key or tensor, never a
 * crash or an out-of-bounds read. Not here: what the tensors mean (see model.h) or how the bytes of
 * each tensor type are laid out (see quant.h). */
#ifndef MIMIC_LLM_GGUF_H
#define MIMIC_LLM_GGUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Metadata value types (GGUF spec). */
typedef enum {
  GGUF_U8 = 0,
  GGUF_I8 = 1,
  GGUF_U16 = 2,
  GGUF_I16 = 3,
  GGUF_U32 = 4,
  GGUF_I32 = 5,
  GGUF_F32 = 6,
  GGUF_BOOL = 7,
  GGUF_STRING = 8,
  GGUF_ARRAY = 9,
  GGUF_U64 = 10,
  GGUF_I64 = 11,
  GGUF_F64 = 12
} gguf_vtype;

/* Tensor types (ggml_type ids as stored in GGUF). */
typedef enum {
  TT_F32 = 0,
  TT_F16 = 1,
  TT_Q4_0 = 2,
  TT_Q4_1 = 3,
  TT_Q5_0 = 6,
  TT_Q5_1 = 7,
  TT_Q8_0 = 8,
  TT_Q8_1 = 9,
  TT_Q2_K = 10,
  TT_Q3_K = 11,
  TT_Q4_K = 12,
  TT_Q5_K = 13,
  TT_Q6_K = 14,
  TT_Q8_K = 15,
  TT_BF16 = 30,
  TT_COUNT = 43
} tensor_type;

/* Caps applied while reading (a hostile file cannot make mimic allocate more than these imply). */
#define GGUF_MAX_STRING  (1u << 24) /* one string: 16 MiB */
#define GGUF_MAX_ARRAY   (1u << 26) /* elements in one array */
#define GGUF_MAX_KV      65536
#define GGUF_MAX_TENSORS 65536
#define GGUF_MAX_NAME    256

typedef struct gguf_str {
  const char *ptr; /* points into the mapped file: NOT NUL-terminated */
  uint64_t len;
} gguf_str;

typedef struct gguf_tensor {
  char name[GGUF_MAX_NAME]; /* NUL-terminated copy */
  tensor_type type;
  int n_dims;
  int64_t ne[4];   /* ne[0] is the contiguous dimension (GGUF/ggml order); unused dims = 1 */
  uint64_t offset; /* from the start of the data section */
  uint64_t nbytes;
  const void *data; /* into the mapping, read-only */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Opens and validates path, mapping it read-only. Returns 0 and *out, or an error whose message
 * names the file and the key or tensor at fault. Caller closes. */
int gguf_open(const char *path, gguf_file **out) MIMIC_MUST;
/* Same over a caller-owned memory buffer (used by the fuzz target); the buffer must outlive f. */
int gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out) MIMIC_MUST;
void gguf_close(gguf_file *f); /* accepts NULL */

uint32_t gguf_version(const gguf_file *f);
const char *gguf_path(const gguf_file *f);
size_t gguf_file_size(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);   /* general.alignment, or 32 */
uint64_t gguf_data_offset(const gguf_file *f); /* file offset of the tensor data section */

/* Metadata. gguf_find_key returns the index or -1. */
int64_t gguf_n_kv(const gguf_file *f);
int64_t gguf_find_key(const gguf_file *f, const char *key);
const char *gguf_key_name(const gguf_file *f, int64_t i); /* NUL-terminated copy, borrowed */
gguf_vtype gguf_kv_type(const gguf_file *f, int64_t i);

/* Typed lookups by key. Each returns 0, MIMIC_ENOTFOUND when the key is absent, or MIMIC_EFORMAT
 * when present with an incompatible type (integer getters accept any integer type whose value fits;
 * gguf_get_f32 accepts F32 and F64). */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) MIMIC_MUST;
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) MIMIC_MUST;
int gguf_get_f32(const gguf_file *f, const char *key, float *out) MIMIC_MUST;
int gguf_get_bool(const gguf_file *f, const char *key, bool *out) MIMIC_MUST;
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) MIMIC_MUST;
/* Returns a malloc'd NUL-terminated copy of a string value, or NULL (absent/wrong type). */
char *gguf_get_str_dup(const gguf_file *f, const char *key);

/* Arrays: element type and count; element access by index (bounds-checked, returns 0 for bad i). */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype *elem_type,
                 uint64_t *count) MIMIC_MUST;
gguf_str gguf_arr_str(const gguf_file *f, const char *key, uint64_t i);
/* Copies count numeric elements, converting to float / int32; MIMIC_EFORMAT on non-numeric. */
int gguf_arr_f32(const gguf_file *f, const char *key, float *out, uint64_t count) MIMIC_MUST;
int gguf_arr_i32(const gguf_file *f, const char *key, int32_t *out, uint64_t count) MIMIC_MUST;

/* Tensors. */
int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name); /* NULL if absent */

/* ---- Writer ---------------------------------------------------------------------------------
 * Builds a file in memory order: metadata and tensor infos are collected, then gguf_writer_save
 * writes header, KVs, infos, alignment padding and data to path.tmp, fsyncs and renames, so a
 * killed process never leaves a half-written file under the final name. Integer and float scalars
 * are written with the exact types llama.cpp's loader expects when the caller uses the matching
 * setter (u32 for counts and lengths, f32 for eps/freq_base/alpha, bool for flags). */
typedef struct gguf_writer gguf_writer;
/* Setters copy key and value and replace an earlier value of the same key; they abort only on
 * out-of-memory. Keys must be 1..GGUF_MAX_NAME-1 bytes (gguf_writer_save refuses others). */

gguf_writer *gguf_writer_new(void);
void gguf_writer_destroy(gguf_writer *w);
void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_set_f32(gguf_writer *w, const char *key, float v);
void gguf_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_set_str(gguf_writer *w, const char *key, const char *v);
void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
void gguf_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
void gguf_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Copies every KV of src (optionally skipping keys with the given prefix; NULL skips none). */
void gguf_copy_kv(gguf_writer *w, const gguf_file *src, const char *skip_prefix);
/* Same, keeping only keys that start with only_prefix (NULL keeps all). */
void gguf_copy_kv_if(gguf_writer *w, const gguf_file *src, const char *skip_prefix,
                     const char *only_prefix);
/* Adds a tensor; data (nbytes as implied by type and shape) is copied. */
int gguf_add_tensor(gguf_writer *w, const char *name, tensor_type type, int n_dims,
                    const int64_t *ne, const void *data) MIMIC_MUST;
/* Same, but takes ownership of data (allocated with mem_alloc; freed here even on error). */
int gguf_add_tensor_take(gguf_writer *w, const char *name, tensor_type type, int n_dims,
                         const int64_t *ne, void *data) MIMIC_MUST;
int gguf_writer_save(gguf_writer *w, const char *path) MIMIC_MUST;

#endif
