/* Datasets for training: JSONL lines (TRL conversational "messages", prompt/completion, plain text,
 * and prompt/chosen/rejected preference pairs) turned into token ids with a per-token loss mask,
 * and packing of whole samples into sequences. Packing keeps samples apart: each packed sample
 * attends only to itself and restarts its positions (train_batch.seg/pos), so a packed batch
 * computes exactly what separate batches would. Not here: the training loop (trainer.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "llm/chat.h"
#include "train/train_int.h"

#define MAX_MSGS 4096

typedef struct conv {
  chat_msg msgs[MAX_MSGS];
  bool train[MAX_MSGS];
  size_t n;
} conv;

/* Appends the messages of a JSON array; assistant turns are trained when train_assistant. */
static int conv_add(conv *c, const json_t *arr, bool train_assistant, const char *what) {
  if (!json_is_array(arr)) return err_set(MIMIC_EFORMAT, "\"%s\" is not a list of messages", what);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const json_t *m = json_array_get(arr, i);
    const char *role = jv_str(m, "role", NULL), *content = jv_str(m, "content", NULL);
    if (!role || !content)
      return err_set(MIMIC_EFORMAT, "\"%s\"[%zu] needs string \"role\" and \"content\"", what, i);
    if (c->n == MAX_MSGS)
      return err_set(MIMIC_ERANGE, "more than %d messages in one sample", MAX_MSGS);
    c->msgs[c->n] = (chat_msg){role, jv_str(m, "name", NULL), content};
    c->train[c->n] = train_assistant && strcmp(role, "assistant") == 0;
    c->n++;
  }
  return 0;
}

static int sample_set(train_sample *s, int32_t *ids, size_t n, uint8_t *mask) {
  if (n > (size_t)TRAIN_MAX_SEQ * 64) {
    mem_free(ids);
    mem_free(mask);
    return err_set(MIMIC_ERANGE, "a sample of %zu tokens is over the cap", n);
  }
  s->tok = ids;
  s->mask = mask;
  s->n = (int)n;
  s->n_target = 0;
  for (size_t i = 1; i < n; i++) s->n_target += mask[i] ? 1 : 0;
  mask[0] = 0; /* nothing predicts the first token */
  return 0;
}

/* Renders c with the model's template and marks the trained assistant turns: from the end of the
 * assistant header (the generation prompt) through the first end-of-generation token. */
static int conv_encode(const conv *c, const tokenizer *t, chat_family fam, train_sample *out) {
  int32_t *all = NULL, *pre = NULL;
  size_t n_all = 0, n_pre = 0;
  uint8_t *mask = NULL;
  int rc = chat_encode(t, fam, c->msgs, c->n, false, &all, &n_all);
  if (rc) return rc;
  if (n_all == 0) {
    mem_free(all);
    return err_set(MIMIC_EFORMAT, "the conversation renders to nothing");
  }
  mask = xcalloc(n_all, 1);
  for (size_t i = 0; i < c->n; i++) {
    if (!c->train[i]) continue;
    size_t a, b;
    if ((rc = chat_encode(t, fam, c->msgs, i, true, &pre, &n_pre))) goto out;
    a = n_pre;
    mem_free(pre), pre = NULL;
    if ((rc = chat_encode(t, fam, c->msgs, i + 1, false, &pre, &n_pre))) goto out;
    b = n_pre;
    bool prefix = b <= n_all && a <= b && memcmp(pre, all, b * sizeof *pre) == 0;
    mem_free(pre), pre = NULL;
    if (!prefix) {
      rc = err_set(MIMIC_EFORMAT, "message %zu does not tokenize as a prefix of the conversation",
                   i);
      goto out;
    }
    for (size_t k = a; k < b; k++) {
      mask[k] = 1;
      if (tok_is_eog(t, all[k])) break;
    }
  }
  rc = sample_set(out, all, n_all, mask);
  all = NULL, mask = NULL;
out:
  mem_free(all);
  mem_free(pre);
  mem_free(mask);
  return rc;
}

/* Plain strings: prompt (untrained) + completion (trained), special tokens parsed only when
 * parse_special (text the project wrote itself). */
static int text_encode(const tokenizer *t, const char *prompt, const char *completion,
                       bool parse_special, train_sample *out) {
  int32_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  int rc = 0;
  if (prompt && (rc = tok_encode(t, prompt, strlen(prompt), true, parse_special, &a, &na)))
    return rc;
  if ((rc = tok_encode(t, completion, strlen(completion), !prompt, parse_special, &b, &nb))) {
    mem_free(a);
    return rc;
  }
  size_t n = na + nb;
  if (n == 0) {
    mem_free(a), mem_free(b);
    return err_set(MIMIC_EFORMAT, "empty text");
  }
  int32_t *ids = xalloc(n * sizeof *ids);
  uint8_t *mask = xcalloc(n, 1);
  if (na) memcpy(ids, a, na * sizeof *ids);
  if (nb) memcpy(ids + na, b, nb * sizeof *ids);
  for (size_t i = na; i < n; i++) mask[i] = 1;
  mem_free(a), mem_free(b);
  return sample_set(out, ids, n, mask);
}

