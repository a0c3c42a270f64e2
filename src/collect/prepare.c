/* `prepare`: the conversation builder and dataset export. Messages are read channel by channel in
 * time order, filtered (filter.c), rendered, cut into conversations by silences, and every usable
 * message becomes a target with the messages before it (and the chain it replies to) as context.
 * Pass 1 finds the targets and applies the per-user cap and the time split; pass 2 writes the
 * samples and their provenance. Files are written to temporary names, registered with a pending
 * rename in the same transaction as their provenance, then renamed (collect_datasets_recover
 * finishes a rename a crash interrupted). Memory: one channel's usable messages at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "llm/chat.h"

/* A rendered message never exceeds COLLECT_MESSAGE_MAX (longer ones are cut); mentions expanded to
 * names can make the rendered text of a message at the cap longer than its content, up to this. */
#define RENDER_CAP ((size_t)COLLECT_MESSAGE_MAX * 8)
#define SAMPLE_MAX ((size_t)COLLECT_MESSAGE_MAX * 2) /* "Name: " + one message */

/* Formal replies used as the rejected side of a DPO pair when the context has no unreacted reply.
 */
static const char *const generic_replies[] = {
    "Thank you for your message. I will consider your point carefully.",
    "I appreciate you sharing this. Please let me know if you need any further information.",
    "That is an interesting observation. Could you elaborate on it?",
    "Understood. I hope you have a pleasant day.",
};

/* Defaults and bounds come from the key table (base/config_keys.c is their one home). */
void collect_prepare_defaults(collect_prepare_opts *o) {
  memset(o, 0, sizeof *o);
  o->out_dir = NULL; /* "<data.dir>/exports", resolved by collect_prepare */
  o->gap_ms = cfg_key_default_int(CFG_COLLECT_GAP_MIN) * 60 * 1000;
  o->window_max = (int)cfg_key_default_int(CFG_COLLECT_WINDOW);
  o->min_context = (int)cfg_key_default_int(CFG_COLLECT_MIN_CONTEXT);
  o->per_user_cap = (int)cfg_key_default_int(CFG_COLLECT_PER_USER_CAP);
  o->valid_frac = cfg_key_default_num(CFG_COLLECT_VALID_FRAC);
  o->require_consent = cfg_key_default_bool(CFG_COLLECT_REQUIRE_CONSENT);
  o->seed = 42;
  o->system_prompt = cfg_key_default(CFG_BOT_SYSTEM_PROMPT);
}

/* The options' bounds, from the key table: "window must be 2..64". */
static int check_opts(const collect_prepare_opts *o) {
  const cfg_key *w = cfg_key_get(CFG_COLLECT_WINDOW), *mc = cfg_key_get(CFG_COLLECT_MIN_CONTEXT),
                *vf = cfg_key_get(CFG_COLLECT_VALID_FRAC), *gap = cfg_key_get(CFG_COLLECT_GAP_MIN);
  if (o->window_max < w->min || o->window_max > w->max || o->min_context < mc->min ||
      o->min_context > mc->max || o->valid_frac < vf->min || o->valid_frac > vf->max ||
      o->gap_ms <= 0 || o->gap_ms > (int64_t)gap->max * 60000)
    return err_set(MIMIC_EINVAL,
                   "prepare: the window must be %g..%g messages, the minimum context %g..%g, the "
                   "gap 1 ms..%g min and the validation fraction %g..%g",
                   w->min, w->max, mc->min, mc->max, gap->max, vf->min, vf->max);
  return 0;
}

typedef struct pmsg {
  uint64_t id, author, ref;
  int64_t ts;
  int reactions;
  int seg;
  const char *name; /* interned display name */
  char *text;       /* rendered; owned */
} pmsg;

typedef struct chan {
  pmsg *v;
  size_t n, cap;
  map_u64 pos; /* message id -> index + 1 */
  char chan_name[STORE_NAME_MAX];
} chan;

typedef struct cand {
  uint64_t id, author, key;
  int64_t ts;
} cand;

typedef struct outfile {
  const char *kind, *split;
  char path[4096], tmp[4200];
  FILE *f;
  int64_t id, n;
} outfile;

enum { F_CHATML_T, F_CHATML_V, F_MSGS_T, F_MSGS_V, F_DPO_T, F_DPO_V, F_KTO_T, F_KTO_V, F_COUNT };

