/* The bot's vision path against a local CDN double (tests/double/cdn_double.js, on loopback, put on
 * the allow-list as "localhost"): an image attachment is fetched, decoded and described (by a fake
 * describer that reports the decoded size) and the description reaches the prompt; the next time
 * the cached description is used without a fetch; a URL off the allow-list is never fetched; a huge
 * image is refused (from its declared size, or from its header) with a log line and the message is
 * still answered as text; a page served as HTML, a redirect and a switched-off channel are refused
 * likewise. Skips when node is missing. */
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/vision.h"
#include "double/node_double.h"
#include "bot_fixture.h"
#include "store/media.h"
#include "store/persona.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100

static const h_user ALICE = {11, "alice", false};

/* ---- the CDN double ---- */

typedef struct cdn {
  pid_t pid;
  int port;
  char cfg_path[64], log_path[80];
} cdn;

static int cdn_start(cdn *d) {
  memset(d, 0, sizeof *d);
  const char *src = getenv("MIMIC_SRC");
  if (!src || system("node --version >/dev/null 2>&1") != 0) return -1;
  char script[1024], dir[1024];
  snprintf(script, sizeof script, "%s/tests/double/cdn_double.js", src);
  snprintf(dir, sizeof dir, "%s/tests/vision/data", src);
  if (access(script, R_OK) != 0) return -1;
  snprintf(d->cfg_path, sizeof d->cfg_path, "/tmp/mimic_cdn_XXXXXX");
  int fd = mkstemp(d->cfg_path);
  if (fd < 0) return -1;
  snprintf(d->log_path, sizeof d->log_path, "%s.log", d->cfg_path);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "{\"dir\": \"%s\", \"log\": \"%s\"}", dir, d->log_path);
  fclose(f);
  const char *args[] = {d->cfg_path, NULL};
  d->port = nd_spawn(script, args, &d->pid);
  if (d->port <= 0) return -1;
  return 0;
}

static void cdn_stop(cdn *d) {
  nd_stop(&d->pid);
  unlink(d->cfg_path);
  unlink(d->log_path);
}

