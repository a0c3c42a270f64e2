/* Checkpoints as GGUF files (the writer already saves atomically): "<param>" F32 tensors, their
 * AdamW moments "<param>.adam_m" / ".adam_v", an optional "train.extra" vector, and the state keys
 * train.step / train.epoch / train.cursor / train.fingerprint. Loading checks every tensor's shape
 * and the fingerprint, and only then copies, so a refused checkpoint leaves the model untouched. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "llm/gguf.h"
#include "train/train_int.h"

int train_ckpt_save(const char *path, train_model *m, train_optim *o, const train_ckpt *st,
                    const float *extra, size_t n_extra) {
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.type", "mimic-checkpoint");
  gguf_set_u32(w, "train.version", 1);
  gguf_set_u64(w, "train.step", (uint64_t)st->step);
  gguf_set_u64(w, "train.epoch", st->epoch);
  gguf_set_u64(w, "train.cursor", st->cursor);
  gguf_set_str(w, "train.fingerprint", st->fingerprint ? st->fingerprint : "");
  int rc = 0;
  char name[160];
  for (int i = 0; i < train_model_n_params(m) && !rc; i++) {
    const train_param *p = train_model_param(m, i);
    int64_t ne[1] = {(int64_t)p->n};
    rc = gguf_add_tensor(w, p->name, TT_F32, 1, ne, p->w);
    snprintf(name, sizeof name, "%s.adam_m", p->name);
    if (!rc) rc = gguf_add_tensor(w, name, TT_F32, 1, ne, train_optim_moment(o, i, 0));
    snprintf(name, sizeof name, "%s.adam_v", p->name);
    if (!rc) rc = gguf_add_tensor(w, name, TT_F32, 1, ne, train_optim_moment(o, i, 1));
  }
  if (!rc && extra && n_extra) {
    int64_t ne[1] = {(int64_t)n_extra};
    rc = gguf_add_tensor(w, "train.extra", TT_F32, 1, ne, extra);
  }
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  if (rc) return err_prefix(rc, "checkpoint %s", path);
  return 0;
}

static const gguf_tensor *find_f32(const gguf_file *f, const char *name, size_t n, int *rc) {
  const gguf_tensor *t = gguf_tensor_find(f, name);
  if (!t || t->type != TT_F32 || t->ne[0] != (int64_t)n || t->ne[1] != 1) {
    *rc = err_set(MIMIC_EINVAL,
                  "%s: tensor %s is missing or has another size: the checkpoint belongs to another "
                  "run (start over without --resume)",
                  gguf_path(f), name);
    return NULL;
  }
  return t;
}

int train_ckpt_load(const char *path, train_model *m, train_optim *o, train_ckpt *st, float *extra,
                    size_t n_extra) {
  gguf_file *f = NULL;
  int rc = gguf_open(path, &f);
  if (rc) return rc;
  char *fp = gguf_get_str_dup(f, "train.fingerprint");
  int64_t step = 0, epoch = 0, cursor = 0;
  if (!fp || gguf_get_i64(f, "train.step", &step) || gguf_get_i64(f, "train.epoch", &epoch) ||
      gguf_get_i64(f, "train.cursor", &cursor) || step < 0 || epoch < 0 || cursor < 0) {
    rc = err_set(MIMIC_EFORMAT, "%s: not a mimic training checkpoint", path);
    goto out;
  }
  if (st->fingerprint && strcmp(fp, st->fingerprint) != 0) {
    rc = err_set(MIMIC_EINVAL,
                 "%s: the checkpoint was made with other settings (%s; now %s): use the same "
                 "options, or start over without --resume",
                 path, fp, st->fingerprint);
    goto out;
  }
  int np = train_model_n_params(m);
  char name[160];
  /* check everything before touching anything */
  for (int i = 0; i < np && !rc; i++) {
    const train_param *p = train_model_param(m, i);
    find_f32(f, p->name, p->n, &rc);
    snprintf(name, sizeof name, "%s.adam_m", p->name);
    if (!rc) find_f32(f, name, p->n, &rc);
    snprintf(name, sizeof name, "%s.adam_v", p->name);
    if (!rc) find_f32(f, name, p->n, &rc);
  }
  if (!rc && extra && n_extra) find_f32(f, "train.extra", n_extra, &rc);
  if (rc) goto out;
  for (int i = 0; i < np; i++) {
    train_param *p = train_model_param(m, i);
    memcpy(p->w, gguf_tensor_find(f, p->name)->data, p->n * sizeof(float));
    snprintf(name, sizeof name, "%s.adam_m", p->name);
    memcpy(train_optim_moment(o, i, 0), gguf_tensor_find(f, name)->data, p->n * sizeof(float));
    snprintf(name, sizeof name, "%s.adam_v", p->name);
    memcpy(train_optim_moment(o, i, 1), gguf_tensor_find(f, name)->data, p->n * sizeof(float));
  }
  if (extra && n_extra)
    memcpy(extra, gguf_tensor_find(f, "train.extra")->data, n_extra * sizeof(float));
  train_optim_set_steps(o, step);
  st->step = step;
  st->epoch = (uint64_t)epoch;
  st->cursor = (uint64_t)cursor;
out:
  mem_free(fp);
  gguf_close(f);
  return rc;
}
