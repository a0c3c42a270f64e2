/* GGUF reader and writer (see gguf.h). The reader maps the file read-only and validates every
 * length, count, type, shape and offset against the file size before exposing anything; nothing in
 * the mapping is trusted. The writer collects metadata and tensors in memory and saves atomically.
 * Not here: the byte layout inside a tensor (quant.c) or what the tensors mean (the model). */
#include "llm/gguf.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/str.h"
#include "llm/quant.h"

#define GGUF_MAGIC             "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_ALIGNMENT     65536u

/* ---- Internal structures -------------------------------------------------------------------- */

typedef struct gguf_kv {
  char *key; /* NUL-terminated copy */
  gguf_vtype type;
  const uint8_t *raw; /* type field and value as stored (for gguf_copy_kv) */
  size_t raw_len;
  const uint8_t *val; /* value bytes (scalars, or the first array element) */
  /* strings: str; arrays: elem type and count, and for string arrays a table of every element */
  gguf_str str;
  gguf_vtype elem;
  uint64_t count;
  gguf_str *strs; /* owned; string arrays only */
} gguf_kv;

/* Open-addressing table of indices into kvs or tensors, keyed by name (power-of-two size). */
typedef struct name_index {
  int32_t *slots; /* -1 empty */
  uint32_t mask;
} name_index;

struct gguf_file {
  char *path;
  const uint8_t *base;
  size_t size;
  bool mapped;
  uint32_t version;
  uint32_t alignment;
  uint64_t data_start;
  int64_t n_kv;
  gguf_kv *kvs;
  int64_t n_tensors;
  gguf_tensor *tensors;
  name_index kv_index, tensor_index;
};

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static void name_index_init(name_index *ix, int64_t n) {
  uint32_t cap = 8;
  while ((int64_t)cap < 2 * n) cap <<= 1;
  ix->slots = xalloc(cap * sizeof *ix->slots);
  for (uint32_t i = 0; i < cap; i++) ix->slots[i] = -1;
  ix->mask = cap - 1;
}

/* Looks name up; names(i) gives the name of entry i. Returns the slot (empty or matching). */
typedef const char *(*name_of_fn)(const void *ctx, int32_t i);

static uint32_t name_index_slot(const name_index *ix, const char *name, name_of_fn name_of,
                                const void *ctx) {
  uint32_t s = name_hash(name) & ix->mask;
  while (ix->slots[s] >= 0 && strcmp(name_of(ctx, ix->slots[s]), name) != 0) s = (s + 1) & ix->mask;
  return s;
}

static const char *kv_name_of(const void *ctx, int32_t i) {
  return ((const gguf_file *)ctx)->kvs[i].key;
}
static const char *tensor_name_of(const void *ctx, int32_t i) {
  return ((const gguf_file *)ctx)->tensors[i].name;
}

/* ---- Bounds-checked cursor ---------------------------------------------------------------- */

typedef struct cursor {
  const uint8_t *base, *p, *end;
  const char *path;
  char ctx[GGUF_MAX_NAME + 16]; /* "key 'x': " or "tensor 'y': " while reading that entry */
} cursor;

static int cur_need(cursor *c, uint64_t n, const char *what) {
  if ((uint64_t)(c->end - c->p) < n)
    return err_set(MIMIC_EFORMAT,
                   "%s: %struncated at byte %zu while reading %s (file is %zu bytes)", c->path,
                   c->ctx, (size_t)(c->p - c->base), what, (size_t)(c->end - c->base));
  return 0;
}

static int cur_u32(cursor *c, uint32_t *out, const char *what) {
  int rc = cur_need(c, 4, what);
  if (rc) return rc;
  memcpy(out, c->p, 4); /* GGUF is little-endian; so are the machines mimic targets */
  c->p += 4;
  return 0;
}

static int cur_u64(cursor *c, uint64_t *out, const char *what) {
  int rc = cur_need(c, 8, what);
  if (rc) return rc;
  memcpy(out, c->p, 8);
  c->p += 8;
  return 0;
}

/* Reads a GGUF string (u64 length + bytes) of at most cap bytes. */
static int cur_str(cursor *c, gguf_str *out, uint64_t cap, const char *what) {
  uint64_t len;
  int rc = cur_u64(c, &len, what);
  if (rc) return rc;
  if (len > cap)
    return err_set(MIMIC_ERANGE, "%s: %s%s has length %" PRIu64 " (limit %" PRIu64 ")", c->path,
                   c->ctx, what, len, cap);
  if ((rc = cur_need(c, len, what))) return rc;
  out->ptr = (const char *)c->p;
  out->len = len;
  c->p += len;
  return 0;
}

/* Size in bytes of a fixed-size scalar value type, 0 for STRING/ARRAY, -1 for unknown. */
static int vtype_size(uint32_t t) {
  switch (t) {
  case GGUF_U8:
  case GGUF_I8:
  case GGUF_BOOL: return 1;
  case GGUF_U16:
  case GGUF_I16: return 2;
  case GGUF_U32:
  case GGUF_I32:
  case GGUF_F32: return 4;
  case GGUF_U64:
  case GGUF_I64:
  case GGUF_F64: return 8;
  case GGUF_STRING:
  case GGUF_ARRAY: return 0;
  default: return -1;
  }
}