typedef struct prep {
  store *s;
  const collect_prepare_opts *o;
  collect_prepare_stats *st;
  map_u64 flags;     /* user id -> flags + 1 */
  map_u64 name_of;   /* user id -> index + 1 into names */
  map_u64 chname_of; /* channel id -> index + 1 into names */
  char **names;
  size_t n_names, cap_names;
  chan ch;
  buf render, line;
  /* pass 1 */
  cand *cands;
  size_t n_cands, cap_cands;
  map_u64 selected; /* target id -> 1 */
  outfile files[F_COUNT];
  bool pass2;
} prep;

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static const char *intern(prep *p, map_u64 *m, uint64_t id, const char *name) {
  uintptr_t v = map_get_uint(m, id);
  if (v) return p->names[v - 1];
  if (p->n_names == p->cap_names) {
    p->cap_names = p->cap_names ? p->cap_names * 2 : 256;
    p->names = xrealloc(p->names, p->cap_names * sizeof *p->names);
  }
  p->names[p->n_names++] = xstrdup(name);
  map_put_uint(m, id, p->n_names);
  return p->names[p->n_names - 1];
}

static const char *lookup_name(char kind, uint64_t id, void *user) {
  prep *p = user;
  if (kind == 'u') {
    uintptr_t v = map_get_uint(&p->name_of, id);
    if (v) return p->names[v - 1];
    store_user u;
    if (store_user_get(p->s, id, &u) != 0) return NULL;
    return intern(p, &p->name_of, id, store_user_shown(&u));
  }
  uintptr_t v = map_get_uint(&p->chname_of, id);
  if (v) return p->names[v - 1];
  store_channel c;
  if (store_channel_get(p->s, id, &c) != 0) return NULL;
  return intern(p, &p->chname_of, id, c.name);
}

static int author_flags(prep *p, uint64_t id, uint32_t *f) {
  uintptr_t v = map_get_uint(&p->flags, id);
  if (v) {
    *f = (uint32_t)(v - 1);
    return 0;
  }
  int rc = store_user_flags(p->s, id, f);
  if (!rc) map_put_uint(&p->flags, id, (uintptr_t)*f + 1);
  return rc;
}

static void chan_clear(chan *c) {
  for (size_t i = 0; i < c->n; i++) mem_free(c->v[i].text);
  c->n = 0;
  map_free(&c->pos); /* a long channel's table is not kept for the short ones after it */
}

/* Special tokens of chat templates must not arrive through message text: "<|" becomes "< |". */
static char *defuse(const char *s, size_t n) {
  size_t extra = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (s[i] == '<' && s[i + 1] == '|') extra++;
  char *out = xalloc(n + extra + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    out[k++] = s[i];
    if (s[i] == '<' && i + 1 < n && s[i + 1] == '|') out[k++] = ' ';
  }
  out[k] = 0;
  return out;
}

/* Renders m's content into p->render, at most COLLECT_MESSAGE_MAX bytes: a longer message (content
 * or rendering) is cut on a character boundary, and counted with its id in pass 1. */
static int render_msg(prep *p, const store_msg *m) {
  const char *content = m->content;
  char *clip = NULL;
  size_t len = strlen(content);
  bool cut = false;
  if (len > COLLECT_MESSAGE_MAX) {
    size_t k = utf8_floor(content, len, COLLECT_MESSAGE_MAX);
    clip = xalloc(k + 1);
    memcpy(clip, content, k);
    clip[k] = 0;
    content = clip;
    cut = true;
  }
  int rc = collect_render(content, lookup_name, p, &p->render);
  mem_free(clip);
  if (rc) return err_prefix(rc, "message %llu", (unsigned long long)m->id);
  if (p->render.len > COLLECT_MESSAGE_MAX) {
    p->render.len = utf8_floor(p->render.data, p->render.len, COLLECT_MESSAGE_MAX);
    p->render.data[p->render.len] = 0;
    cut = true;
  }
  if (cut && !p->pass2) {
    collect_prepare_stats *st = p->st;
    if (st->n_cut < COLLECT_CUT_IDS) st->cut_ids[st->n_cut] = m->id;
    st->n_cut++;
  }
  return 0;
}