/* Keeps the last max_len tokens. Returns false when nothing is left to learn. */
static bool sample_fit(train_sample *s, int max_len, bool *truncated) {
  *truncated = false;
  if (s->n > max_len) {
    int drop = s->n - max_len;
    memmove(s->tok, s->tok + drop, (size_t)max_len * sizeof *s->tok);
    memmove(s->mask, s->mask + drop, (size_t)max_len);
    s->n = max_len;
    s->mask[0] = 0;
    s->n_target = 0;
    for (int i = 1; i < s->n; i++) s->n_target += s->mask[i];
    *truncated = true;
  }
  return s->n_target > 0;
}

static void sample_free(train_sample *s) {
  mem_free(s->tok);
  mem_free(s->mask);
  s->tok = NULL;
  s->mask = NULL;
}

/* One line into one sample (SFT) or two (pairs). */
static int parse_line(const json_t *j, const tokenizer *t, chat_family fam, bool pairs,
                      train_sample *s, conv *c) {
  if (!json_is_object(j)) return err_set(MIMIC_EFORMAT, "expected a JSON object");
  const json_t *prompt = json_object_get(j, "prompt");
  int rc;
  if (pairs) {
    const json_t *ch = json_object_get(j, "chosen"), *rj = json_object_get(j, "rejected");
    if (!ch || !rj)
      return err_set(MIMIC_EFORMAT, "a preference pair needs \"chosen\" and \"rejected\"");
    for (int k = 0; k < 2; k++) {
      const json_t *resp = k ? rj : ch;
      if (json_is_string(resp)) {
        const char *p = json_is_string(prompt) ? json_string_value(prompt) : NULL;
        rc = text_encode(t, p, json_string_value(resp), false, &s[k]);
      } else {
        c->n = 0;
        if (prompt && (rc = conv_add(c, prompt, false, "prompt"))) return rc;
        if ((rc = conv_add(c, resp, true, k ? "rejected" : "chosen"))) return rc;
        rc = conv_encode(c, t, fam, &s[k]);
      }
      if (rc) {
        if (k) sample_free(&s[0]);
        return rc;
      }
    }
    return 0;
  }
  const json_t *msgs = json_object_get(j, "messages"), *text = json_object_get(j, "text");
  const json_t *completion = json_object_get(j, "completion");
  if (msgs) {
    c->n = 0;
    if ((rc = conv_add(c, msgs, true, "messages"))) return rc;
    return conv_encode(c, t, fam, s);
  }
  if (completion && json_is_array(completion)) {
    c->n = 0;
    if (prompt && (rc = conv_add(c, prompt, false, "prompt"))) return rc;
    if ((rc = conv_add(c, completion, true, "completion"))) return rc;
    return conv_encode(c, t, fam, s);
  }
  if (completion && json_is_string(completion))
    return text_encode(t, json_is_string(prompt) ? json_string_value(prompt) : NULL,
                       json_string_value(completion), false, s);
  if (text && json_is_string(text)) return text_encode(t, NULL, json_string_value(text), true, s);
  return err_set(MIMIC_EFORMAT, "no \"messages\", \"prompt\"/\"completion\" or \"text\" field");
}

/* Reads one line (without its newline) into b; 0 at end of file with b->len == 0 and *eof. */
static int read_line(FILE *f, buf *b, bool *eof) {
  buf_reset(b);
  *eof = false;
  int ch;
  while ((ch = getc(f)) != EOF && ch != '\n') {
    int rc = buf_putc(b, (char)ch);
    if (rc) return err_set(MIMIC_ERANGE, "a line is longer than %u bytes", TRAIN_MAX_LINE);
  }
  if (ch == EOF) {
    if (ferror(f)) return err_set(MIMIC_EIO, "read error");
    *eof = b->len == 0;
  }
  return 0;
}

