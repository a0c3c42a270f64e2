/* Mini-games benchmark: the answer checker's cost per check, and the bot's cost of a game move on
 * a real database file (WAL): an answer to an open trivia question (one transaction: the try, and
 * for the winner the round's close and award) and a story vote button answered through
 * bot_actions.respond (the click's initial response, which Discord wants within 3 s; the goal is
 * well under 50 ms p99), in a first round and in a later one (where each click also asks whether
 * everyone has voted). Reports p50/p99, and the p50 of the first and the last tenth of the clicks:
 * a click costs the same with few votes cast or thousands (running counts).
 * Usage: bench_games [N] (default 2000 moves); BENCH_MEM=1 uses an in-memory database. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/answer_check.h"
#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "store/games.h"
#include "store/store.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf("%-34s p50 %8.3f ms   p99 %8.3f ms   (n=%d)\n", what, v[n / 2], v[n * 99 / 100], n);
}

static void die(const char *what) {
  fprintf(stderr, "bench_games: %s: %s\n", what, err_msg());
  exit(1);
}

int main(int argc, char **argv) {
  int n = 2000;
  if (argc > 1) {
    int64_t v;
    if (str_to_i64(argv[1], &v) || v < 10 || v > 1000000) {
      fprintf(stderr, "usage: bench_games [N: 10..1000000]\n");
      return 2;
    }
    n = (int)v;
  }
  log_set_level(LOG_ERROR);
  double *t = xcalloc((size_t)n, sizeof *t);

  /* 1. the checker alone */
  static const char *const pairs[][2] = {{"the eiffel towr", "Eiffel Tower"},
                                         {"creme brulee", "Crème brûlée"},
                                         {"Mississipi", "Mississippi"},
                                         {"1493", "1492"},
                                         {"Queen Aurelia of Valdris", "Queen Aurelia"}};
  uint64_t t0 = clock_mono_ns();
  int ok = 0;
  for (int i = 0; i < n * 50; i++) ok += answer_check(pairs[i % 5][0], pairs[i % 5][1], "x\ny");
  double per = (double)(clock_mono_ns() - t0) / 1e3 / (n * 50.0);
  printf("%-34s %8.3f us per check (%d accepted)\n", "answer_check", per, ok);

  /* 2. through the bot */
  char dir[] = "/tmp/mimic-bench-games-XXXXXX", db[128], bank[128];
  if (!mkdtemp(dir)) die("mkdtemp");
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  snprintf(bank, sizeof bank, "%s/bank.txt", dir);
  FILE *f = fopen(bank, "w");
  if (!f) die("bank");
  fputs("Capital of France? | Paris\n", f);
  fclose(f);
  cfg *c = cfg_new();
  store *s;
  if (cfg_set(c, "games.trivia_bank", bank, CFG_SRC_FILE) ||
      cfg_set(c, "games.rounds", "50", CFG_SRC_FILE) ||
      cfg_set(c, "bot.response_rate", "0", CFG_SRC_FILE) ||
      store_open(getenv("BENCH_MEM") ? ":memory:" : db, &s))
    die("setup");
  fake_backend *fb = fake_new(true);
  rec *r = xcalloc(1, sizeof *r);
  bot_actions act = rec_actions(r);
  bot_opts o = {.config = c, .db = s, .backend = &fb->base, .actions = &act, .now_ms = h_clock};
  bot *b;
  if (bot_new(&o, &b) || h_ready(b, 1000, "mimic")) die("bot");
  h_msg hm;
  uint64_t id = 1;
  h_message(&hm, id++, 100, 1, (h_user){9, "host", false}, "!game trivia");
  if (bot_handle_event(b, &hm.ev)) die("start");
  /* wrong answers from n different people: each is one write transaction */
  for (int i = 0; i < n; i++) {
    h_message(&hm, id++, 100, 1, (h_user){(uint64_t)(5000 + i), "p", false}, "London");
    uint64_t a = clock_mono_ns();
    if (bot_handle_event(b, &hm.ev)) err_clear();
    t[i] = (double)(clock_mono_ns() - a) / 1e6;
    r->n_sends = r->n_reacts = 0;
  }
  report("answer (MESSAGE_CREATE handled)", t, n);
  h_message(&hm, id++, 100, 1, (h_user){9, "host", false}, "!game stop");
  if (bot_handle_event(b, &hm.ev)) err_clear();
  /* story votes: a story with one open round, its button clicked by n people */
  store_game g;
  memset(&g, 0, sizeof g);
  str_lcpy(g.kind, "story", sizeof g.kind);
  g.guild_id = 1;
  g.channel_id = 200;
  g.round = 1;
  g.rounds = 3;
  g.phase = STORE_GAME_OPEN;
  g.deadline_ms = h_now + 3600000;
  str_lcpy(g.question, "A door.", sizeof g.question);
  str_lcpy(g.state, "{\"choices\":[\"Open\",\"Knock\"]}", sizeof g.state);
  g.created_ms = h_now;
  if (store_game_start(s, &g)) die("story");
  char cid[64];
  snprintf(cid, sizeof cid, "game:story:%" PRId64 ":1:1", g.id);
  for (int round = 1; round <= 2; round++) {
    /* round 1 runs to its deadline; in round 2 every click asks whether all n players have
     * voted (the last one, left out here, would close it) */
    if (round == 2) {
      if (store_game_get(s, g.id, &g)) die("story");
      g.round = 2;
      if (store_game_update(s, &g)) die("story");
      snprintf(cid, sizeof cid, "game:story:%" PRId64 ":2:0", g.id);
    }
    int clicks = round == 1 ? n : n - 1;
    for (int i = 0; i < clicks; i++) {
      discord_event ev;
      memset(&ev, 0, sizeof ev);
      ev.type = DISCORD_EV_INTERACTION_CREATE;
      ev.u.interaction.id = id++;
      ev.u.interaction.type = 3;
      ev.u.interaction.token = "t";
      ev.u.interaction.guild_id = 1;
      ev.u.interaction.channel_id = 200;
      ev.u.interaction.user.id = (uint64_t)(7000 + i);
      ev.u.interaction.custom_id = cid;
      uint64_t a = clock_mono_ns();
      if (bot_handle_event(b, &ev)) err_clear();
      t[i] = (double)(clock_mono_ns() - a) / 1e6;
      r->n_responses = 0;
    }
    /* flat means the last tenth of the clicks (most votes already cast) costs what the first
     * tenth did */
    int tenth = clicks / 10 > 0 ? clicks / 10 : 1;
    qsort(t, (size_t)tenth, sizeof *t, cmp_d);
    double first = t[tenth / 2];
    qsort(t + clicks - tenth, (size_t)tenth, sizeof *t, cmp_d);
    double last = t[clicks - tenth + tenth / 2];
    char what[64];
    snprintf(what, sizeof what, "story vote click, round %d", round);
    report(what, t, clicks);
    printf("%-34s p50 %8.3f ms first tenth, %8.3f ms last tenth\n", "", first, last);
  }
  bot_destroy(b);
  llm_backend_destroy(&fb->base);
  store_close(s);
  cfg_destroy(c);
  mem_free(r);
  mem_free(t);
  const char *files[] = {"mimic.db", "mimic.db-wal", "mimic.db-shm", "bank.txt"};
  for (int i = 0; i < 4; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
  return 0;
}