static int load_one(const store_msg *m, void *user) {
  prep *p = user;
  if (!p->pass2) p->st->seen++;
  uint32_t f;
  int rc = author_flags(p, m->author_id, &f);
  if (rc) return rc;
  int why = collect_filter(m, f, p->o->require_consent);
  if (why != COLLECT_KEEP) {
    if (!p->pass2) {
      if (why == COLLECT_DROP_BOT)
        p->st->drop_bot++;
      else if (why == COLLECT_DROP_PRIVACY)
        p->st->drop_privacy++;
      else if (why == COLLECT_DROP_SYSTEM)
        p->st->drop_system++;
      else
        p->st->drop_empty++;
    }
    return 0;
  }
  if ((rc = render_msg(p, m))) return rc;
  if (collect_is_link_only(p->render.data)) {
    if (!p->pass2) p->st->drop_empty++;
    return 0;
  }
  if (!p->pass2) p->st->kept++;
  chan *c = &p->ch;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 1024;
    c->v = xrealloc(c->v, c->cap * sizeof *c->v);
  }
  pmsg *x = &c->v[c->n];
  x->id = m->id;
  x->author = m->author_id;
  x->ref = m->ref_message_id;
  x->ts = m->ts_ms;
  x->reactions = m->reaction_total;
  x->name = intern(p, &p->name_of, m->author_id, m->author_shown);
  x->text = defuse(p->render.data, p->render.len);
  x->seg = c->n == 0 ? 0 : c->v[c->n - 1].seg + (m->ts_ms - c->v[c->n - 1].ts > p->o->gap_ms);
  map_put_uint(&c->pos, m->id, c->n + 1);
  c->n++;
  return 0;
}

static int load_channel(prep *p, uint64_t channel_id) {
  chan_clear(&p->ch);
  store_msg_query q = {.channel_id = channel_id};
  return store_msg_each(p->s, &q, load_one, p);
}

/* The context of target t: indices, oldest first, at most window_max - 1: the messages just before
 * it in its conversation, preceded by the reply chain when the message it answers is older. */
static size_t context_of(const prep *p, size_t t, size_t *out) {
  const chan *c = &p->ch;
  size_t k = p->o->window_max > 1 ? (size_t)p->o->window_max - 1 : 0;
  if (k > 64) k = 64;
  size_t recent = 0;
  while (recent < k && recent < t && c->v[t - 1 - recent].seg == c->v[t].seg) recent++;
  size_t anc[64], na = 0;
  uint64_t ref = c->v[t].ref;
  uintptr_t pi = ref ? map_get_uint(&c->pos, ref) : 0;
  if (pi && pi - 1 < t && pi - 1 < t - recent) {
    size_t limit = k / 2 ? k / 2 : 1;
    size_t i = pi - 1;
    for (;;) {
      anc[na++] = i;
      if (na == limit || !c->v[i].ref) break;
      uintptr_t pj = map_get_uint(&c->pos, c->v[i].ref);
      if (!pj || pj - 1 >= i) break;
      i = pj - 1;
    }
    if (recent > k - na) recent = k - na;
  }
  size_t n = 0;
  for (size_t a = na; a > 0; a--) out[n++] = anc[a - 1];
  for (size_t r = recent; r > 0; r--) out[n++] = t - r;
  return n;
}

/* ---- pass 1: targets
 * ------------------------------------------------------------------------------ */

static int pass1_channel(uint64_t channel_id, void *user) {
  prep *p = user;
  if (p->o->channel_id && channel_id != p->o->channel_id) return 0;
  int rc = load_channel(p, channel_id);
  if (rc) return rc;
  size_t ctx[64];
  for (size_t t = 0; t < p->ch.n; t++) {
    const pmsg *m = &p->ch.v[t];
    if (p->o->user_id && m->author != p->o->user_id) continue;
    if (context_of(p, t, ctx) < (size_t)(p->o->min_context > 0 ? p->o->min_context : 0)) continue;
    if (p->n_cands == p->cap_cands) {
      p->cap_cands = p->cap_cands ? p->cap_cands * 2 : 4096;
      p->cands = xrealloc(p->cands, p->cap_cands * sizeof *p->cands);
    }
    p->cands[p->n_cands++] = (cand){m->id, m->author, mix(m->id ^ p->o->seed), m->ts};
    p->st->candidates++;
  }
  return 0;
}