/* Requests the double has logged (lines are written before it answers). */
static int cdn_requests(const cdn *d) {
  FILE *f = fopen(d->log_path, "r");
  if (!f) return 0;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

/* ---- the fixture ---- */

typedef struct fx {
  h_fx h; /* config, store, engine, recorder, bot */
  cdn d;
  sem_t woken;
  int described;
  sem_t idled;
  bool block;          /* fake_describe waits for the cancel (the bot stopping mid-encode) */
  sem_t entered, stop; /* describe started; the cancel came */
  bool cancelled;
  char warnings[4096];
} fx;

static void on_log(log_level lv, const char *line, void *user) {
  fx *x = user;
  size_t have = strlen(x->warnings), n = strlen(line);
  if (lv <= LOG_WARN && have + n + 2 < sizeof x->warnings) {
    memcpy(x->warnings + have, line, n);
    x->warnings[have + n] = '\n';
    x->warnings[have + n + 1] = 0;
  }
}

static void on_wake(void *user) { sem_post(&((fx *)user)->woken); }

static int fake_describe(void *user, const vis_image *img, const char *prompt, char **out) {
  fx *x = user;
  x->described++;
  if (!prompt || !prompt[0]) return err_set(MIMIC_EINVAL, "no prompt");
  if (x->block) {
    sem_post(&x->entered);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 60; /* a guard: without the cancel the test fails, it does not hang */
    while (sem_timedwait(&x->stop, &ts) != 0)
      if (errno != EINTR) return err_set(MIMIC_ETIMEOUT, "never cancelled");
    return err_set(MIMIC_ECANCELLED, "the image description was cancelled");
  }
  char s[128];
  /* the first pixel proves the bytes were decoded, not only the header read */
  snprintf(s, sizeof s, "a test picture, %dx%d, first pixel %d,%d,%d", img->width, img->height,
           img->rgb[0], img->rgb[1], img->rgb[2]);
  *out = xstrdup(s);
  return 0;
}

static void fake_idle(void *user) { sem_post(&((fx *)user)->idled); }

/* On the bot thread, while fake_describe may be waiting on the worker. */
static void fake_cancel(void *user) {
  fx *x = user;
  x->cancelled = true;
  sem_post(&x->stop);
}

static void fx_cfg(fx *x, const char *key, const char *val) { h_fx_cfg(&x->h, key, val); }

/* A persona the next fx_init puts in the store (with the channel's webhook) before the bot starts.
 */
static const char *g_persona;

static void add_persona(store *s, const char *name) {
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  p.description = xstrdup("{{char}} is a character from a film, talking to {{user}}.");
  if (store_persona_add(s, &p)) abort();
  store_persona_free(&p);
  store_hook h = {.channel_id = CHAN, .webhook_id = 777};
  str_lcpy(h.token, "token-of-the-hook", sizeof h.token);
  if (store_hook_put(s, &h)) abort();
}

static int fx_init(fx *x) {
  memset(x, 0, sizeof *x);
  if (cdn_start(&x->d) != 0) return -1;
  sem_init(&x->woken, 0, 0);
  sem_init(&x->idled, 0, 0);
  sem_init(&x->entered, 0, 0);
  sem_init(&x->stop, 0, 0);
  log_set_sink(on_log, x);
  h_fx_init(&x->h, NULL, false);
  fx_cfg(x, "vision.allowed_hosts", "localhost");
  fx_cfg(x, "vision.idle_unload_s", "1");
  if (g_persona) add_persona(x->h.s, g_persona);
  bot_vision v = {.user = x,
                  .describe = fake_describe,
                  .idle = fake_idle,
                  .cancel = fake_cancel,
                  .model_name = "fake-vlm"};
  h_fx_bot(&x->h, (bot_opts){.seed = 42, .wake = on_wake, .wake_user = x, .vision = &v});
  return 0;
}

static void fx_free(fx *x) {
  h_fx_free(&x->h);
  log_set_sink(NULL, NULL);
  sem_destroy(&x->woken);
  sem_destroy(&x->idled);
  sem_destroy(&x->entered);
  sem_destroy(&x->stop);
  cdn_stop(&x->d);
}

/* One image attachment on a message with this text, mentioning the bot or not. */
static int fx_post_text(fx *x, uint64_t id, const char *text, bool mention, uint64_t att_id,
                        const char *url, const char *name, uint64_t size, int w, int h) {
  h_msg hm;
  h_message(&hm, id, CHAN, GUILD, ALICE, text);
  if (mention) h_mention(&hm, SELF);
  discord_attachment a = {.id = att_id,
                          .url = url,
                          .proxy_url = "",
                          .filename = name,
                          .content_type = "image/png",
                          .description = "",
                          .size = size,
                          .width = w,
                          .height = h};
  hm.ev.u.message.attachments = &a;
  hm.ev.u.message.n_attachments = 1;
  return bot_handle_event(x->h.b, &hm.ev);
}

/* One image attachment on a message that mentions the bot. */
static int fx_post(fx *x, uint64_t id, uint64_t att_id, const char *url, const char *name,
                   uint64_t size, int w, int h) {
  return fx_post_text(x, id, "what do you think of this?", true, att_id, url, name, size, w, h);
}

/* Polls until the generation for the message has been submitted (the vision worker and the
 * fake engine wake the test through the bot's wake callback). A 60 s guard turns a hang into a
 * failure; nothing is timed. */
static bool fx_wait_submit(fx *x, int submits_before) {
  for (;;) {
    bot_poll(x->h.b);
    pthread_mutex_lock(&x->h.f->mu);
    int n = x->h.f->submits;
    pthread_mutex_unlock(&x->h.f->mu);
    if (n > submits_before) return true;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 60;
    while (sem_timedwait(&x->woken, &ts) != 0)
      if (errno != EINTR) return false;
  }
}

static void fx_answer(fx *x) {
  for (int i = 0; i < 10 && bot_inflight(x->h.b); i++) {
    fake_release(x->h.f, 10);
    bot_poll(x->h.b);
  }
}

static void url_of(fx *x, char *out, size_t cap, const char *route, const char *name) {
  snprintf(out, cap, "http://localhost:%d/%s/%s", x->d.port, route, name);
}

static int submits(fx *x) {
  pthread_mutex_lock(&x->h.f->mu);
  int n = x->h.f->submits;
  pthread_mutex_unlock(&x->h.f->mu);
  return n;
}

/* ---- tests ---- */

TEST(description_reaches_the_prompt_and_is_cached) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7001", "rgb.png");
  CHECK_OK(fx_post(&x, 9001, 7001, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, 0));
  CHECK_INT(x.described, 1);
  CHECK_INT(cdn_requests(&x.d), 1);
  CHECK(strstr(x.h.f->last_prompt, "[image: a test picture, 16x12, first pixel 0,0,0]") != NULL);
  CHECK(strstr(x.h.f->last_prompt, "[attachment: rgb.png]") == NULL);
  fx_answer(&x);
  CHECK_INT(x.h.r->n_sends, 1);
  store_media sm;
  CHECK_OK(store_media_get(x.h.s, 7001, &sm));
  CHECK_INT(sm.message_id, 9001);
  CHECK_STR(sm.model, "fake-vlm");
  CHECK(strstr(sm.description, "16x12") != NULL);
  /* The same attachment again (a repost, a refill): the stored description, no fetch. */
  int before = submits(&x);
  CHECK_OK(fx_post(&x, 9002, 7001, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, before));
  CHECK_INT(x.described, 1);
  CHECK_INT(cdn_requests(&x.d), 1);
  CHECK(strstr(x.h.f->last_prompt, "[image: a test picture, 16x12") != NULL);
  fx_answer(&x);
  /* Deleting the message forgets what was seen in it. */
  discord_event del = {.type = DISCORD_EV_MESSAGE_DELETE};
  discord_id ids[1] = {9001}; /* the message the attachment belongs to */
  del.u.del.channel_id = CHAN;
  del.u.del.ids = ids;
  del.u.del.n_ids = 1;
  CHECK_OK(bot_handle_event(x.h.b, &del));
  CHECK_INT(store_media_get(x.h.s, 7001, &sm), MIMIC_ENOTFOUND);
  fx_free(&x);
}

