/* What the bot remembers of a channel, and who speaks there: messages rendered as the model sees
 * them (mentions as names, attachments named), the refill of a channel's memory from the store
 * after a restart or an expiry, and the test of whether a name is a speaker's. The memory itself
 * is memory.c; this file fills it and reads it for the rest of the bot. */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_RECALL
#include "bot/bot_int.h"
#include "collect/collect.h"
#include "store/webhooks.h"
#include "store/media.h"

typedef struct name_ctx {
  bot *b;
  store_user u;
  store_channel c;
} name_ctx;

static const char *lookup_name(char kind, uint64_t id, void *user) {
  name_ctx *n = user;
  if (kind == 'u') {
    if (id == n->b->self_id && n->b->self_name[0]) return n->b->self_name;
    if (store_user_get(n->b->db, id, &n->u) == 0) return store_user_shown(&n->u);
  } else if (kind == 'c') {
    if (store_channel_get(n->b->db, id, &n->c) == 0 && n->c.name[0]) return n->c.name;
  }
  err_clear();
  return NULL;
}

char *recall__render(bot *b, const char *content, const discord_message *m) {
  buf out;
  buf_init(&out, MEMORY_TEXT_MAX * 2);
  name_ctx nc = {.b = b};
  /* Memory keeps 8 KiB of a message: render no more than that (a cut mention is copied as is). */
  char *cut = NULL;
  size_t cl = content ? strlen(content) : 0;
  if (cl > MEMORY_TEXT_MAX) {
    size_t k = MEMORY_TEXT_MAX;
    while (k > 0 && ((unsigned char)content[k] & 0xC0) == 0x80) k--;
    cut = mem_strndup(content, k);
    if (cut) content = cut;
  }
  if (collect_render(content ? content : "", lookup_name, &nc, &out)) {
    err_clear();
    buf_reset(&out);
    if (buf_puts(&out, content ? content : "")) err_clear();
  }
  if (m) {
    for (size_t i = 0; i < m->n_attachments && i < 4; i++) {
      /* An image the bot has looked at before (vision.c) is shown as what it saw. */
      store_media sm;
      if (m->attachments[i].id && store_media_get(b->db, m->attachments[i].id, &sm) == 0) {
        recall__put_image(&out, sm.description);
        continue;
      }
      err_clear();
      if (buf_printf(&out, "%s[attachment: %s]", out.len ? " " : "", m->attachments[i].filename))
        err_clear();
    }
  }
  mem_free(cut);
  return buf_steal(&out);
}

static int put_stored(const store_media *sm, void *user);

/* A stored message as memory holds it: rendered, with what the bot saw in its images (an indexed
 * lookup; none for most messages). Caller frees. */
static char *stored_text(bot *b, const store_msg *m) {
  char *text = recall__render(b, m->content, NULL);
  buf t;
  buf_init(&t, MEMORY_TEXT_MAX * 2);
  if (buf_puts(&t, text) || store_media_of_message(b->db, m->id, 4, put_stored, &t)) err_clear();
  mem_free(text);
  text = buf_steal(&t);
  return text ? text : xstrdup("");
}

/* The persona that posted a stored message (0: none), and its name. */
static int64_t posted_by(bot *b, uint64_t message_id, const char **name) {
  int64_t pid = 0;
  if (store_persona_msg_get(b->db, message_id, &pid) != 0) {
    err_clear();
    return 0;
  }
  for (size_t i = 0; i < b->n_cast; i++)
    if (b->cast[i].p.id == pid) *name = b->cast[i].p.name;
  return pid;
}