static int cmp_author_key(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->author != y->author) return x->author < y->author ? -1 : 1;
  return x->key < y->key ? -1 : x->key > y->key;
}

/* Targets in time order; messages sharing a timestamp in id order (ids grow with time). */
typedef struct when {
  int64_t ts;
  uint64_t id;
} when;

static int cmp_when(const void *a, const void *b) {
  const when *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Is the message (ts, id) at or after the validation cutoff? */
static bool is_valid(const prep *p, int64_t ts, uint64_t id) {
  const collect_prepare_stats *st = p->st;
  return ts > st->cutoff_ms || (ts == st->cutoff_ms && id >= st->cutoff_id);
}

/* Per-user cap (a random subset of a heavy poster's messages), then the time cutoff. */
static void select_targets(prep *p) {
  if (p->n_cands) qsort(p->cands, p->n_cands, sizeof *p->cands, cmp_author_key);
  when *ts = xcalloc(p->n_cands ? p->n_cands : 1, sizeof *ts);
  size_t n = 0, run = 0;
  for (size_t i = 0; i < p->n_cands; i++) {
    run = i > 0 && p->cands[i].author == p->cands[i - 1].author ? run + 1 : 0;
    if (p->o->per_user_cap > 0 && run >= (size_t)p->o->per_user_cap) {
      p->st->capped++;
      continue;
    }
    map_put_uint(&p->selected, p->cands[i].id, 1);
    ts[n++] = (when){p->cands[i].ts, p->cands[i].id};
  }
  if (n) qsort(ts, n, sizeof *ts, cmp_when);
  size_t n_valid = 0;
  if (p->o->valid_frac > 0 && n >= 2) {
    n_valid = (size_t)((double)n * p->o->valid_frac + 0.999999);
    if (n_valid >= n) n_valid = n - 1;
  }
  p->st->cutoff_ms = n_valid ? ts[n - n_valid].ts : INT64_MAX;
  p->st->cutoff_id = n_valid ? ts[n - n_valid].id : 0;
  mem_free(ts);
}

/* ---- pass 2: writing
 * ----------------------------------------------------------------------------- */

static json_t *turn(const char *role, const char *content) {
  json_t *t = json_object();
  json_t *c = json_string(content);
  if (!c) c = json_string("");
  json_object_set_new(t, "role", json_string(role));
  json_object_set_new(t, "content", c);
  return t;
}

/* "Name: text" lines of the context (and of `last` when it is not SIZE_MAX). */
static int transcript(prep *p, const size_t *ctx, size_t n, size_t last, buf *out) {
  buf_reset(out);
  if (buf_puts(out, "")) return MIMIC_ERANGE;
  for (size_t i = 0; i < n + (last != SIZE_MAX); i++) {
    const pmsg *m = &p->ch.v[i < n ? ctx[i] : last];
    if (buf_printf(out, "%s%s: %s", i ? "\n" : "", m->name, m->text))
      return err_set(MIMIC_ERANGE, "a sample longer than %zu bytes", out->limit);
  }
  return 0;
}

static int write_json_line(prep *p, outfile *f, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  if (!s) return err_set(MIMIC_ENOMEM, "%s: cannot serialise a sample", f->path);
  int bad = fputs(s, f->f) < 0 || fputc('\n', f->f) == EOF;
  free(s);
  if (bad) return err_set(MIMIC_EIO, "%s: write failed: %s", f->tmp, strerror(errno));
  (void)p;
  f->n++;
  return 0;
}

static int provenance(prep *p, outfile *f, const size_t *ctx, size_t n, int64_t sample) {
  for (size_t i = 0; i < n; i++) {
    int rc = store_dataset_msg_add(p->s, f->id, sample, p->ch.v[ctx[i]].id, STORE_ROLE_CONTEXT);
    if (rc) return rc;
  }
  return 0;
}

static int write_sft(prep *p, size_t t, const size_t *ctx, size_t n) {
  const pmsg *m = &p->ch.v[t];
  bool valid = is_valid(p, m->ts, m->id);
  outfile *chatml = &p->files[valid ? F_CHATML_V : F_CHATML_T];
  outfile *msgs = &p->files[valid ? F_MSGS_V : F_MSGS_T];
  int rc = transcript(p, ctx, n, SIZE_MAX, &p->line);
  if (rc) return rc;
  buf target;
  buf_init(&target, SAMPLE_MAX);
  buf text;
  buf_init(&text, 0);
  if (buf_printf(&target, "%s: %s", m->name, m->text)) {
    rc = err_set(MIMIC_ERANGE, "message %llu: sample too long", (unsigned long long)m->id);
    goto out;
  }
  chat_msg turns[] = {{"system", NULL, p->o->system_prompt},
                      {"user", NULL, p->line.data},
                      {"assistant", NULL, target.data}};
  if ((rc = chat_render(CHAT_CHATML, turns, 3, false, &text))) goto out;
  json_t *row = json_object();
  json_object_set_new(row, "text", json_string(text.data));
  int64_t sample = chatml->n;
  if ((rc = write_json_line(p, chatml, row)) || (rc = provenance(p, chatml, ctx, n, sample)) ||
      (rc = store_dataset_msg_add(p->s, chatml->id, sample, m->id, STORE_ROLE_TARGET)))
    goto out;
  json_t *arr = json_array();
  json_array_append_new(arr, turn("system", p->o->system_prompt));
  json_array_append_new(arr, turn("user", p->line.data));
  json_array_append_new(arr, turn("assistant", target.data));
  row = json_object();
  json_object_set_new(row, "messages", arr);
  sample = msgs->n;
  if ((rc = write_json_line(p, msgs, row)) || (rc = provenance(p, msgs, ctx, n, sample)) ||
      (rc = store_dataset_msg_add(p->s, msgs->id, sample, m->id, STORE_ROLE_TARGET)))
    goto out;
  if (valid)
    p->st->sft_valid++;
  else
    p->st->sft_train++;
  if (p->o->kto) {
    outfile *k = &p->files[valid ? F_KTO_V : F_KTO_T];
    json_t *prompt = json_array();
    json_array_append_new(prompt, turn("system", p->o->system_prompt));
    json_array_append_new(prompt, turn("user", p->line.data));
    json_t *comp = json_array();
    json_array_append_new(comp, turn("assistant", target.data));
    row = json_object();
    json_object_set_new(row, "prompt", prompt);
    json_object_set_new(row, "completion", comp);
    json_object_set_new(row, "label", json_boolean(m->reactions > 0));
    sample = k->n;
    if ((rc = write_json_line(p, k, row)) || (rc = provenance(p, k, ctx, n, sample)) ||
        (rc = store_dataset_msg_add(p->s, k->id, sample, m->id, STORE_ROLE_TARGET)))
      goto out;
    if (valid)
      p->st->kto_valid++;
    else
      p->st->kto_train++;
  }
out:
  buf_free(&target);
  buf_free(&text);
  return rc;
}

/* DPO pairs: for each message P, its responses are the messages replying to it and the message
 * right after it in the same conversation (when that one replies to nothing else). The most-reacted
 * response is chosen if it has any reaction; the least-reacted one with fewer reactions is
 * rejected, else a generic formal reply. */
static int write_dpo(prep *p) {
  chan *c = &p->ch;
  size_t n = c->n;
  if (n < 2) return 0;
  /* best[i] / worst[i]: indices of the most and least reacted responses to i (SIZE_MAX = none). */
  size_t *best = xalloc(n * sizeof *best), *worst = xalloc(n * sizeof *worst);
  for (size_t i = 0; i < n; i++) best[i] = worst[i] = SIZE_MAX;
  for (size_t i = 1; i < n; i++) {
    const pmsg *m = &c->v[i];
    size_t parent = SIZE_MAX;
    if (m->ref) {
      uintptr_t pi = map_get_uint(&c->pos, m->ref);
      if (pi && pi - 1 < i) parent = pi - 1;
    } else if (c->v[i - 1].seg == m->seg) {
      parent = i - 1;
    }
    if (parent == SIZE_MAX || c->v[parent].author == m->author) continue;
    if (p->o->user_id && m->author != p->o->user_id) continue;
    if (best[parent] == SIZE_MAX || m->reactions > c->v[best[parent]].reactions) best[parent] = i;
    if (worst[parent] == SIZE_MAX || m->reactions < c->v[worst[parent]].reactions)
      worst[parent] = i;
  }
  int rc = 0;
  size_t ctx[64];
  buf chosen, rejected;
  buf_init(&chosen, SAMPLE_MAX);
  buf_init(&rejected, SAMPLE_MAX);
  for (size_t i = 0; i < n && !rc; i++) {
    if (best[i] == SIZE_MAX || c->v[best[i]].reactions <= 0) continue;
    const pmsg *ch = &c->v[best[i]];
    const pmsg *rj =
        worst[i] != SIZE_MAX && c->v[worst[i]].reactions < ch->reactions ? &c->v[worst[i]] : NULL;
    size_t nc = context_of(p, i, ctx);
    if ((rc = transcript(p, ctx, nc, i, &p->line))) break;
    buf_reset(&chosen);
    buf_reset(&rejected);
    if (buf_printf(&chosen, "%s: %s", ch->name, ch->text) ||
        (rj ? buf_printf(&rejected, "%s: %s", rj->name, rj->text)
            : buf_printf(&rejected, "%s: %s", ch->name,
                         generic_replies[mix(ch->id) %
                                         (sizeof generic_replies / sizeof generic_replies[0])]))) {
      rc = err_set(MIMIC_ERANGE, "DPO sample too long");
      break;
    }
    bool valid = is_valid(p, ch->ts, ch->id);
    outfile *f = &p->files[valid ? F_DPO_V : F_DPO_T];
    json_t *prompt = json_array();
    json_array_append_new(prompt, turn("system", p->o->system_prompt));
    json_array_append_new(prompt, turn("user", p->line.data));
    json_t *cj = json_array(), *rjj = json_array();
    json_array_append_new(cj, turn("assistant", chosen.data));
    json_array_append_new(rjj, turn("assistant", rejected.data));
    json_t *row = json_object();
    json_object_set_new(row, "prompt", prompt);
    json_object_set_new(row, "chosen", cj);
    json_object_set_new(row, "rejected", rjj);
    int64_t sample = f->n;
    if ((rc = write_json_line(p, f, row)) || (rc = provenance(p, f, ctx, nc, sample)) ||
        (rc = store_dataset_msg_add(p->s, f->id, sample, c->v[i].id, STORE_ROLE_CONTEXT)) ||
        (rc = store_dataset_msg_add(p->s, f->id, sample, ch->id, STORE_ROLE_CHOSEN)) ||
        (rj && (rc = store_dataset_msg_add(p->s, f->id, sample, rj->id, STORE_ROLE_REJECTED))))
      break;
    if (valid)
      p->st->dpo_valid++;
    else
      p->st->dpo_train++;
    if (!rj) p->st->dpo_generic++;
  }
  buf_free(&chosen);
  buf_free(&rejected);
  mem_free(best);
  mem_free(worst);
  return rc;
}

static int pass2_channel(uint64_t channel_id, void *user) {
  prep *p = user;
  if (p->o->channel_id && channel_id != p->o->channel_id) return 0;
  int rc = load_channel(p, channel_id);
  if (rc) return rc;
  size_t ctx[64];
  for (size_t t = 0; t < p->ch.n && !rc; t++) {
    if (!map_get_uint(&p->selected, p->ch.v[t].id)) continue;
    size_t n = context_of(p, t, ctx);
    rc = write_sft(p, t, ctx, n);
  }
  if (!rc) rc = write_dpo(p);
  return rc;
}

/* ---- files
 * --------------------------------------------------------------------------------------- */

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot open: %s", dir, strerror(errno));
  int rc = fsync(fd) == 0 ? 0 : err_set(MIMIC_EIO, "%s: fsync: %s", dir, strerror(errno));
  close(fd);
  return rc;
}