TEST(every_format_is_decoded_on_the_way) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  const char *names[] = {"flat.jpg", "lossless.webp", "anim.gif"};
  for (int i = 0; i < 3; i++) {
    char url[256];
    url_of(&x, url, sizeof url, "attachments/100/7100", names[i]);
    int before = submits(&x);
    CHECK_OK(fx_post(&x, 9100 + (uint64_t)i, 7100 + (uint64_t)i, url, names[i], 1000, 16, 12));
    REQUIRE(fx_wait_submit(&x, before));
    CHECK(strstr(x.h.f->last_prompt, "[image: a test picture, 16x12") != NULL);
    fx_answer(&x);
  }
  CHECK_INT(x.described, 3);
  fx_free(&x);
}

/* The refusals: each message is still answered, as text naming the file, and a warning says why. */
static void refused(const char *what, const char *url_route, const char *name, const char *url_abs,
                    uint64_t size, int w, int h, const char *log_has, int fetches) {
  fx x;
  if (fx_init(&x) != 0) {
    printf("     skipped %s: node or the CDN double is missing\n", what);
    return;
  }
  char url[256];
  if (url_abs)
    snprintf(url, sizeof url, url_abs, x.d.port);
  else
    url_of(&x, url, sizeof url, url_route, name);
  CHECK_OK(fx_post(&x, 9200, 7200, url, name, size, w, h));
  if (!fx_wait_submit(&x, 0)) TEST_FAIL_("%s: the message was never answered", what);
  CHECK_INT(x.described, 0);
  CHECK_INT(cdn_requests(&x.d), fetches);
  char want[128];
  snprintf(want, sizeof want, "[attachment: %s]", name);
  if (!strstr(x.h.f->last_prompt, want)) TEST_FAIL_("%s: prompt lacks %s", what, want);
  if (!strstr(x.warnings, log_has))
    TEST_FAIL_("%s: no warning with \"%s\" in:\n%s", what, log_has, x.warnings);
  if (!strstr(x.warnings, "not described")) TEST_FAIL_("%s: no 'not described' warning", what);
  fx_answer(&x);
  CHECK_INT(x.h.r->n_sends, 1);
  store_media sm;
  CHECK_INT(store_media_get(x.h.s, 7200, &sm), MIMIC_ENOTFOUND);
  fx_free(&x);
}

