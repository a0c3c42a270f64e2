/* The bot's vision path (bot/vision.h): picks a message's images, checks the switches and caps on
 * the bot thread, fetches, decodes and describes them on one worker thread, and on the bot thread
 * again puts the descriptions into the message's remembered text ("[image: ...]"), caches them in
 * the store (store/media.h) and releases the reply that waited for them. Not here: the CDN rules
 * (discord/cdn.c), the decoders (vision/image.c) or the model (the runtime's describe callback). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_VISION
#include "bot/bot_int.h"
#include "bot/vision.h"
#include "store/media.h"

#define VIS_PARTS_MAX 10 /* attachments and embed pictures looked at per message */

/* One attachment or embed picture of a message. */
typedef struct vis_part {
  bool image;     /* fetched and described (else only named) */
  bool embed;     /* an embed's picture: named by nothing when it fails (the link is in the text) */
  uint64_t key;   /* attachment id, or a hash of the embed picture's URL */
  char *name;     /* file name ("" for embeds) */
  char *url;      /* what is fetched */
  char *desc;     /* the description, once there */
  char *data_url; /* vision.openai_images: the image itself, for the server */
  char *error;    /* why there is none (logged once) */
  bool logged;    /* the error was logged on the bot thread already */
} vis_part;

typedef struct vis_req {
  uint64_t channel_id, message_id;
  char *content;
  vis_part parts[VIS_PARTS_MAX];
  size_t n_parts;
  /* a snapshot of the settings, so the worker never reads the config */
  char *allowed, *prompt;
  discord_cdn_opts cdn;
  vis_limits lim;
  bool as_url; /* send the images to the server (vision.openai_images) instead of describing */
  struct vis_req *next;
} vis_req;

struct bot_vis {
  bot_vision cb;
  char *model;
  void (*wake)(void *);
  void *wake_user;
  int64_t idle_ms;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  vis_req *todo_head, *todo_tail, *done_head, *done_tail;
  bool stop;
  atomic_bool stopping; /* read by the worker between pictures without the lock */
};

static void req_free(vis_req *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_parts; i++) {
    mem_free(r->parts[i].name);
    mem_free(r->parts[i].url);
    mem_free(r->parts[i].desc);
    mem_free(r->parts[i].data_url);
    mem_free(r->parts[i].error);
  }
  mem_free(r->content);
  mem_free(r->allowed);
  mem_free(r->prompt);
  mem_free(r);
}

/* ---- the worker ---- */

/* Whether a served Content-Type may be an image (the bytes decide which; a CDN may say nothing
 * specific, but an HTML error page or JSON is not a picture). */
static bool type_may_be_image(const char *ct) {
  return !ct[0] || strncmp(ct, "image/", 6) == 0 || strcmp(ct, "application/octet-stream") == 0 ||
         strcmp(ct, "binary/octet-stream") == 0;
}

/* "data:image/png;base64,..." of the file's bytes, or NULL on out-of-memory. */
static char *data_url(const char *mime, const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t head = strlen(mime) + 13, len = head + (n + 2) / 3 * 4 + 1;
  char *s = mem_alloc(len);
  if (!s) return NULL;
  snprintf(s, len, "data:%s;base64,", mime);
  char *o = s + strlen(s);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    *o++ = tab[(v >> 18) & 63];
    *o++ = tab[(v >> 12) & 63];
    *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? tab[v & 63] : '=';
  }
  *o = 0;
  return s;
}

/* Fetch, decode, describe one picture; sets p->desc or p->error. With as_url the decoded image
 * is only the proof that the bytes are a sound image within the caps: the bytes themselves go to
 * the server. */