/* So a persona remembers what was said just before it spoke (or came back). */
void recall__refill_as(bot *b, uint64_t channel_id, uint64_t before_id, const char *memkey,
                       int64_t persona_id, const char *persona_name) {
  if (memory_known(b->mem, channel_id, memkey)) return;
  memory_mark_known(b->mem, channel_id, memkey);
  store_msg_list l = {0};
  size_t want = (size_t)(b->context_messages > 10 ? b->context_messages : 10);
  if (store_msg_recent(b->db, channel_id, before_id, want, &l)) {
    LOG_W("bot", "channel %" PRIu64 ": could not read recent messages: %s", channel_id, err_msg());
    err_clear();
    return;
  }
  const bot_chan *c = map_get(&b->chans, channel_id);
  int64_t ttl = cfg_int(b->cfg, CFG_BOT_MEMORY_TTL_S) * 1000, now = bot__now(b);
  for (size_t i = 0; i < l.n; i++) {
    const store_msg *m = &l.items[i];
    if (ttl > 0 && now - m->ts_ms >= ttl) continue;
    if (c && m->id <= c->cleared_after) continue;
    if (map_get(&b->ignored, m->author_id)) continue;
    const char *name = m->author_shown;
    int64_t by = (m->webhook_id || m->author_id == b->self_id) ? posted_by(b, m->id, &name) : 0;
    if (!by && m->author_id == b->self_id) name = b->self_name;
    bool self = by == persona_id;
    char *text = stored_text(b, m);
    memory_add(b->mem, channel_id, memkey, m->id, m->author_id, m->ts_ms, self,
               self ? persona_name : name, text);
    mem_free(text);
  }
  store_msg_list_free(&l);
}

void recall__put_image(buf *out, const char *desc) {
  size_t n = strlen(desc);
  if (n > RECALL_IMAGE_TEXT_MAX) n = utf8_floor(desc, n, RECALL_IMAGE_TEXT_MAX);
  while (n > 0 && (desc[n - 1] == ' ' || desc[n - 1] == '\n')) n--;
  size_t i = 0;
  while (i < n && (desc[i] == ' ' || desc[i] == '\n')) i++;
  if (buf_printf(out, "%s[image: ", out->len ? " " : "")) err_clear();
  for (; i < n; i++) {
    char ch = desc[i];
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    if (ch == ']') ch = ')';
    if (buf_putc(out, ch)) err_clear();
  }
  if (buf_putc(out, ']')) err_clear();
}

/* Appends what the bot saw in a stored message's images. */
static int put_stored(const store_media *sm, void *user) {
  recall__put_image(user, sm->description);
  return 0;
}

/* So the bot remembers what was said just before it came back. */
void recall__refill(bot *b, uint64_t channel_id, uint64_t before_id) {
  if (memory_known(b->mem, channel_id, b->persona)) return;
  memory_mark_known(b->mem, channel_id, b->persona);
  store_msg_list l = {0};
  size_t want = (size_t)(b->context_messages > 10 ? b->context_messages : 10);
  if (store_msg_recent(b->db, channel_id, before_id, want, &l)) {
    LOG_W("bot", "channel %" PRIu64 ": could not read recent messages: %s", channel_id, err_msg());
    err_clear();
    return;
  }
  const bot_chan *c = map_get(&b->chans, channel_id);
  int64_t ttl = cfg_int(b->cfg, CFG_BOT_MEMORY_TTL_S) * 1000, now = bot__now(b);
  for (size_t i = 0; i < l.n; i++) {
    const store_msg *m = &l.items[i];
    if (ttl > 0 && now - m->ts_ms >= ttl) continue;
    if (map_get(&b->ignored, m->author_id)) continue;
    if (c && m->id <= c->cleared_after) continue;
    const char *name = m->author_shown;
    int64_t by = (m->webhook_id || m->author_id == b->self_id) ? posted_by(b, m->id, &name) : 0;
    bool self = m->author_id == b->self_id && !by;
    char *text = stored_text(b, m);
    memory_add(b->mem, channel_id, b->persona, m->id, m->author_id, m->ts_ms, self,
               self ? b->self_name : name, text);
    mem_free(text);
  }
  store_msg_list_free(&l);
}

/* The channel's memory first (no database work, and it holds the speakers of the prompt), then
 * the store, which knows every member a training set was made from. */
bool recall__is_speaker(const char *name, size_t len, void *user) {
  const recall_speakers *rs = user;
  bot *b = rs->b;
  if (len == 0 || len >= STORE_NAME_MAX) return false;
  char want[STORE_NAME_MAX];
  memcpy(want, name, len);
  want[len] = 0;
  const memory_entry *hist[MEMORY_MSGS_MAX];
  size_t n = memory_get(b->mem, rs->channel_id, b->persona, bot__now(b), 0, hist, MEMORY_MSGS_MAX);
  for (size_t i = 0; i < n; i++)
    if (hist[i]->name && strcasecmp(hist[i]->name, want) == 0) return true;
  bool found = false;
  if (store_user_named(b->db, want, &found)) {
    LOG_W("bot", "looking up a speaker name: %s", err_msg());
    err_clear();
    return false;
  }
  return found;
}