static int close_file(outfile *f) {
  if (!f->f) return 0;
  int bad = fflush(f->f) != 0 || fsync(fileno(f->f)) != 0;
  bad |= fclose(f->f) != 0;
  f->f = NULL;
  return bad ? err_set(MIMIC_EIO, "%s: write failed: %s", f->tmp, strerror(errno)) : 0;
}

static int finish_rename(store *s, int64_t id, const char *tmp, const char *path) {
  if (access(tmp, F_OK) == 0 && rename(tmp, path) != 0)
    return err_set(MIMIC_EIO, "%s: cannot rename onto %s: %s", tmp, path, strerror(errno));
  return store_dataset_set_pending(s, id, NULL);
}

typedef struct pending {
  int64_t id;
  char *tmp, *path;
} pending;
typedef struct pending_list {
  pending *v;
  size_t n;
} pending_list;

static int collect_pending(const store_dataset *d, void *user) {
  pending_list *l = user;
  if (!d->pending_path) return 0;
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = (pending){d->id, xstrdup(d->pending_path), xstrdup(d->path)};
  return 0;
}

int collect_datasets_recover(store *s) {
  pending_list l = {0};
  int rc = store_dataset_each(s, collect_pending, &l);
  for (size_t i = 0; i < l.n; i++) {
    if (!rc) {
      LOG_W("prepare", "finishing an interrupted write of %s", l.v[i].path);
      rc = finish_rename(s, l.v[i].id, l.v[i].tmp, l.v[i].path);
    }
    mem_free(l.v[i].tmp);
    mem_free(l.v[i].path);
  }
  mem_free(l.v);
  return rc;
}