static const char *vtype_name(gguf_vtype t) {
  static const char *names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* A name (key or tensor) must be non-empty, shorter than GGUF_MAX_NAME and hold no NUL byte. */
static int name_copy(cursor *c, const gguf_str *s, char *dst, const char *what, uint64_t idx) {
  if (s->len == 0 || s->len >= GGUF_MAX_NAME || memchr(s->ptr, 0, s->len))
    return err_set(MIMIC_EFORMAT,
                   "%s: %s %" PRIu64 ": name is empty, longer than %d bytes or holds a NUL byte",
                   c->path, what, idx, GGUF_MAX_NAME - 1);
  memcpy(dst, s->ptr, s->len);
  dst[s->len] = 0;
  return 0;
}

static int read_kv(cursor *c, gguf_kv *kv, uint64_t idx) {
  gguf_str ks;
  char key[GGUF_MAX_NAME];
  snprintf(c->ctx, sizeof c->ctx, "metadata entry %" PRIu64 ": ", idx);
  int rc = cur_str(c, &ks, GGUF_MAX_NAME, "a metadata key");
  if (rc) return rc;
  if ((rc = name_copy(c, &ks, key, "metadata key", idx))) return rc;
  kv->key = xstrdup(key);
  snprintf(c->ctx, sizeof c->ctx, "key '%s': ", key);
  kv->raw = c->p;
  uint32_t t;
  if ((rc = cur_u32(c, &t, "a metadata value type"))) goto out;
  if (vtype_size(t) < 0) {
    rc = err_set(MIMIC_EFORMAT, "%s: key '%s': unknown value type %u", c->path, key, t);
    goto out;
  }
  kv->type = (gguf_vtype)t;
  kv->val = c->p;
  if (t == GGUF_STRING) {
    rc = cur_str(c, &kv->str, GGUF_MAX_STRING, "a string value");
  } else if (t == GGUF_ARRAY) {
    uint32_t et;
    uint64_t n;
    if ((rc = cur_u32(c, &et, "an array element type"))) goto out;
    if ((rc = cur_u64(c, &n, "an array length"))) goto out;
    int es = vtype_size(et);
    if (es < 0 || et == GGUF_ARRAY) {
      rc = err_set(MIMIC_EFORMAT, "%s: key '%s': unsupported array element type %u", c->path, key,
                   et);
      goto out;
    }
    if (n > GGUF_MAX_ARRAY) {
      rc = err_set(MIMIC_ERANGE, "%s: key '%s': array of %" PRIu64 " elements (limit %u)", c->path,
                   key, n, GGUF_MAX_ARRAY);
      goto out;
    }
    kv->elem = (gguf_vtype)et;
    kv->count = n;
    kv->val = c->p;
    if (et == GGUF_STRING) {
      /* Each element needs at least its 8-byte length, so the table is bounded by the file size. */
      if (n > (uint64_t)(c->end - c->p) / 8) {
        rc = err_set(MIMIC_EFORMAT,
                     "%s: key '%s': array of %" PRIu64 " strings cannot fit in the file", c->path,
                     key, n);
        goto out;
      }
      kv->strs = xcalloc(n ? n : 1, sizeof *kv->strs);
      for (uint64_t i = 0; i < n; i++)
        if ((rc = cur_str(c, &kv->strs[i], GGUF_MAX_STRING, "an array string"))) goto out;
    } else {
      if ((rc = cur_need(c, n * (uint64_t)es, "array elements"))) goto out;
      if (et == GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
          if (c->p[i] > 1) {
            rc = err_set(MIMIC_EFORMAT,
                         "%s: key '%s': bool element %" PRIu64 " is %u (must be 0 or 1)", c->path,
                         key, i, c->p[i]);
            goto out;
          }
      c->p += n * (uint64_t)es;
    }
  } else {
    if ((rc = cur_need(c, (uint64_t)vtype_size(t), "a metadata value"))) goto out;
    if (t == GGUF_BOOL && *c->p > 1) {
      rc = err_set(MIMIC_EFORMAT, "%s: key '%s': bool value %u (must be 0 or 1)", c->path, key,
                   *c->p);
      goto out;
    }
    c->p += vtype_size(t);
  }
  kv->raw_len = (size_t)(c->p - kv->raw);
out:
  c->ctx[0] = 0;
  return rc;
}

/* Reads an integer-typed scalar as signed/unsigned 128-ish pair: *neg set for negative values. */
static bool kv_int(const gguf_kv *kv, uint64_t *mag, bool *neg) {
  const uint8_t *v = kv->val;
  *neg = false;
  switch (kv->type) {
  case GGUF_U8: *mag = *v; return true;
  case GGUF_U16: {
    uint16_t x;
    memcpy(&x, v, 2);
    *mag = x;
    return true;
  }
  case GGUF_U32: {
    uint32_t x;
    memcpy(&x, v, 4);
    *mag = x;
    return true;
  }
  case GGUF_U64: {
    uint64_t x;
    memcpy(&x, v, 8);
    *mag = x;
    return true;
  }
  case GGUF_I8:
  case GGUF_I16:
  case GGUF_I32:
  case GGUF_I64: {
    int64_t x;
    if (kv->type == GGUF_I8) {
      int8_t y;
      memcpy(&y, v, 1);
      x = y;
    } else if (kv->type == GGUF_I16) {
      int16_t y;
      memcpy(&y, v, 2);
      x = y;
    } else if (kv->type == GGUF_I32) {
      int32_t y;
      memcpy(&y, v, 4);
      x = y;
    } else
      memcpy(&x, v, 8);
    *neg = x < 0;
    *mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
    return true;
  }
  default: return false;
  }
}

static int read_tensor_info(cursor *c, gguf_file *f, gguf_tensor *t, uint64_t idx) {
  gguf_str ns;
  snprintf(c->ctx, sizeof c->ctx, "tensor info %" PRIu64 ": ", idx);
  int rc = cur_str(c, &ns, GGUF_MAX_NAME, "a tensor name");
  if (rc) return rc;
  if ((rc = name_copy(c, &ns, t->name, "tensor", idx))) return rc;
  snprintf(c->ctx, sizeof c->ctx, "tensor '%s': ", t->name);
  uint32_t nd, type;
  if ((rc = cur_u32(c, &nd, "a tensor's dimension count"))) goto out;
  if (nd < 1 || nd > 4) {
    rc = err_set(MIMIC_EFORMAT, "%s: tensor '%s': %u dimensions (must be 1 to 4)", f->path, t->name,
                 nd);
    goto out;
  }
  t->n_dims = (int)nd;
  for (int j = 0; j < 4; j++) t->ne[j] = 1;
  uint64_t nel = 1;
  for (uint32_t j = 0; j < nd; j++) {
    uint64_t ne;
    if ((rc = cur_u64(c, &ne, "a tensor dimension"))) goto out;
    if (ne == 0 || ne > (uint64_t)INT64_MAX / nel) {
      rc = err_set(MIMIC_EFORMAT,
                   "%s: tensor '%s': dimension %u is %" PRIu64
                   " (zero, or the element count overflows)",
                   f->path, t->name, j, ne);
      goto out;
    }
    t->ne[j] = (int64_t)ne;
    nel *= ne;
  }
  if ((rc = cur_u32(c, &type, "a tensor type"))) goto out;
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.name) {
    rc = err_set(MIMIC_EFORMAT, "%s: tensor '%s': unknown tensor type %u", f->path, t->name, type);
    goto out;
  }
  t->type = (tensor_type)type;
  if (t->ne[0] % ti.block) {
    rc = err_set(MIMIC_EFORMAT,
                 "%s: tensor '%s': row of %" PRId64
                 " elements is not a multiple of the %s block size %d",
                 f->path, t->name, t->ne[0], ti.name, ti.block);
    goto out;
  }
  /* nbytes = nel / block * block_bytes; nel < 2^63 and block_bytes < 2^9, so check before
   * multiplying. */
  uint64_t nblocks = nel / (uint64_t)ti.block;
  if (nblocks > (uint64_t)f->size / ti.block_bytes + 1) {
    rc = err_set(MIMIC_EFORMAT,
                 "%s: tensor '%s': %" PRIu64 " elements cannot fit in a %zu-byte file", f->path,
                 t->name, nel, f->size);
    goto out;
  }
  t->nbytes = nblocks * ti.block_bytes;
  if ((rc = cur_u64(c, &t->offset, "a tensor offset"))) goto out;
out:
  c->ctx[0] = 0;
  return rc;
}

static int cmp_offset(const void *a, const void *b) {
  const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse(gguf_file *f) {
  cursor c = {f->base, f->base, f->base + f->size, f->path, ""};
  int rc;
  gguf_tensor **order = NULL;
  if (f->size < 4 || memcmp(f->base, GGUF_MAGIC, 4) != 0)
    return err_set(MIMIC_EFORMAT, "%s: not a GGUF file (bad magic)", f->path);
  c.p += 4;
  if ((rc = cur_u32(&c, &f->version, "the version"))) return rc;
  if (f->version != 2 && f->version != 3) {
    if (f->version && (f->version & 0xFFFF) == 0)
      return err_set(MIMIC_EUNSUPPORTED, "%s: GGUF file is big-endian (unsupported)", f->path);
    return err_set(MIMIC_EUNSUPPORTED, "%s: GGUF version %u is not supported (need 2 or 3)",
                   f->path, f->version);
  }
  uint64_t nt, nkv;
  if ((rc = cur_u64(&c, &nt, "the tensor count"))) return rc;
  if ((rc = cur_u64(&c, &nkv, "the metadata count"))) return rc;
  if (nt > GGUF_MAX_TENSORS)
    return err_set(MIMIC_ERANGE, "%s: %" PRIu64 " tensors (limit %d)", f->path, nt,
                   GGUF_MAX_TENSORS);
  if (nkv > GGUF_MAX_KV)
    return err_set(MIMIC_ERANGE, "%s: %" PRIu64 " metadata keys (limit %d)", f->path, nkv,
                   GGUF_MAX_KV);

  f->kvs = xcalloc(nkv ? nkv : 1, sizeof *f->kvs);
  f->n_kv = (int64_t)nkv; /* entries not yet read stay zeroed, so gguf_close can free them all */
  name_index_init(&f->kv_index, (int64_t)nkv);
  for (uint64_t i = 0; i < nkv; i++) {
    gguf_kv *kv = &f->kvs[i];
    if ((rc = read_kv(&c, kv, i))) return rc;
    uint32_t s = name_index_slot(&f->kv_index, kv->key, kv_name_of, f);
    if (f->kv_index.slots[s] >= 0)
      return err_set(MIMIC_EFORMAT, "%s: key '%s' appears twice", f->path, kv->key);
    f->kv_index.slots[s] = (int32_t)i;
  }

  f->alignment = GGUF_DEFAULT_ALIGNMENT;
  int64_t ai = gguf_find_key(f, "general.alignment");
  if (ai >= 0) {
    uint64_t a;
    bool neg;
    if (!kv_int(&f->kvs[ai], &a, &neg) || neg || a == 0 || a > GGUF_MAX_ALIGNMENT || (a & (a - 1)))
      return err_set(MIMIC_EFORMAT, "%s: key 'general.alignment' must be a power of two up to %u",
                     f->path, GGUF_MAX_ALIGNMENT);
    f->alignment = (uint32_t)a;
  }

  f->tensors = xcalloc(nt ? nt : 1, sizeof *f->tensors);
  f->n_tensors = (int64_t)nt;
  name_index_init(&f->tensor_index, (int64_t)nt);
  for (uint64_t i = 0; i < nt; i++) {
    gguf_tensor *t = &f->tensors[i];
    if ((rc = read_tensor_info(&c, f, t, i))) return rc;
    uint32_t s = name_index_slot(&f->tensor_index, t->name, tensor_name_of, f);
    if (f->tensor_index.slots[s] >= 0)
      return err_set(MIMIC_EFORMAT, "%s: tensor '%s' appears twice", f->path, t->name);
    f->tensor_index.slots[s] = (int32_t)i;
  }

  uint64_t pos = (uint64_t)(c.p - c.base);
  uint64_t a = f->alignment;
  f->data_start = nt ? pos + (a - pos % a) % a : pos;
  if (f->data_start > f->size)
    return err_set(MIMIC_EFORMAT, "%s: data section starts past the end of the file", f->path);
  uint64_t data_size = f->size - f->data_start;

  /* Every tensor aligned, inside the file, and no two overlapping (checked in offset order). */
  order = xcalloc(nt ? nt : 1, sizeof *order);
  for (uint64_t i = 0; i < nt; i++) {
    gguf_tensor *t = &f->tensors[i];
    if (t->offset % a) {
      rc =
          err_set(MIMIC_EFORMAT,
                  "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                  f->path, t->name, t->offset, a);
      goto out;
    }
    if (t->offset > data_size || t->nbytes > data_size - t->offset) {
      rc = err_set(MIMIC_EFORMAT,
                   "%s: tensor '%s': data (offset %" PRIu64 ", %" PRIu64
                   " bytes) runs past the end of the file",
                   f->path, t->name, t->offset, t->nbytes);
      goto out;
    }
    t->data = f->base + f->data_start + t->offset;
    order[i] = t;
  }
  qsort(order, nt, sizeof *order, cmp_offset);
  for (uint64_t i = 1; i < nt; i++)
    if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset) {
      rc = err_set(MIMIC_EFORMAT, "%s: tensor '%s' overlaps tensor '%s'", f->path, order[i]->name,
                   order[i - 1]->name);
      goto out;
    }
  rc = 0;
out:
  mem_free(order);
  return rc;
}

static int open_common(const void *data, size_t size, const char *name, bool mapped,
                       gguf_file **out) {
  gguf_file *f = xcalloc(1, sizeof *f);
  f->path = xstrdup(name ? name : "(memory)");
  f->base = data;
  f->size = size;
  f->mapped = mapped;
  int rc = parse(f);
  if (rc) {
    gguf_close(f);
    return rc;
  }
  *out = f;
  return 0;
}

int gguf_open(const char *path, gguf_file **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return err_set(e == ENOENT ? MIMIC_ENOTFOUND : MIMIC_EIO, "%s: cannot open: %s", path,
                   strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return err_set(MIMIC_EIO, "%s: not a regular file", path);
  }
  if (st.st_size < 24) {
    close(fd);
    return err_set(MIMIC_EFORMAT, "%s: too small to be a GGUF file (%lld bytes)", path,
                   (long long)st.st_size);
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return err_set(MIMIC_EIO, "%s: cannot map: %s", path, strerror(errno));
  return open_common(m, (size_t)st.st_size, path, true, out);
}

int gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out) {
  *out = NULL;
  if (!data && size) return err_set(MIMIC_EINVAL, "gguf_open_memory: NULL data");
  return open_common(data, size, name, false, out);
}

void gguf_close(gguf_file *f) {
  if (!f) return;
  for (int64_t i = 0; i < f->n_kv; i++) {
    mem_free(f->kvs[i].key);
    mem_free(f->kvs[i].strs);
  }
  mem_free(f->kvs);
  mem_free(f->tensors);
  mem_free(f->kv_index.slots);
  mem_free(f->tensor_index.slots);
  if (f->mapped) munmap((void *)f->base, f->size);
  mem_free(f->path);
  mem_free(f);
}

uint32_t gguf_version(const gguf_file *f) { return f->version; }
const char *gguf_path(const gguf_file *f) { return f->path; }
size_t gguf_file_size(const gguf_file *f) { return f->size; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_start; }

/* ---- Metadata access ------------------------------------------------------------------------ */

int64_t gguf_n_kv(const gguf_file *f) { return f->n_kv; }

int64_t gguf_find_key(const gguf_file *f, const char *key) {
  if (!key || !f->kv_index.slots) return -1;
  uint32_t s = name_index_slot(&f->kv_index, key, kv_name_of, f);
  return f->kv_index.slots[s];
}

const char *gguf_key_name(const gguf_file *f, int64_t i) {
  return i >= 0 && i < f->n_kv ? f->kvs[i].key : NULL;
}

gguf_vtype gguf_kv_type(const gguf_file *f, int64_t i) {
  return i >= 0 && i < f->n_kv ? f->kvs[i].type : (gguf_vtype)-1;
}

static const gguf_kv *kv_get(const gguf_file *f, const char *key) {
  int64_t i = gguf_find_key(f, key);
  return i >= 0 ? &f->kvs[i] : NULL;
}

static int wrong_type(const gguf_file *f, const gguf_kv *kv, const char *want) {
  return err_set(MIMIC_EFORMAT, "%s: key '%s' has type %s, expected %s", f->path, kv->key,
                 vtype_name(kv->type), want);
}

static int absent(const gguf_file *f, const char *key) {
  return err_set(MIMIC_ENOTFOUND, "%s: key '%s' is missing", f->path, key);
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  uint64_t m;
  bool neg;
  if (!kv_int(kv, &m, &neg) || neg || m > UINT32_MAX)
    return wrong_type(f, kv, "an unsigned 32-bit integer");
  *out = (uint32_t)m;
  return 0;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  uint64_t m;
  bool neg;
  if (!kv_int(kv, &m, &neg) || (!neg && m > (uint64_t)INT64_MAX))
    return wrong_type(f, kv, "a 64-bit integer");
  *out = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) : (int64_t)m;
  return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  if (kv->type == GGUF_F32) {
    memcpy(out, kv->val, 4);
  } else if (kv->type == GGUF_F64) {
    double d;
    memcpy(&d, kv->val, 8);
    *out = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
  } else {
    return wrong_type(f, kv, "f32");
  }
  return 0;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  if (kv->type != GGUF_BOOL) return wrong_type(f, kv, "bool");
  *out = *kv->val != 0;
  return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  if (kv->type != GGUF_STRING) return wrong_type(f, kv, "string");
  *out = kv->str;
  return 0;
}

char *gguf_get_str_dup(const gguf_file *f, const char *key) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv || kv->type != GGUF_STRING) return NULL;
  return mem_strndup(kv->str.ptr, (size_t)kv->str.len);
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype *elem_type, uint64_t *count) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  if (kv->type != GGUF_ARRAY) return wrong_type(f, kv, "array");
  if (elem_type) *elem_type = kv->elem;
  if (count) *count = kv->count;
  return 0;
}

