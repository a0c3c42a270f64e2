/* Fuzz target for the GGUF reader: any byte string must give an error or a file whose every
 * metadata value and tensor byte can be read without leaving the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gguf_file *f = NULL;
  if (gguf_open_memory(data, size, "fuzz.gguf", &f) != 0) return 0;
  volatile unsigned sink = 0;
  for (int64_t i = 0; i < gguf_n_kv(f); i++) {
    const char *key = gguf_key_name(f, i);
    uint32_t u;
    int64_t v;
    float x;
    bool b;
    gguf_str s;
    if (gguf_get_u32(f, key, &u) == 0) sink += u;
    if (gguf_get_i64(f, key, &v) == 0) sink += (unsigned)v;
    if (gguf_get_f32(f, key, &x) == 0) sink += x > 0;
    if (gguf_get_bool(f, key, &b) == 0) sink += b;
    if (gguf_get_str(f, key, &s) == 0 && s.len) sink += (uint8_t)s.ptr[s.len - 1];
    char *dup = gguf_get_str_dup(f, key);
    mem_free(dup);
    gguf_vtype et;
    uint64_t n;
    if (gguf_get_arr(f, key, &et, &n) == 0 && n) {
      if (et == GGUF_STRING) {
        gguf_str e = gguf_arr_str(f, key, n - 1);
        if (e.len) sink += (uint8_t)e.ptr[e.len - 1];
      } else if (n <= 4096) {
        float *fo = malloc(n * sizeof *fo);
        int32_t *io = malloc(n * sizeof *io);
        if (gguf_arr_f32(f, key, fo, n) == 0) sink += fo[n - 1] > 0;
        if (gguf_arr_i32(f, key, io, n) == 0) sink += (unsigned)io[n - 1];
        free(fo);
        free(io);
      }
    }
  }
  for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
    const gguf_tensor *t = gguf_tensor_at(f, i);
    if (gguf_tensor_find(f, t->name) != t) abort();
    if (t->nbytes) {
      const uint8_t *p = t->data;
      sink += p[0] + p[t->nbytes - 1];
    }
  }
  (void)sink;
  gguf_close(f);
  return 0;
}
