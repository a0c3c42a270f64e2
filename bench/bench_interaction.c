/* Interaction latency benchmark: the time from an INTERACTION_CREATE payload (its JSON, parsed as
 * the gateway parses it) to the initial response the bot hands to the runtime (the respond
 * action), with the engine replaced by a fake that answers on its own thread. Three kinds, N each,
 * p50/p99/max: /ai (deferred: "thinking..." first, the generation goes through the reply queue),
 * /status (answered at once, a text twin), and autocomplete of persona names (20 personas). Goal:
 * under 50 ms p99 when deferring (Discord allows 3 s). On a real database file (WAL) by default.
 * Usage: bench_interaction [N] (default 2000); BENCH_MEM=1 uses an in-memory database. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "discord/commands.h"
#include "store/persona.h"
#include "store/store.h"

static uint64_t t_resp;
static int responses;
static int b_respond(void *u, const bot_response *r) {
  (void)u, (void)r;
  t_resp = clock_mono_ns();
  responses++;
  return 0;
}
static int b_followup(void *u, const bot_followup *f) {
  (void)u, (void)f;
  return 0;
}
static int b_typing(void *u, uint64_t ch) {
  (void)u, (void)ch;
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf("%-28s p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms   (n=%d)\n", what, v[n / 2],
         v[(int)((double)n * 0.99)], v[n - 1], n);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2000;
  if (n < 10) n = 10;
  log_set_level(LOG_ERROR);
  bool mem = getenv("BENCH_MEM") && *getenv("BENCH_MEM") == '1';
  char path[] = "/tmp/mimic_bench_interaction_XXXXXX";
  int fd = -1;
  if (!mem) {
    fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
  }
  store *s = NULL;
  if (store_open(mem ? ":memory:" : path, &s)) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  for (int i = 0; i < 20; i++) {
    store_persona p;
    store_persona_init(&p);
    char name[32];
    snprintf(name, sizeof name, "Persona%02d", i);
    p.name = xstrdup(name);
    if (store_persona_add(s, &p)) return 1;
    store_persona_free(&p);
  }
  cfg *c = cfg_new();
  if (cfg_set(c, "bot.admins", "9", CFG_SRC_FILE)) return 1;
  fake_backend *f = fake_new(true); /* answers at once on its worker */
  bot_actions act = {.respond = b_respond,
                     .edit_original = b_followup,
                     .followup = b_followup,
                     .typing = b_typing};
  bot_opts o = {.config = c, .db = s, .backend = &f->base, .actions = &act, .seed = 1};
  bot *b = NULL;
  if (bot_new(&o, &b) || h_ready(b, 1000, "mimic")) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  static const char *const kinds[] = {
      "\"type\":2,\"data\":{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
      "\"value\":\"what is new?\"}]}",
      "\"type\":2,\"data\":{\"name\":\"status\"}",
      "\"type\":4,\"data\":{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
      "\"value\":\"x\"},{\"name\":\"persona\",\"type\":3,\"value\":\"sona1\",\"focused\":true}]}"};
  static const char *const names[] = {"/ai (deferred)", "/status (at once)",
                                      "autocomplete (personas)"};
  double *v = calloc((size_t)n, sizeof *v);
  uint64_t id = 1300000000000000000ull;
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < n; i++) {
      char json[1024];
      id++;
      snprintf(json, sizeof json,
               "{\"id\":\"%" PRIu64 "\",\"application_id\":\"555\",\"token\":\"tok%" PRIu64
               "\",\"guild_id\":\"1\",\"channel_id\":\"%d\",\"member\":{\"user\":{\"id\":\"9\","
               "\"username\":\"boss\"},\"permissions\":\"32\"},%s}",
               id, id, 100 + i % 50, kinds[k]);
      int before = responses;
      uint64_t t0 = clock_mono_ns();
      discord_event *ev = NULL;
      if (discord_interaction_parse(json, strlen(json), &ev)) return 1;
      if (bot_handle_event(b, ev)) err_clear();
      discord_event_free(ev);
      if (responses != before + 1) {
        fprintf(stderr, "%s: no initial response\n", names[k]);
        return 1;
      }
      v[i] = (double)(t_resp - t0) / 1e6;
      bot_poll(b); /* completions of earlier /ai generations */
    }
    report(names[k], v, n);
    for (int i = 0; i < 200 && bot_inflight(b); i++) {
      usleep(1000);
      bot_poll(b);
    }
  }
  free(v);
  bot_destroy(b);
  llm_backend_destroy(&f->base);
  store_close(s);
  cfg_destroy(c);
  if (!mem) {
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
  }
  return 0;
}