gguf_str gguf_arr_str(const gguf_file *f, const char *key, uint64_t i) {
  gguf_str none = {NULL, 0};
  const gguf_kv *kv = kv_get(f, key);
  if (!kv || kv->type != GGUF_ARRAY || kv->elem != GGUF_STRING || i >= kv->count) return none;
  return kv->strs[i];
}

/* Element i of a numeric array as double (exact for every integer up to 2^53) and int64. */
static void arr_elem(const gguf_kv *kv, uint64_t i, double *d, int64_t *iv) {
  int es = vtype_size(kv->elem);
  const uint8_t *p = kv->val + i * (uint64_t)es;
  gguf_kv tmp = {0};
  tmp.type = kv->elem;
  tmp.val = p;
  *iv = 0; /* callers wanting integers reject float arrays first */
  if (kv->elem == GGUF_F32) {
    float x;
    memcpy(&x, p, 4);
    *d = x;
  } else if (kv->elem == GGUF_F64) {
    memcpy(d, p, 8);
  } else {
    uint64_t m;
    bool neg;
    if (kv->elem == GGUF_BOOL) {
      m = *p;
      neg = false;
    } else {
      (void)kv_int(&tmp, &m, &neg);
    }
    *iv = neg ? -(int64_t)(m - 1) - 1 : (int64_t)m;
    *d = (double)*iv;
  }
}