TEST(non_cdn_urls_are_never_fetched) {
  refused("IP literal", NULL, "a.png", "http://127.0.0.1:%d/attachments/1/2/rgb.png", 100, 16, 12,
          "IP address", 0);
  refused("other host", NULL, "b.png", "https://example.com/x/rgb.png?p=%d", 100, 16, 12,
          "not Discord's CDN", 0);
  refused("redirect", "redirect", "rgb.png", NULL, 100, 16, 12, "redirect", 1);
}

TEST(huge_images_are_refused_and_answered_as_text) {
  /* declared huge by Discord's metadata: refused before any fetch */
  refused("declared size", "attachments/1/2", "bomb.png", NULL, 2000, 50000, 50000, "50000 x 50000",
          0);
  refused("declared bytes", "attachments/1/2", "rgb.png", NULL, 1u << 30, 16, 12,
          "vision.max_bytes", 0);
  /* declared small but a bomb inside: refused from the PNG header, nothing decoded */
  refused("header", "attachments/1/2", "bomb.png", NULL, 262, 16, 12, "over the", 1);
  /* more bytes than the cap actually sent */
  refused("body", "big", "25000000", NULL, 1000, 16, 12, "cap", 1);
}

TEST(wrong_content_is_refused) {
  refused("html", "html", "rgb.png", NULL, 476, 16, 12, "text/html", 1);
  refused("not an image", "attachments/1/2", "make_fixtures.py", NULL, 100, 0, 0,
          "not a PNG, JPEG, WebP or GIF", 1);
}

TEST(vision_switched_off_for_a_channel) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  CHECK_OK(store_setting_set(x.h.s, "channel:100", "vision.enabled", "off"));
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7300", "rgb.png");
  CHECK_OK(fx_post(&x, 9300, 7300, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, 0));
  CHECK_INT(cdn_requests(&x.d), 0);
  CHECK(strstr(x.h.f->last_prompt, "[attachment: rgb.png]") != NULL);
  fx_answer(&x);
  /* on for the channel, off for the guild: the channel wins */
  CHECK_OK(store_setting_set(x.h.s, "channel:100", "vision.enabled", "on"));
  CHECK_OK(store_setting_set(x.h.s, "guild:1", "vision.enabled", "off"));
  int before = submits(&x);
  CHECK_OK(fx_post(&x, 9301, 7301, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, before));
  CHECK_INT(cdn_requests(&x.d), 1);
  fx_answer(&x);
  fx_free(&x);
}

TEST(images_go_to_an_openai_server_as_they_are) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  /* Switched on live: the worker runs (a describer is configured), the mode is read per message. */
  fx_cfg(&x, "engine.backend", "openai");
  fx_cfg(&x, "vision.openai_images", "true");
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7400", "rgb.png");
  CHECK_OK(fx_post(&x, 9400, 7400, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, 0));
  CHECK_INT(x.described, 0);
  CHECK_INT(x.h.f->last_n_images, 1);
  CHECK(strncmp(x.h.f->last_image, "data:image/png;base64,iVBORw0KGgo", 33) == 0);
  CHECK(strstr(x.h.f->last_prompt, "[image attached: rgb.png]") != NULL);
  fx_answer(&x);
  CHECK_INT(x.h.r->n_sends, 1);
  fx_free(&x);
}