static void describe_part(struct bot_vis *v, const vis_req *r, vis_part *p) {
  discord_cdn_file f = {0};
  vis_image img = {0};
  char *desc = NULL;
  discord_cdn_opts cdn = r->cdn;
  cdn.cancel = &v->stopping; /* a stopping bot is not held by a slow download */
  int rc = discord_cdn_url_check(p->url, r->allowed);
  if (!rc)
    rc = v->cb.fetch ? v->cb.fetch(v->cb.user, &cdn, p->url, &f)
                     : discord_cdn_fetch(&cdn, p->url, &f);
  if (!rc && !type_may_be_image(f.content_type))
    rc = err_set(MIMIC_EUNSUPPORTED, "the CDN served it as %s, not an image", f.content_type);
  if (!rc) rc = vis_image_decode(f.data, f.n, &r->lim, &img);
  if (!rc && r->as_url) {
    const char *mime = vis_format_mime(vis_image_sniff(f.data, f.n));
    p->data_url = data_url(mime, (const uint8_t *)f.data, f.n);
    if (!p->data_url) rc = err_set(MIMIC_ENOMEM, "out of memory encoding the image");
    discord_cdn_file_free(&f);
    vis_image_free(&img);
    if (!rc) return;
  }
  discord_cdn_file_free(&f);
  if (!rc && !v->cb.describe)
    rc = err_set(MIMIC_EUNSUPPORTED, "no vision model is configured (vision.model, vision.mmproj)");
  if (!rc) rc = v->cb.describe(v->cb.user, &img, r->prompt, &desc);
  vis_image_free(&img);
  if (!rc && (!desc || !desc[0])) rc = err_set(MIMIC_EFORMAT, "the vision model said nothing");
  if (rc) {
    mem_free(desc);
    p->error = xstrdup(err_msg());
    err_clear();
    return;
  }
  p->desc = desc;
}