static int arr_numeric(const gguf_file *f, const char *key, uint64_t count, const gguf_kv **out) {
  const gguf_kv *kv = kv_get(f, key);
  if (!kv) return absent(f, key);
  if (kv->type != GGUF_ARRAY || kv->elem == GGUF_STRING) return wrong_type(f, kv, "numeric array");
  if (count > kv->count)
    return err_set(MIMIC_EFORMAT, "%s: key '%s' has %" PRIu64 " elements, %" PRIu64 " wanted",
                   f->path, key, kv->count, count);
  *out = kv;
  return 0;
}

int gguf_arr_f32(const gguf_file *f, const char *key, float *out, uint64_t count) {
  const gguf_kv *kv;
  int rc = arr_numeric(f, key, count, &kv);
  if (rc) return rc;
  if (kv->elem == GGUF_F32) {
    memcpy(out, kv->val, count * 4);
    return 0;
  }
  for (uint64_t i = 0; i < count; i++) {
    double d;
    int64_t iv;
    arr_elem(kv, i, &d, &iv);
    out[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
  }
  return 0;
}

int gguf_arr_i32(const gguf_file *f, const char *key, int32_t *out, uint64_t count) {
  const gguf_kv *kv;
  int rc = arr_numeric(f, key, count, &kv);
  if (rc) return rc;
  if (kv->elem == GGUF_F32 || kv->elem == GGUF_F64) return wrong_type(f, kv, "integer array");
  for (uint64_t i = 0; i < count; i++) {
    double d;
    int64_t iv;
    arr_elem(kv, i, &d, &iv);
    if (iv < INT32_MIN || iv > INT32_MAX)
      return err_set(MIMIC_EFORMAT, "%s: key '%s': element %" PRIu64 " does not fit in 32 bits",
                     f->path, key, i);
    out[i] = (int32_t)iv;
  }
  return 0;
}

int64_t gguf_n_tensors(const gguf_file *f) { return f->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i) {
  return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name) {
  if (!name || !f->tensor_index.slots) return NULL;
  uint32_t s = name_index_slot(&f->tensor_index, name, tensor_name_of, f);
  int32_t i = f->tensor_index.slots[s];
  return i >= 0 ? &f->tensors[i] : NULL;
}

/* ---- Writer -------------------------------------------------------------------------------- */

typedef struct wkv {
  char *key;
  uint8_t *raw; /* type field + value, exactly as written */
  size_t n;
} wkv;

typedef struct wtensor {
  char name[GGUF_MAX_NAME];
  tensor_type type;
  int n_dims;
  int64_t ne[4];
  size_t nbytes;
  void *data; /* owned copy */
} wtensor;

struct gguf_writer {
  wkv *kvs;
  size_t n_kv, cap_kv;
  wtensor *ts;
  size_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(void) { return xcalloc(1, sizeof(gguf_writer)); }

void gguf_writer_destroy(gguf_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n_kv; i++) {
    mem_free(w->kvs[i].key);
    mem_free(w->kvs[i].raw);
  }
  for (size_t i = 0; i < w->n_t; i++) mem_free(w->ts[i].data);
  mem_free(w->kvs);
  mem_free(w->ts);
  mem_free(w);
}

/* Sets key to the given raw encoding (takes ownership of raw), replacing an earlier value. */
static void w_put(gguf_writer *w, const char *key, uint8_t *raw, size_t n) {
  for (size_t i = 0; i < w->n_kv; i++)
    if (strcmp(w->kvs[i].key, key) == 0) {
      mem_free(w->kvs[i].raw);
      w->kvs[i].raw = raw;
      w->kvs[i].n = n;
      return;
    }
  if (w->n_kv == w->cap_kv) {
    w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 32;
    w->kvs = xrealloc(w->kvs, w->cap_kv * sizeof *w->kvs);
  }
  w->kvs[w->n_kv].key = xstrdup(key);
  w->kvs[w->n_kv].raw = raw;
  w->kvs[w->n_kv].n = n;
  w->n_kv++;
}

static void w_scalar(gguf_writer *w, const char *key, gguf_vtype t, const void *v, size_t n) {
  uint8_t *raw = xalloc(4 + n);
  uint32_t t32 = (uint32_t)t;
  memcpy(raw, &t32, 4);
  memcpy(raw + 4, v, n);
  w_put(w, key, raw, 4 + n);
}

void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v) {
  w_scalar(w, key, GGUF_U32, &v, 4);
}
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v) { w_scalar(w, key, GGUF_I32, &v, 4); }
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v) {
  w_scalar(w, key, GGUF_U64, &v, 8);
}
void gguf_set_f32(gguf_writer *w, const char *key, float v) { w_scalar(w, key, GGUF_F32, &v, 4); }
void gguf_set_bool(gguf_writer *w, const char *key, bool v) {
  uint8_t b = v ? 1 : 0;
  w_scalar(w, key, GGUF_BOOL, &b, 1);
}