static int write_manifest(prep *p) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/manifest.json", p->o->out_dir);
  snprintf(tmp, sizeof tmp, "%s/.manifest.json.tmp.%d", p->o->out_dir, (int)getpid());
  const collect_prepare_stats *st = p->st;
  json_t *m = json_pack(
      "{s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I, s:I}, "
      "s:{s:I, s:I}, s:I, s:{s:I, s:i, s:i, s:i, s:f, s:I, s:I, s:b, s:b, s:I}}",
      "created_ms", (json_int_t)clock_wall_ms(), "messages", "seen", (json_int_t)st->seen, "kept",
      (json_int_t)st->kept, "dropped_bot", (json_int_t)st->drop_bot, "dropped_privacy",
      (json_int_t)st->drop_privacy, "dropped_system", (json_int_t)st->drop_system, "dropped_empty",
      (json_int_t)st->drop_empty, "targets", "candidates", (json_int_t)st->candidates, "capped",
      (json_int_t)st->capped, "sft", "train", (json_int_t)st->sft_train, "valid",
      (json_int_t)st->sft_valid, "dpo", "train", (json_int_t)st->dpo_train, "valid",
      (json_int_t)st->dpo_valid, "generic_rejected", (json_int_t)st->dpo_generic, "kto", "train",
      (json_int_t)st->kto_train, "valid", (json_int_t)st->kto_valid, "valid_cutoff_ms",
      (json_int_t)(st->cutoff_ms == INT64_MAX ? 0 : st->cutoff_ms), "options", "gap_ms",
      (json_int_t)p->o->gap_ms, "window_max", p->o->window_max, "min_context", p->o->min_context,
      "per_user_cap", p->o->per_user_cap, "valid_frac", p->o->valid_frac, "user_id",
      (json_int_t)p->o->user_id, "channel_id", (json_int_t)p->o->channel_id, "kto", p->o->kto,
      "require_consent", p->o->require_consent, "seed", (json_int_t)p->o->seed);
  if (!m) return err_set(MIMIC_ENOMEM, "manifest: cannot build");
  json_t *cut = json_array();
  for (int64_t i = 0; i < st->n_cut && i < COLLECT_CUT_IDS; i++)
    json_array_append_new(cut, json_integer((json_int_t)st->cut_ids[i]));
  json_object_set_new(json_object_get(m, "messages"), "cut_long", json_integer(st->n_cut));
  json_object_set_new(json_object_get(m, "messages"), "cut_long_ids", cut);
  int rc =
      json_dump_file(m, tmp, JSON_INDENT(2)) == 0 ? 0 : err_set(MIMIC_EIO, "%s: cannot write", tmp);
  json_decref(m);
  if (!rc && rename(tmp, path) != 0)
    rc = err_set(MIMIC_EIO, "%s: cannot rename: %s", path, strerror(errno));
  if (rc) unlink(tmp);
  return rc;
}