TEST(embed_pictures_are_described_through_the_media_proxy) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  char proxy[256];
  url_of(&x, proxy, sizeof proxy, "attachments/ext/1", "lossless.webp");
  h_msg hm;
  h_message(&hm, 9500, CHAN, GUILD, ALICE, "look https://example.com/pic.webp");
  h_mention(&hm, SELF);
  discord_embed e = {
      .title = "",
      .description = "",
      .url = "https://example.com/pic.webp",
      .author_name = "",
      .footer_text = "",
      .type = "image",
      .image = {.url = "", .proxy_url = ""},
      /* the poster's host is never fetched: only Discord's proxy copy */
      .thumbnail = {
          .url = "https://example.com/pic.webp", .proxy_url = proxy, .width = 16, .height = 12}};
  hm.ev.u.message.embeds = &e;
  hm.ev.u.message.n_embeds = 1;
  CHECK_OK(bot_handle_event(x.h.b, &hm.ev));
  REQUIRE(fx_wait_submit(&x, 0));
  CHECK_INT(x.described, 1);
  CHECK_INT(cdn_requests(&x.d), 1);
  CHECK(strstr(x.h.f->last_prompt, "[image: a test picture, 16x12") != NULL);
  fx_answer(&x);
  fx_free(&x);
}

/* The model is handed back after vision.idle_unload_s (1 s here) without an image, once. The
 * test waits for the call (a 60 s guard turns a hang into a failure); nothing is timed. */
TEST(the_model_is_unloaded_when_idle) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7600", "rgb.png");
  CHECK_OK(fx_post(&x, 9600, 7600, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, 0));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 60;
  int rc;
  while ((rc = sem_timedwait(&x.idled, &ts)) != 0 && errno == EINTR) {}
  CHECK_INT(rc, 0);
  CHECK_INT(x.described, 1);
  fx_answer(&x);
  fx_free(&x);
}

/* A persona answers about the picture as well as the bot user does: the message addressed to it
 * waits for the description, which is in the persona's prompt, and the persona's post goes out. */
TEST(a_persona_answers_about_the_image) {
  fx x;
  g_persona = "Elio";
  int rc = fx_init(&x);
  g_persona = NULL;
  if (rc != 0) SKIP("node or the CDN double is missing");
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7800", "rgb.png");
  CHECK_OK(fx_post_text(&x, 9800, "Elio, what is this?", false, 7800, url, "rgb.png", 476, 16, 12));
  REQUIRE(fx_wait_submit(&x, 0));
  CHECK_INT(x.described, 1);
  CHECK(strstr(x.h.f->last_prompt, "You are Elio") != NULL);
  CHECK(strstr(x.h.f->last_prompt, "[image: a test picture, 16x12, first pixel 0,0,0]") != NULL);
  fx_answer(&x);
  CHECK_INT(x.h.r->n_personas, 1);
  CHECK_INT(x.h.r->n_sends, 0);
  fx_free(&x);
}

/* The bot stopping while an image is being described (a long encode on the worker) cancels the
 * description rather than waiting for it: bot_destroy returns, the describer saw the cancel, and
 * nothing leaks. Without the cancel, the fake describer gives up after its 60 s guard and the test
 * fails on `cancelled`. */
TEST(stopping_cancels_a_description_in_progress) {
  fx x;
  if (fx_init(&x) != 0) SKIP("node or the CDN double is missing");
  x.block = true;
  char url[256];
  url_of(&x, url, sizeof url, "attachments/100/7700", "rgb.png");
  CHECK_OK(fx_post(&x, 9700, 7700, url, "rgb.png", 476, 16, 12));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 60;
  int rc;
  while ((rc = sem_timedwait(&x.entered, &ts)) != 0 && errno == EINTR) {}
  REQUIRE(rc == 0);
  bot_destroy(x.h.b);
  x.h.b = NULL;
  CHECK(x.cancelled);
  CHECK_INT(x.described, 1);
  fx_free(&x);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  RUN(description_reaches_the_prompt_and_is_cached);
  RUN(every_format_is_decoded_on_the_way);
  RUN(non_cdn_urls_are_never_fetched);
  RUN(huge_images_are_refused_and_answered_as_text);
  RUN(wrong_content_is_refused);
  RUN(vision_switched_off_for_a_channel);
  RUN(images_go_to_an_openai_server_as_they_are);
  RUN(embed_pictures_are_described_through_the_media_proxy);
  RUN(the_model_is_unloaded_when_idle);
  RUN(a_persona_answers_about_the_image);
  RUN(stopping_cancels_a_description_in_progress);
  TEST_MAIN_END();
}