void gguf_set_str(gguf_writer *w, const char *key, const char *v) {
  uint64_t len = strlen(v);
  uint8_t *raw = xalloc(12 + len);
  uint32_t t = GGUF_STRING;
  memcpy(raw, &t, 4);
  memcpy(raw + 4, &len, 8);
  memcpy(raw + 12, v, len);
  w_put(w, key, raw, 12 + len);
}

static uint8_t *arr_header(gguf_vtype et, uint64_t n, size_t payload, size_t *total) {
  *total = 16 + payload;
  uint8_t *raw = xalloc(*total);
  uint32_t t = GGUF_ARRAY, e = (uint32_t)et;
  memcpy(raw, &t, 4);
  memcpy(raw + 4, &e, 4);
  memcpy(raw + 8, &n, 8);
  return raw;
}

void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
  size_t payload = 0;
  for (uint64_t i = 0; i < n; i++) payload += 8 + strlen(v[i]);
  size_t total;
  uint8_t *raw = arr_header(GGUF_STRING, n, payload, &total);
  uint8_t *p = raw + 16;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t len = strlen(v[i]);
    memcpy(p, &len, 8);
    memcpy(p + 8, v[i], len);
    p += 8 + len;
  }
  w_put(w, key, raw, total);
}

void gguf_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n) {
  size_t total;
  uint8_t *raw = arr_header(GGUF_F32, n, n * 4, &total);
  if (n) memcpy(raw + 16, v, n * 4);
  w_put(w, key, raw, total);
}