int collect_prepare(store *s, const collect_prepare_opts *opts, collect_prepare_stats *st) {
  collect_prepare_stats local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  collect_prepare_opts resolved = *opts;
  const collect_prepare_opts *o = &resolved;
  char default_dir[4096];
  if (!resolved.out_dir) {
    snprintf(default_dir, sizeof default_dir, "%s/exports", cfg_key_default(CFG_DATA_DIR));
    resolved.out_dir = default_dir;
  }
  prep p = {.s = s, .o = o, .st = st};
  map_init(&p.flags);
  map_init(&p.name_of);
  map_init(&p.chname_of);
  map_init(&p.selected);
  map_init(&p.ch.pos);
  buf_init(&p.render, RENDER_CAP);
  buf_init(&p.line, SAMPLE_MAX * 64);
  static const char *const kinds[F_COUNT] = {
      "sft-chatml", "sft-chatml", "sft-messages", "sft-messages", "dpo", "dpo", "kto", "kto"};
  int n_files = o->kto ? F_COUNT : F_KTO_T;
  bool in_tx = false;
  int rc;
  if ((rc = check_opts(o))) goto out;
  if ((rc = collect_datasets_recover(s)) || (rc = fs_mkdirs(o->out_dir))) goto out;
  /* Pass 1: targets, cap, cutoff. */
  if ((rc = store_channel_each(s, pass1_channel, &p))) goto out;
  select_targets(&p);
  if (st->n_cut) {
    char ids[COLLECT_CUT_IDS * 21 + 8];
    size_t k = 0;
    for (int64_t i = 0; i < st->n_cut && i < COLLECT_CUT_IDS && k < sizeof ids; i++)
      k += (size_t)snprintf(ids + k, sizeof ids - k, "%s%llu", i ? ", " : "",
                            (unsigned long long)st->cut_ids[i]);
    LOG_W("prepare", "%lld message%s longer than %u bytes cut to that length (%s%s)",
          (long long)st->n_cut, st->n_cut == 1 ? "" : "s", COLLECT_MESSAGE_MAX, ids,
          st->n_cut > COLLECT_CUT_IDS ? ", ..." : "");
  }
  /* Pass 2 in one transaction: registration, provenance, pending renames. */
  for (int i = 0; i < n_files; i++) {
    outfile *f = &p.files[i];
    f->kind = kinds[i];
    f->split = i % 2 ? "valid" : "train";
    snprintf(f->path, sizeof f->path, "%s/%s.%s.jsonl", o->out_dir, f->kind, f->split);
    snprintf(f->tmp, sizeof f->tmp, "%s/.%s.%s.jsonl.tmp.%d", o->out_dir, f->kind, f->split,
             (int)getpid());
    if (!(f->f = fopen(f->tmp, "wb"))) {
      rc = err_set(MIMIC_EIO, "%s: cannot create: %s", f->tmp, strerror(errno));
      goto out;
    }
  }
  if ((rc = store_tx_begin(s))) goto out;
  in_tx = true;
  for (int i = 0; i < n_files; i++) {
    outfile *f = &p.files[i];
    if ((rc = store_dataset_add(s, f->path, f->kind, f->split, 0, "{}", &f->id)) ||
        (rc = store_dataset_set_pending(s, f->id, f->tmp)))
      goto out;
  }
  p.pass2 = true;
  if ((rc = store_channel_each(s, pass2_channel, &p))) goto out;
  for (int i = 0; i < n_files; i++) {
    if ((rc = close_file(&p.files[i])) ||
        (rc = store_dataset_set_samples(s, p.files[i].id, p.files[i].n)))
      goto out;
  }
  if ((rc = store_tx_commit(s))) {
    in_tx = false;
    goto out;
  }
  in_tx = false;
  /* The files are complete and registered; put them in place. */
  if ((rc = store_tx_begin(s))) goto out;
  for (int i = 0; i < n_files && !rc; i++)
    rc = finish_rename(s, p.files[i].id, p.files[i].tmp, p.files[i].path);
  if (!rc) rc = fsync_dir(o->out_dir);
  if (rc) {
    store_tx_rollback(s);
    goto out;
  }
  if ((rc = store_tx_commit(s))) goto out;
  st->files = n_files;
  rc = write_manifest(&p);
out:
  if (in_tx) store_tx_rollback(s);
  for (int i = 0; i < F_COUNT; i++) {
    if (p.files[i].f) fclose(p.files[i].f);
    if (rc && p.files[i].tmp[0]) unlink(p.files[i].tmp);
  }
  chan_clear(&p.ch);
  mem_free(p.ch.v);
  map_free(&p.ch.pos);
  for (size_t i = 0; i < p.n_names; i++) mem_free(p.names[i]);
  mem_free(p.names);
  mem_free(p.cands);
  map_free(&p.flags);
  map_free(&p.name_of);
  map_free(&p.chname_of);
  map_free(&p.selected);
  buf_free(&p.render);
  buf_free(&p.line);
  return rc;
}