static void *worker(void *arg) {
  struct bot_vis *v = arg;
  bool used = false; /* an image since the last idle call */
  pthread_mutex_lock(&v->mu);
  while (!v->stop) {
    vis_req *r = v->todo_head;
    if (!r) {
      if (used && v->idle_ms > 0 && v->cb.idle) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (v->idle_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(v->idle_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        int w = pthread_cond_timedwait(&v->cv, &v->mu, &ts);
        if (w != 0 && !v->todo_head && !v->stop) {
          used = false;
          pthread_mutex_unlock(&v->mu);
          v->cb.idle(v->cb.user);
          pthread_mutex_lock(&v->mu);
        }
      } else {
        pthread_cond_wait(&v->cv, &v->mu);
      }
      continue;
    }
    v->todo_head = r->next;
    if (!v->todo_head) v->todo_tail = NULL;
    r->next = NULL;
    pthread_mutex_unlock(&v->mu);
    for (size_t i = 0; i < r->n_parts && !atomic_load(&v->stopping); i++) {
      vis_part *p = &r->parts[i];
      if (p->image && !p->desc && !p->error && !p->data_url) describe_part(v, r, p);
    }
    used = true;
    pthread_mutex_lock(&v->mu);
    if (v->done_tail)
      v->done_tail->next = r;
    else
      v->done_head = r;
    v->done_tail = r;
    if (v->wake) v->wake(v->wake_user);
  }
  pthread_mutex_unlock(&v->mu);
  return NULL;
}

/* Images go to the server as they are: an OpenAI-compatible backend with a vision model. */
static bool openai_images(const bot *b) {
  return cfg_bool(b->cfg, CFG_VISION_OPENAI_IMAGES) &&
         strcmp(cfg_str(b->cfg, CFG_ENGINE_BACKEND), "openai") == 0;
}

int vision__start(bot *b, const bot_vision *cb) {
  if (!cb || (!cb->describe && !openai_images(b))) return 0;
  struct bot_vis *v = xcalloc(1, sizeof *v);
  v->cb = *cb;
  v->model = xstrdup(cb->model_name && cb->model_name[0] ? cb->model_name : "vision");
  v->cb.model_name = v->model;
  v->wake = b->wake;
  v->wake_user = b->wake_user;
  v->idle_ms = cfg_int(b->cfg, CFG_VISION_IDLE_UNLOAD_S) * 1000;
  pthread_mutex_init(&v->mu, NULL);
  pthread_cond_init(&v->cv, NULL);
  if (pthread_create(&v->th, NULL, worker, v) != 0) {
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    mem_free(v->model);
    mem_free(v);
    return err_set(MIMIC_ENOMEM, "could not start the vision worker thread");
  }
  b->vis = v;
  return 0;
}

void vision__stop(bot *b) {
  struct bot_vis *v = b->vis;
  if (!v) return;
  /* A description in progress is cancelled, not waited for: a stopping bot (SIGTERM, the
   * dashboard's stop with its timeout) must not be held by a long encode. */
  atomic_store(&v->stopping, true);
  if (v->cb.cancel) v->cb.cancel(v->cb.user);
  pthread_mutex_lock(&v->mu);
  v->stop = true;
  pthread_cond_broadcast(&v->cv);
  pthread_mutex_unlock(&v->mu);
  pthread_join(v->th, NULL);
  for (vis_req *r = v->todo_head, *n; r; r = n) {
    n = r->next;
    req_free(r);
  }
  for (vis_req *r = v->done_head, *n; r; r = n) {
    n = r->next;
    req_free(r);
  }
  pthread_mutex_destroy(&v->mu);
  pthread_cond_destroy(&v->cv);
  mem_free(v->model);
  mem_free(v);
  b->vis = NULL;
}

/* ---- on the bot thread ---- */

/* A layered switch: the channel's store setting, then its thread parent's, then the guild's, then
 * the config. Values as the config's booleans (true/false, on/off, yes/no, 1/0). */
static int setting_bool(bot *b, const char *scope, bool *out) {
  buf v;
  buf_init(&v, 64);
  int rc = store_setting_get(b->db, scope, "vision.enabled", &v);
  if (rc) {
    buf_free(&v);
    err_clear();
    return rc;
  }
  const char *s = v.data ? v.data : "";
  if (!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
    *out = true;
  else if (!strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcasecmp(s, "no") ||
           !strcmp(s, "0"))
    *out = false;
  else
    rc = MIMIC_EINVAL;
  buf_free(&v);
  return rc;
}

bool vision__enabled(bot *b, const discord_message *m) {
  char scope[48];
  bool on;
  snprintf(scope, sizeof scope, "channel:%" PRIu64, m->channel_id);
  if (setting_bool(b, scope, &on) == 0) return on;
  bot_chan *c = map_get(&b->chans, m->channel_id);
  if (c && c->parent_id) {
    snprintf(scope, sizeof scope, "channel:%" PRIu64, c->parent_id);
    if (setting_bool(b, scope, &on) == 0) return on;
  }
  if (m->guild_id) {
    snprintf(scope, sizeof scope, "guild:%" PRIu64, m->guild_id);
    if (setting_bool(b, scope, &on) == 0) return on;
  }
  return cfg_bool(b->cfg, CFG_VISION_ENABLED);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* An attachment mimic can decode, by its declared type or, without one, its name. */
static bool attachment_is_image(const discord_attachment *a) {
  const char *ct = a->content_type;
  if (ct[0]) {
    return strncasecmp(ct, "image/png", 9) == 0 || strncasecmp(ct, "image/jpeg", 10) == 0 ||
           strncasecmp(ct, "image/webp", 10) == 0 || strncasecmp(ct, "image/gif", 9) == 0;
  }
  const char *f = a->filename;
  return ends_with(f, ".png") || ends_with(f, ".jpg") || ends_with(f, ".jpeg") ||
         ends_with(f, ".webp") || ends_with(f, ".gif");
}

/* The message's text with each picture described or named. Caller frees. */
static char *compose(bot *b, const vis_req *r) {
  char *base = recall__render(b, r->content, NULL);
  buf out;
  buf_init(&out, MEMORY_TEXT_MAX * 2);
  if (buf_puts(&out, base)) err_clear();
  mem_free(base);
  for (size_t i = 0; i < r->n_parts; i++) {
    const vis_part *p = &r->parts[i];
    const char *sep = out.len ? " " : "";
    if (p->desc) {
      recall__put_image(&out, p->desc);
    } else if (p->data_url) {
      if (buf_printf(&out, "%s[image attached%s%s]", sep, p->name[0] ? ": " : "", p->name))
        err_clear();
    } else if (!p->embed) {
      if (buf_printf(&out, "%s[attachment: %s]", sep, p->name)) err_clear();
    }
  }
  char *s = buf_steal(&out);
  return s ? s : xstrdup("");
}

static void log_part(const vis_req *r, vis_part *p) {
  if (p->logged || !p->error) return;
  p->logged = true;
  LOG_W("bot", "message %" PRIu64 ": image %s not described (the message is answered as text): %s",
        r->message_id, p->name[0] ? p->name : "(embed)", p->error);
}

static void add_part(vis_req *r, bool image, bool embed, uint64_t key, const char *name,
                     const char *url) {
  if (r->n_parts >= VIS_PARTS_MAX) return;
  vis_part *p = &r->parts[r->n_parts++];
  p->image = image;
  p->embed = embed;
  p->key = key;
  p->name = xstrdup(name ? name : "");
  p->url = xstrdup(url ? url : "");
}

/* Settles what can be settled now: a cached description, or a refusal from the declared size. */
static void settle(bot *b, vis_req *r, vis_part *p, uint64_t bytes, int w, int h) {
  store_media sm;
  if (!r->as_url && store_media_get(b->db, p->key, &sm) == 0) {
    p->desc = xstrdup(sm.description);
    return;
  }
  err_clear();
  if (bytes > r->cdn.max_bytes) {
    char e[160];
    snprintf(e, sizeof e, "it is %" PRIu64 " bytes, over vision.max_bytes (%zu)", bytes,
             r->cdn.max_bytes);
    p->error = xstrdup(e);
  } else if (w > r->lim.max_width || h > r->lim.max_height ||
             (uint64_t)w * (uint64_t)h > r->lim.max_pixels) {
    char e[160];
    snprintf(e, sizeof e,
             "it is %d x %d pixels, over the vision caps (vision.max_side, "
             "vision.max_pixels)",
             w, h);
    p->error = xstrdup(e);
  }
}

bool vision__begin(bot *b, const discord_message *m, char **text) {
  if (!b->vis) return false;
  int64_t max_images = cfg_int(b->cfg, CFG_VISION_MAX_IMAGES);
  if (max_images <= 0) return false;
  size_t n_img = 0;
  for (size_t i = 0; i < m->n_attachments; i++)
    if (attachment_is_image(&m->attachments[i])) n_img++;
  for (size_t i = 0; i < m->n_embeds; i++)
    if (m->embeds[i].image.proxy_url[0] || m->embeds[i].thumbnail.proxy_url[0]) n_img++;
  if (n_img == 0 || !vision__enabled(b, m)) return false;

  vis_req *r = xcalloc(1, sizeof *r);
  r->channel_id = m->channel_id;
  r->message_id = m->id;
  r->content = xstrdup(m->content);
  r->allowed = xstrdup(cfg_str(b->cfg, CFG_VISION_ALLOWED_HOSTS));
  r->prompt = xstrdup(cfg_str(b->cfg, CFG_VISION_PROMPT));
  r->cdn = (discord_cdn_opts){.allowed_hosts = r->allowed,
                              .max_bytes = (size_t)cfg_int(b->cfg, CFG_VISION_MAX_BYTES)};
  r->lim = (vis_limits){.max_bytes = r->cdn.max_bytes,
                        .max_width = (int)cfg_int(b->cfg, CFG_VISION_MAX_SIDE),
                        .max_height = (int)cfg_int(b->cfg, CFG_VISION_MAX_SIDE),
                        .max_pixels = (uint64_t)cfg_int(b->cfg, CFG_VISION_MAX_PIXELS)};
  r->as_url = openai_images(b);
  int64_t taken = 0;
  for (size_t i = 0; i < m->n_attachments && r->n_parts < VIS_PARTS_MAX; i++) {
    const discord_attachment *a = &m->attachments[i];
    bool img = attachment_is_image(a) && taken < max_images;
    if (img) taken++;
    add_part(r, img, false, a->id, a->filename, a->url[0] ? a->url : a->proxy_url);
    if (img) settle(b, r, &r->parts[r->n_parts - 1], a->size, a->width, a->height);
  }
  for (size_t i = 0; i < m->n_embeds && r->n_parts < VIS_PARTS_MAX && taken < max_images; i++) {
    const discord_embed *e = &m->embeds[i];
    const discord_embed_media *pic = e->image.proxy_url[0] ? &e->image : &e->thumbnail;
    if (!pic->proxy_url[0]) continue;
    /* The cache key of a picture without an id: its proxy URL up to the signed query. */
    const char *q = strchr(pic->proxy_url, '?');
    size_t kl = q ? (size_t)(q - pic->proxy_url) : strlen(pic->proxy_url);
    uint64_t key = hash_fnv64(pic->proxy_url, kl) | (1ull << 63); /* never a snowflake */
    taken++;
    add_part(r, true, true, key, "", pic->proxy_url);
    settle(b, r, &r->parts[r->n_parts - 1], 0, pic->width, pic->height);
  }
  bool pending = false;
  for (size_t i = 0; i < r->n_parts; i++) {
    vis_part *p = &r->parts[i];
    if (p->image && !p->desc && !p->error && !p->data_url) pending = true;
    log_part(r, p);
  }
  if (!pending) {
    mem_free(*text);
    *text = compose(b, r);
    req_free(r);
    return false;
  }
  struct bot_vis *v = b->vis;
  pthread_mutex_lock(&v->mu);
  if (v->todo_tail)
    v->todo_tail->next = r;
  else
    v->todo_head = r;
  v->todo_tail = r;
  pthread_cond_signal(&v->cv);
  pthread_mutex_unlock(&v->mu);
  return true;
}

int vision__poll(bot *b) {
  struct bot_vis *v = b->vis;
  if (!v) return 0;
  pthread_mutex_lock(&v->mu);
  vis_req *r = v->done_head;
  v->done_head = v->done_tail = NULL;
  pthread_mutex_unlock(&v->mu);
  int n = 0;
  for (vis_req *next; r; r = next) {
    next = r->next;
    for (size_t i = 0; i < r->n_parts; i++) {
      vis_part *p = &r->parts[i];
      log_part(r, p);
      if (!p->desc || !p->image) continue;
      store_media sm = {.attachment_id = p->key, .message_id = r->message_id};
      str_lcpy(sm.url, p->url, sizeof sm.url);
      str_lcpy(sm.description, p->desc, sizeof sm.description);
      str_lcpy(sm.model, v->model, sizeof sm.model);
      sm.created_ms = bot__now(b);
      if (store_media_put(b->db, &sm)) {
        LOG_W("bot", "message %" PRIu64 ": image description not stored: %s", r->message_id,
              err_msg());
        err_clear();
      }
    }
    char *text = compose(b, r);
    memory_edit(b->mem, r->channel_id, r->message_id, text);
    mem_free(text);
    char **urls = NULL;
    size_t n_urls = 0;
    for (size_t i = 0; i < r->n_parts; i++) {
      vis_part *p = &r->parts[i];
      if (!p->data_url || n_urls == LLM_MAX_IMAGES) continue;
      urls = xrealloc(urls, (n_urls + 1) * sizeof *urls);
      urls[n_urls++] = p->data_url;
      p->data_url = NULL;
    }
    LOG_D("bot", "message %" PRIu64 ": images looked at", r->message_id);
    queue__vision_ready(b, r->channel_id, r->message_id, urls, n_urls);
    req_free(r);
    n++;
  }
  return n;
}

void vision__forget(bot *b, uint64_t message_id) {
  if (store_media_delete_message(b->db, message_id)) {
    LOG_W("bot", "message %" PRIu64 ": image descriptions not deleted: %s", message_id, err_msg());
    err_clear();
  }
}