void gguf_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
  size_t total;
  uint8_t *raw = arr_header(GGUF_I32, n, n * 4, &total);
  if (n) memcpy(raw + 16, v, n * 4);
  w_put(w, key, raw, total);
}

void gguf_copy_kv(gguf_writer *w, const gguf_file *src, const char *skip_prefix) {
  gguf_copy_kv_if(w, src, skip_prefix, NULL);
}

void gguf_copy_kv_if(gguf_writer *w, const gguf_file *src, const char *skip_prefix,
                     const char *only_prefix) {
  for (int64_t i = 0; i < src->n_kv; i++) {
    const gguf_kv *kv = &src->kvs[i];
    if (skip_prefix && *skip_prefix && str_starts_with(kv->key, skip_prefix)) continue;
    if (only_prefix && *only_prefix && !str_starts_with(kv->key, only_prefix)) continue;
    uint8_t *raw = xalloc(kv->raw_len);
    memcpy(raw, kv->raw, kv->raw_len);
    w_put(w, kv->key, raw, kv->raw_len);
  }
}

/* Validates a tensor for the writer and returns its byte size in *nbytes. */
static int tensor_check(const gguf_writer *w, const char *name, tensor_type type, int n_dims,
                        const int64_t *ne, uint64_t *nbytes) {
  size_t len = name ? strlen(name) : 0;
  if (len == 0 || len >= GGUF_MAX_NAME)
    return err_set(MIMIC_EINVAL, "tensor name '%s' is empty or longer than %d bytes",
                   name ? name : "", GGUF_MAX_NAME - 1);
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.name) return err_set(MIMIC_EINVAL, "tensor '%s': unknown type %d", name, (int)type);
  if (n_dims < 1 || n_dims > 4)
    return err_set(MIMIC_EINVAL, "tensor '%s': %d dimensions (must be 1 to 4)", name, n_dims);
  uint64_t nel = 1;
  for (int j = 0; j < n_dims; j++) {
    if (ne[j] <= 0 || (uint64_t)ne[j] > (uint64_t)INT64_MAX / nel)
      return err_set(MIMIC_EINVAL, "tensor '%s': bad dimension %d (%" PRId64 ")", name, j, ne[j]);
    nel *= (uint64_t)ne[j];
  }
  if (ne[0] % ti.block)
    return err_set(MIMIC_EINVAL,
                   "tensor '%s': row of %" PRId64 " is not a multiple of the %s block size %d",
                   name, ne[0], ti.name, ti.block);
  for (size_t i = 0; i < w->n_t; i++)
    if (strcmp(w->ts[i].name, name) == 0)
      return err_set(MIMIC_EINVAL, "tensor '%s' added twice", name);
  *nbytes = nel / (uint64_t)ti.block * ti.block_bytes;
  if (*nbytes > SIZE_MAX / 2) return err_set(MIMIC_ERANGE, "tensor '%s' is too large", name);
  return 0;
}