int train_data_load(const char *path, const tokenizer *t, bool pairs, int max_len,
                    train_data **out) {
  *out = NULL;
  if (max_len < 2) return err_set(MIMIC_EINVAL, "maximum sample length %d is too short", max_len);
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  train_data *d = xcalloc(1, sizeof *d);
  d->pairs = pairs;
  conv *c = xalloc(sizeof *c);
  chat_family fam = chat_choose(t, NULL);
  size_t cap = 0;
  buf line;
  buf_init(&line, TRAIN_MAX_LINE);
  int rc = 0;
  int per = pairs ? 2 : 1;
  int lim = pairs ? max_len / 2 : max_len;
  for (;;) {
    bool eof;
    if ((rc = read_line(f, &line, &eof))) goto fail;
    if (eof) break;
    d->n_lines++;
    char *p = line.data;
    size_t n = line.len;
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    size_t k = 0;
    while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
    if (k == n) continue; /* blank line */
    json_t *j = jv_parse(p + k, n - k, "line");
    if (!j) {
      rc = MIMIC_EFORMAT;
      goto fail;
    }
    if (d->n + 2 > cap) {
      if (cap >= TRAIN_MAX_SAMPLES) {
        json_decref(j);
        rc = err_set(MIMIC_ERANGE, "more than %u samples", TRAIN_MAX_SAMPLES);
        goto fail;
      }
      cap = cap ? 2 * cap : 256;
      d->s = xrealloc(d->s, cap * sizeof *d->s);
    }
    train_sample *s = &d->s[d->n];
    memset(s, 0, (size_t)per * sizeof *s);
    rc = parse_line(j, t, fam, pairs, s, c);
    json_decref(j);
    if (rc) goto fail;
    bool keep = true, tr = false, any_tr = false;
    for (int i = 0; i < per; i++) {
      keep = sample_fit(&s[i], lim, &tr) && keep;
      any_tr = any_tr || tr;
    }
    if (any_tr) d->n_truncated++;
    if (!keep) {
      for (int i = 0; i < per; i++) sample_free(&s[i]);
      d->n_dropped++;
      continue;
    }
    for (int i = 0; i < per; i++) {
      d->n_tokens += (uint64_t)s[i].n;
      d->n_target += (uint64_t)s[i].n_target;
    }
    d->n += (size_t)per;
  }
  fclose(f);
  buf_free(&line);
  mem_free(c);
  if (d->n == 0) {
    train_data_destroy(d);
    return err_set(MIMIC_EFORMAT, "%s: no usable samples in %s", path,
                   pairs ? "preference pairs" : "the file");
  }
  if (d->n_truncated || d->n_dropped)
    LOG_W("train", "%s: %zu samples cut to %d tokens, %zu dropped (nothing left to learn)", path,
          d->n_truncated, lim, d->n_dropped);
  *out = d;
  return 0;
fail:
  err_prefix(rc, "%s:%zu", path, d->n_lines);
  fclose(f);
  buf_free(&line);
  mem_free(c);
  train_data_destroy(d);
  return rc;
}

void train_data_destroy(train_data *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) sample_free(&d->s[i]);
  mem_free(d->s);
  mem_free(d);
}

size_t train_data_items(const train_data *d) { return d->pairs ? d->n / 2 : d->n; }

uint32_t *train_data_order(const train_data *d, uint64_t seed, uint64_t epoch) {
  size_t n = train_data_items(d);
  uint32_t *o = xalloc((n ? n : 1) * sizeof *o);
  for (size_t i = 0; i < n; i++) o[i] = (uint32_t)i;
  train_rng r;
  train__rng_seed(&r, seed * 0x9e3779b97f4a7c15ull + epoch + 1);
  for (size_t i = n; i > 1; i--) {
    size_t k = (size_t)(train__rng_next(&r) % i);
    uint32_t tmp = o[i - 1];
    o[i - 1] = o[k];
    o[k] = tmp;
  }
  return o;
}

/* ---- Packing --------------------------------------------------------------------------------- */

int train_pack_init(train_pack *p, int max_T) {
  memset(p, 0, sizeof *p);
  p->tok = mem_calloc((size_t)max_T, sizeof *p->tok);
  p->tgt = mem_calloc((size_t)max_T, sizeof *p->tgt);
  p->pos = mem_calloc((size_t)max_T, sizeof *p->pos);
  p->seg = mem_calloc((size_t)max_T, sizeof *p->seg);
  p->item_seg = mem_calloc((size_t)max_T + 1, sizeof *p->item_seg);
  if (!p->tok || !p->tgt || !p->pos || !p->seg || !p->item_seg) {
    train_pack_free(p);
    return err_set(MIMIC_ENOMEM, "out of memory for a batch of %d tokens", max_T);
  }
  p->cap = max_T;
  return 0;
}

void train_pack_free(train_pack *p) {
  mem_free(p->tok);
  mem_free(p->tgt);
  mem_free(p->pos);
  mem_free(p->seg);
  mem_free(p->item_seg);
  memset(p, 0, sizeof *p);
}

static void put_sample(train_pack *p, const train_sample *s, int at) {
  for (int i = 0; i < s->n; i++) {
    p->tok[at + i] = s->tok[i];
    p->pos[at + i] = i;
    p->seg[at + i] = at;
    p->tgt[at + i] = i + 1 < s->n && s->mask[i + 1] ? s->tok[i + 1] : -1;
    if (p->tgt[at + i] >= 0) p->n_target++;
  }
}

int train_pack_fill(train_pack *p, const train_data *d, const uint32_t *order, size_t n_order,
                    size_t *cursor) {
  int max_T = p->cap;
  int used = 0, items = 0;
  p->n_target = 0;
  p->n_items = 0;
  while (*cursor < n_order) {
    uint32_t it = order[*cursor];
    const train_sample *a = d->pairs ? &d->s[2 * (size_t)it] : &d->s[it];
    int need = a->n + (d->pairs ? a[1].n : 0);
    if (used + need > max_T && items > 0) break;
    put_sample(p, a, used);
    p->item_seg[p->n_items++] = used;
    used += a->n;
    if (d->pairs) {
      put_sample(p, &a[1], used);
      p->item_seg[p->n_items++] = used;
      used += a[1].n;
    }
    items++;
    (*cursor)++;
  }
  p->T = used;
  p->b = (train_batch){used, p->tok, p->tgt, p->pos, p->seg, 0};
  return items;
}