static void tensor_push(gguf_writer *w, const char *name, tensor_type type, int n_dims,
                        const int64_t *ne, void *data, size_t nbytes) {
  if (w->n_t == w->cap_t) {
    w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
    w->ts = xrealloc(w->ts, w->cap_t * sizeof *w->ts);
  }
  wtensor *t = &w->ts[w->n_t++];
  memset(t, 0, sizeof *t);
  str_lcpy(t->name, name, sizeof t->name);
  t->type = type;
  t->n_dims = n_dims;
  for (int j = 0; j < 4; j++) t->ne[j] = j < n_dims ? ne[j] : 1;
  t->nbytes = nbytes;
  t->data = data;
}

int gguf_add_tensor(gguf_writer *w, const char *name, tensor_type type, int n_dims,
                    const int64_t *ne, const void *data) {
  uint64_t nbytes;
  int rc = tensor_check(w, name, type, n_dims, ne, &nbytes);
  if (rc) return rc;
  void *copy = mem_alloc(nbytes ? (size_t)nbytes : 1);
  if (!copy)
    return err_set(MIMIC_ENOMEM, "tensor '%s': out of memory for %" PRIu64 " bytes", name, nbytes);
  memcpy(copy, data, (size_t)nbytes);
  tensor_push(w, name, type, n_dims, ne, copy, (size_t)nbytes);
  return 0;
}

int gguf_add_tensor_take(gguf_writer *w, const char *name, tensor_type type, int n_dims,
                         const int64_t *ne, void *data) {
  uint64_t nbytes;
  int rc = tensor_check(w, name, type, n_dims, ne, &nbytes);
  if (rc) {
    mem_free(data);
    return rc;
  }
  tensor_push(w, name, type, n_dims, ne, data, (size_t)nbytes);
  return 0;
}

static uint32_t writer_alignment(const gguf_writer *w) {
  for (size_t i = 0; i < w->n_kv; i++)
    if (strcmp(w->kvs[i].key, "general.alignment") == 0 && w->kvs[i].n == 8) {
      uint32_t t, v;
      memcpy(&t, w->kvs[i].raw, 4);
      memcpy(&v, w->kvs[i].raw + 4, 4);
      if ((t == GGUF_U32 || t == GGUF_I32) && v && !(v & (v - 1)) && v <= GGUF_MAX_ALIGNMENT)
        return v;
    }
  return GGUF_DEFAULT_ALIGNMENT;
}

static int fput(FILE *fp, const void *p, size_t n) {
  return n && fwrite(p, 1, n, fp) != n ? -1 : 0;
}

static int fpad(FILE *fp, uint64_t *pos, uint32_t a) {
  static const uint8_t zeros[64];
  uint64_t pad = (a - *pos % a) % a;
  *pos += pad;
  while (pad) {
    size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
    if (fput(fp, zeros, k)) return -1;
    pad -= k;
  }
  return 0;
}

static int fput_str(FILE *fp, const char *s, uint64_t *pos) {
  uint64_t len = strlen(s);
  *pos += 8 + len;
  return fput(fp, &len, 8) || fput(fp, s, len) ? -1 : 0;
}

int gguf_writer_save(gguf_writer *w, const char *path) {
  char *tmp = NULL;
  FILE *fp = NULL;
  int rc = 0;
  for (size_t i = 0; i < w->n_kv; i++) /* the reader would refuse them */
    if (!w->kvs[i].key[0] || strlen(w->kvs[i].key) >= GGUF_MAX_NAME)
      return err_set(MIMIC_EINVAL, "%s: metadata key '%.40s...' is empty or longer than %d bytes",
                     path, w->kvs[i].key, GGUF_MAX_NAME - 1);
  size_t plen = strlen(path);
  tmp = xalloc(plen + 5);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || !(fp = fdopen(fd, "wb"))) {
    if (fd >= 0) close(fd);
    rc = err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    goto out;
  }
  uint32_t a = writer_alignment(w), version = 3;
  uint64_t nt = w->n_t, nkv = w->n_kv, pos = 24;
  bool bad =
      fput(fp, GGUF_MAGIC, 4) || fput(fp, &version, 4) || fput(fp, &nt, 8) || fput(fp, &nkv, 8);
  for (size_t i = 0; i < w->n_kv && !bad; i++) {
    bad = fput_str(fp, w->kvs[i].key, &pos) || fput(fp, w->kvs[i].raw, w->kvs[i].n);
    pos += w->kvs[i].n;
  }
  uint64_t off = 0;
  for (size_t i = 0; i < w->n_t && !bad; i++) {
    const wtensor *t = &w->ts[i];
    uint32_t nd = (uint32_t)t->n_dims, ty = (uint32_t)t->type;
    bad = fput_str(fp, t->name, &pos) || fput(fp, &nd, 4) || fput(fp, t->ne, 8 * nd) ||
          fput(fp, &ty, 4) || fput(fp, &off, 8);
    pos += 4 + 8 * nd + 4 + 8;
    off += t->nbytes + (a - t->nbytes % a) % a;
  }
  if (!bad && nt) bad = fpad(fp, &pos, a) != 0;
  for (size_t i = 0; i < w->n_t && !bad; i++) {
    bad = fput(fp, w->ts[i].data, w->ts[i].nbytes) != 0;
    pos += w->ts[i].nbytes;
    if (!bad && i + 1 < w->n_t) bad = fpad(fp, &pos, a) != 0;
  }
  if (bad || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
    rc = err_set(MIMIC_EIO, "%s: write failed: %s", tmp, strerror(errno));
    goto out;
  }
  if (fclose(fp) != 0) {
    fp = NULL;
    rc = err_set(MIMIC_EIO, "%s: close failed: %s", tmp, strerror(errno));
    goto out;
  }
  fp = NULL;
  if (rename(tmp, path) != 0) {
    rc = err_set(MIMIC_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    goto out;
  }
  /* Make the rename itself durable. */
  char *slash = strrchr(tmp, '/');
  if (slash) *slash = 0;
  int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  if (slash) *slash = '/';
out:
  if (fp) fclose(fp);
  if (rc) unlink(tmp);
  mem_free(tmp);
  return rc;
}
