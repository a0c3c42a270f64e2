/* Mini-games and points: trivia (questions the model writes from lore passages, whose answer must
 * occur in the passage, and question banks), riddles (a bank and generated), interactive stories
 * narrated by a persona with 2-4 choices as buttons, and the commands around points. Every state
 * change goes to the store first (store/games.h, store/points.h), so a restart resumes each game
 * where it was and a round's award is written once. Generations run on the engine's workers like
 * replies do; their completions come back through games__poll on the bot thread. Not here: the
 * answer rules (answer_check.c), parsing banks and model output (game_parse.c). */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define BOT_LEVEL BOT_L_GAMES
#include "bot/answer_check.h"
#include "bot/bot_int.h"
#include "bot/game_parse.h"
#include "store/games.h"
#include "store/points.h"

#define GAMES_CHECK_MS    1000 /* how often deadlines are looked at */
#define GAMES_HINTS_MAX   2
#define GAMES_PLAYERS_MAX 64
#define GAMES_TRIES       3    /* generations tried for one round before giving up */
#define GAMES_CHUNK_MIN   80   /* bytes of a lore passage worth a question */
#define GAMES_CHUNK_MAX   3000 /* bytes of a passage shown to the model */
#define GAMES_LOG_KEEP    6    /* story passages and choices kept in the prompt */
#define GAMES_BOARD_MAX   10
#define GAMES_MOVE_MAX    300                    /* bytes of a DM reader's own move kept */
#define STORY_CHOICES_MAX (GAME_CHOICES_MAX + 4) /* the narrator's choices plus write-ins */
#define STORY_MSGS_MAX    16  /* messages of a round whose buttons are greyed out at its close */
#define STORY_WRITE_CHARS 80  /* characters of a channel's write-in (it becomes a button label) */
#define STORY_MOVE_CHARS  150 /* characters of a DM reader's move written in the form */

typedef enum { GEN_QUESTION, GEN_PASSAGE } gen_kind;

/* One generation owed for a game's round. */
typedef struct game_gen {
  struct bot_games *gs;
  int64_t game_id;
  int round;
  gen_kind kind;
  bool ending;  /* a story's last passage (no choices) */
  char *chunk;  /* trivia from lore: the passage the answer must come from (owned); NULL */
  char *source; /* "lore: <title>" or "model" (owned) */
  uint64_t llm_id;
  llm_result *res;
  struct game_gen *next;
} game_gen;

typedef struct bank_cache {
  char path[512];
  int64_t mtime, size;
  game_bank bank;
} bank_cache;

struct bot_games {
  bot *b;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  game_gen *done_head, *done_tail; /* finished, filled by the workers */
  size_t owed;                     /* submitted generations not yet handled */
  map_u64 busy;                    /* game id -> its owed game_gen */
  map_u64 tries;                   /* game id -> generations tried this round */
  int64_t next_check_ms;
  bool resumed; /* games left preparing by the last run were picked up */
  bank_cache banks[2];
};

static struct bot_games *gs_of(bot *b) {
  if (!b->games) {
    struct bot_games *g = xcalloc(1, sizeof *g);
    g->b = b;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    map_init(&g->busy);
    map_init(&g->tries);
    b->games = g;
  }
  return b->games;
}

static bool is_qa(const store_game *g) {
  return strcmp(g->kind, "trivia") == 0 || strcmp(g->kind, "riddle") == 0;
}

static const char *kind_title(const store_game *g) {
  return strcmp(g->kind, "trivia") == 0   ? "Trivia"
         : strcmp(g->kind, "riddle") == 0 ? "Riddle"
                                          : "Story";
}

/* ---- replies and posts ---- */

static void cmd_reply(bot *b, const game_cmd *x, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static void cmd_reply(bot *b, const game_cmd *x, const char *fmt, ...) {
  char text[1900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (x->reply) {
    x->reply(x->reply_user, text);
    return;
  }
  if (!b->act.send) return;
  bot_send s = {.channel_id = x->channel_id, .text = text, .reply_to = x->message_id};
  if (b->act.send(b->act.user, &s)) {
    LOG_W("games", "channel %" PRIu64 ": could not answer a command: %s", x->channel_id, err_msg());
    err_clear();
  }
}

/* Posts a game's message in its channel: as its persona (the channel's webhook in a server, the
 * bot user with the persona's name in front in a DM) or as the bot user. */
static void game_post(bot *b, const store_game *g, const char *text, const discord_action_row *rows,
                      size_t n_rows) {
  bot_persona *bp = g->persona_id ? persona__get(b, g->persona_id) : NULL;
  int rc = 0;
  if (bp && g->guild_id && b->act.persona_send) {
    bot_chan *c = queue__chan(b, g->channel_id);
    const char *av = bp->p.avatar ? bp->p.avatar : "";
    bool thread = c->parent_id != 0;
    bot_persona_send s = {.channel_id = thread ? c->parent_id : g->channel_id,
                          .thread_id = thread ? g->channel_id : 0,
                          .guild_id = g->guild_id,
                          .username = bp->p.name,
                          .avatar_url = *av && !bp->avatar_file ? av : NULL,
                          .avatar_file = bp->avatar_file && bp->avatar_key[0] ? av : NULL,
                          .avatar_key = bp->avatar_key[0] ? bp->avatar_key : NULL,
                          .text = text,
                          .persona_id = bp->p.id,
                          .rows = rows,
                          .n_rows = n_rows};
    rc = b->act.persona_send(b->act.user, &s);
  } else if (b->act.send) {
    char *named = NULL;
    if (bp) {
      size_t n = strlen(bp->p.name) + strlen(text) + 8;
      named = xalloc(n);
      snprintf(named, n, "**%s**: %s", bp->p.name, text);
    }
    bot_send s = {
        .channel_id = g->channel_id, .text = named ? named : text, .rows = rows, .n_rows = n_rows};
    rc = b->act.send(b->act.user, &s);
    mem_free(named);
  }
  if (rc) {
    LOG_W("games", "channel %" PRIu64 ": could not post for game %" PRId64 ": %s", g->channel_id,
          g->id, err_msg());
    err_clear();
  }
}

static int save(bot *b, store_game *g) {
  g->updated_ms = bot__now(b);
  int rc = store_game_update(b->db, g);
  if (rc) {
    LOG_W("games", "game %" PRId64 ": %s", g->id, err_msg());
    err_clear();
  }
  return rc;
}

/* ---- banks ---- */

/* The bank of a kind (0 trivia, 1 riddle), reloaded when its file changed; NULL when none. */
static const game_bank *bank_get(bot *b, int which) {
  bank_cache *bc = &gs_of(b)->banks[which];
  const char *path = cfg_str(b->cfg, which ? CFG_GAMES_RIDDLE_BANK : CFG_GAMES_TRIVIA_BANK);
  if (!path || !*path) return NULL;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (strcmp(bc->path, path) != 0) {
      LOG_W("games", "%s: the question bank cannot be read (check games.%s_bank)", path,
            which ? "riddle" : "trivia");
      str_lcpy(bc->path, path, sizeof bc->path);
      game_bank_free(&bc->bank);
    }
    return bc->bank.n ? &bc->bank : NULL;
  }
  if (strcmp(bc->path, path) == 0 && bc->mtime == (int64_t)st.st_mtime &&
      bc->size == (int64_t)st.st_size)
    return bc->bank.n ? &bc->bank : NULL;
  char *data = NULL;
  size_t n = 0;
  game_bank nb;
  if (fs_read_file(path, GAME_BANK_FILE_MAX, &data, &n) || game_bank_parse(data, n, &nb)) {
    LOG_W("games", "%s: %s", path, err_msg());
    err_clear();
    mem_free(data);
    return bc->bank.n ? &bc->bank : NULL;
  }
  mem_free(data);
  if (nb.bad)
    LOG_W("games", "%s: %zu lines skipped (not a question | answer line or JSON object)", path,
          nb.bad);
  game_bank_free(&bc->bank);
  bc->bank = nb;
  str_lcpy(bc->path, path, sizeof bc->path);
  bc->mtime = (int64_t)st.st_mtime;
  bc->size = (int64_t)st.st_size;
  LOG_I("games", "%s: %zu questions", path, nb.n);
  return bc->bank.n ? &bc->bank : NULL;
}

/* A bank question not asked yet in this game (the indices asked are in the state's "used"). */
static const game_item *bank_pick(bot *b, store_game *g, const game_bank *bank) {
  json_t *st = jv_parse(g->state, strlen(g->state), "game state");
  if (!st || !json_is_object(st)) {
    err_clear();
    json_decref(st);
    st = json_object();
  }
  json_t *used = json_object_get(st, "used");
  if (!json_is_array(used)) {
    used = json_array();
    json_object_set_new(st, "used", used);
  }
  size_t pick = (size_t)(bot__rng_next(b) % bank->n);
  for (size_t tries = 0; tries < bank->n; tries++) {
    bool seen = false;
    size_t i;
    json_t *v;
    json_array_foreach(used, i, v) if ((size_t)json_integer_value(v) == pick) seen = true;
    if (!seen) break;
    pick = (pick + 1) % bank->n;
  }
  if (json_array_size(used) < 200) json_array_append_new(used, json_integer((json_int_t)pick));
  char *s = jv_dump_compact(st);
  if (s && strlen(s) < sizeof g->state) str_lcpy(g->state, s, sizeof g->state);
  free(s);
  json_decref(st);
  return &bank->v[pick];
}

/* ---- generations ---- */

static void gen_free(game_gen *q) {
  if (!q) return;
  mem_free(q->chunk);
  mem_free(q->source);
  llm_result_destroy(q->res);
  mem_free(q);
}

static void gen_done(void *user, llm_result *res) {
  game_gen *q = user;
  struct bot_games *gs = q->gs;
  q->res = res;
  q->next = NULL;
  pthread_mutex_lock(&gs->mu);
  if (gs->done_tail)
    gs->done_tail->next = q;
  else
    gs->done_head = q;
  gs->done_tail = q;
  pthread_cond_signal(&gs->cv);
  /* woken under the lock: games__stop waits for it before the bot can be freed */
  if (gs->b->wake) gs->b->wake(gs->b->wake_user);
  pthread_mutex_unlock(&gs->mu);
}

/* Submits one generation for g's current round. Takes ownership of chunk and source. */
static int gen_submit(bot *b, const store_game *g, gen_kind kind, bool ending, const char *system,
                      const char *prompt, char *chunk, char *source) {
  struct bot_games *gs = gs_of(b);
  if (!b->backend) {
    mem_free(chunk);
    mem_free(source);
    return err_set(MIMIC_EUNSUPPORTED, "no engine is configured");
  }
  llm_request req;
  llm_request_init(&req);
  llm_request_from_config(&req, b->cfg);
  bot_persona *bp = g->persona_id ? persona__get(b, g->persona_id) : NULL;
  if (bp) persona__request(b, bp, g->channel_id, g->guild_id, &req);
  llm_message msgs[2] = {{.role = "system", .content = system},
                         {.role = "user", .content = prompt}};
  char slot[48];
  snprintf(slot, sizeof slot, "game:%" PRId64, g->id);
  req.messages = msgs;
  req.n_messages = 2;
  req.slot_key = slot;
  req.max_tokens = kind == GEN_QUESTION ? 256 : 480;
  req.min_tokens = 1;
  req.sampling.seed = bot__rng_next(b) | 1;
  game_gen *q = xcalloc(1, sizeof *q);
  q->gs = gs;
  q->game_id = g->id;
  q->round = g->round;
  q->kind = kind;
  q->ending = ending;
  q->chunk = chunk;
  q->source = source;
  uint64_t id = 0;
  int rc = llm_backend_submit(b->backend, &req, NULL, gen_done, q, &id);
  if (rc) {
    gen_free(q);
    return rc;
  }
  q->llm_id = id;
  gs->owed++;
  map_put(&gs->busy, (uint64_t)g->id, q);
  map_put_uint(&gs->tries, (uint64_t)g->id, map_get_uint(&gs->tries, (uint64_t)g->id) + 1);
  return 0;
}

static const char *const question_rules =
    "Reply with one JSON object and nothing else: {\"question\": \"...\", \"answer\": \"...\", "
    "\"aliases\": [\"other accepted spellings\"], \"hint\": \"a short clue that does not give the "
    "answer away\"}. The answer is one to four words.";

/* Asks the model for a trivia question about a lore passage (a topic searches the lore for it). */
static int gen_trivia(bot *b, const store_game *g) {
  buf title, text;
  buf_init(&title, 1024);
  buf_init(&text, 64 * 1024);
  int64_t chunk_id = 0;
  int rc;
  if (g->topic[0] && b->lore) {
    lore_search_opts o = {.k = 6, .no_wi = true, .min_cos = cfg_num(b->cfg, CFG_LORE_MIN_SCORE)};
    lore_items items = {0};
    rc = lore_search(b->lore, g->topic, &o, &items);
    if (!rc && items.n) {
      const lore_item *it = &items.v[bot__rng_next(b) % items.n];
      rc = buf_puts(&title, it->title ? it->title : "");
      if (!rc) rc = buf_puts(&text, it->text ? it->text : "");
      chunk_id = it->id;
    } else if (!rc) {
      rc = err_set(MIMIC_ENOTFOUND, "the lore says nothing about %.80s", g->topic);
    }
    lore_items_free(&items);
  } else {
    rc = store_game_lore_pick(b->db, bot__rng_next(b), GAMES_CHUNK_MIN, &chunk_id, &title, &text);
  }
  if (rc) goto out;
  size_t n =
      text.len > GAMES_CHUNK_MAX ? utf8_floor(text.data, text.len, GAMES_CHUNK_MAX) : text.len;
  buf prompt;
  buf_init(&prompt, 16384);
  rc = buf_printf(&prompt,
                  "Write one trivia question about this passage%s%s. Its answer must be a fact "
                  "stated in the passage, written exactly as the passage writes it.\n\nPassage "
                  "(\"%s\"):\n%.*s\n\n%s",
                  g->topic[0] ? " on " : "", g->topic, title.data ? title.data : "", (int)n,
                  text.data ? text.data : "", question_rules);
  if (!rc) {
    char src[STORE_GAME_SOURCE_MAX];
    snprintf(src, sizeof src, "lore: %.150s", title.data && *title.data ? title.data : "passage");
    char *chunk = xalloc(n + 1);
    memcpy(chunk, text.data, n);
    chunk[n] = 0;
    rc = gen_submit(b, g, GEN_QUESTION, false,
                    "You write fair, clear trivia questions for a Discord community's quiz.",
                    prompt.data, chunk, xstrdup(src));
  }
  buf_free(&prompt);
  (void)chunk_id;
out:
  buf_free(&title);
  buf_free(&text);
  return rc;
}

static int gen_riddle(bot *b, const store_game *g) {
  char prompt[1200];
  snprintf(prompt, sizeof prompt,
           "Write one original riddle%s%s: a few lines describing a thing without naming it. "
           "The question is the riddle itself. %s",
           g->topic[0] ? " about " : "", g->topic, question_rules);
  return gen_submit(b, g, GEN_QUESTION, false,
                    "You write clever, fair riddles with one clear answer.", prompt, NULL,
                    xstrdup("model"));
}

/* The story so far, for the prompt: the premise, then the kept passages and choices. */
static void story_context(const store_game *g, buf *o) {
  json_t *st = jv_parse(g->state, strlen(g->state), "story state");
  if (!st) err_clear();
  const char *premise = st ? jv_str(st, "premise", "") : "";
  if (buf_printf(o, "Premise: %s\n", *premise ? premise : "an adventure of the narrator's choice"))
    err_clear();
  const json_t *log = st ? json_object_get(st, "log") : NULL;
  if (json_array_size(log)) {
    if (buf_puts(o, "\nThe story so far:\n")) err_clear();
    size_t i;
    const json_t *v;
    json_array_foreach(log, i, v) if (json_is_string(v) &&
                                      buf_printf(o, "%s\n", json_string_value(v))) err_clear();
  }
  json_decref(st);
}

static int gen_story(bot *b, const store_game *g) {
  bool ending = g->round >= g->rounds;
  buf prompt;
  buf_init(&prompt, 32768);
  story_context(g, &prompt);
  int rc;
  if (ending)
    rc = buf_puts(&prompt,
                  "\nWrite the story's ending in at most 150 words, closing what the readers "
                  "chose. Reply with one JSON object and nothing else: {\"text\": \"...\"}");
  else
    rc = buf_printf(&prompt,
                    "\nWrite the %s passage of this interactive story in at most 120 words, "
                    "speaking to the readers as \"you\". End at a decision, and offer 2 to 4 "
                    "short choices (a few words each). Reply with one JSON object and nothing "
                    "else: {\"text\": \"...\", \"choices\": [\"...\", \"...\"]}",
                    g->round <= 1 ? "opening" : "next");
  bot_persona *bp = g->persona_id ? persona__get(b, g->persona_id) : NULL;
  char *sys = bp ? persona__system_prompt(b, bp, "the readers") : NULL;
  buf system;
  buf_init(&system, 65536);
  if (buf_printf(&system, "%s%sYou narrate an interactive story for a Discord community.",
                 sys ? sys : "", sys ? "\n\n" : ""))
    err_clear();
  mem_free(sys);
  if (!rc)
    rc = gen_submit(b, g, GEN_PASSAGE, ending, system.data, prompt.data, NULL, xstrdup("model"));
  buf_free(&system);
  buf_free(&prompt);
  return rc;
}

/* ---- rounds ---- */

static void finish_game(bot *b, store_game *g, const char *why);
static void open_question(bot *b, store_game *g, const game_item *it, const char *source);

/* Makes the current round's content: a bank question at once, or a generation whose completion
 * opens the round. A game that cannot go on ends with a sentence saying why. */
static void prepare_round(bot *b, store_game *g) {
  struct bot_games *gs = gs_of(b);
  if (map_get(&gs->busy, (uint64_t)g->id)) return; /* its generation is on the way */
  int rc = 0;
  bool tried_enough = map_get_uint(&gs->tries, (uint64_t)g->id) >= GAMES_TRIES;
  if (strcmp(g->kind, "story") == 0) {
    rc = tried_enough
             ? err_set(MIMIC_EFORMAT, "the narrator lost the thread (%d tries)", GAMES_TRIES)
             : gen_story(b, g);
    if (rc) {
      char why[300];
      snprintf(why, sizeof why, "The story cannot go on: %s", err_msg());
      err_clear();
      finish_game(b, g, why);
    }
    return;
  }
  bool trivia = strcmp(g->kind, "trivia") == 0;
  const game_bank *bank = bank_get(b, trivia ? 0 : 1);
  int64_t chunks = 0;
  if (trivia && store_lore_chunk_count(b->db, &chunks)) err_clear();
  bool can_gen = b->backend && (!trivia || chunks > 0);
  /* both available: a coin decides, unless a topic asks for the model (banks have no topics) */
  bool use_bank = bank && (!can_gen || tried_enough || (!g->topic[0] && bot__rng_next(b) % 2));
  if (use_bank) {
    const game_item *it = bank_pick(b, g, bank);
    open_question(b, g, it, "bank");
    return;
  }
  if (can_gen && !tried_enough) {
    rc = trivia ? gen_trivia(b, g) : gen_riddle(b, g);
    if (!rc) return;
  }
  char why[300];
  if (rc) {
    snprintf(why, sizeof why, "No question this time (%s). The game ends here.", err_msg());
    err_clear();
  } else if (tried_enough) {
    snprintf(why, sizeof why,
             "The model could not write a fair question (%d tries); add a question bank "
             "(games.%s_bank) to fall back on. The game ends here.",
             GAMES_TRIES, trivia ? "trivia" : "riddle");
  } else if (trivia) {
    snprintf(why, sizeof why,
             "I have no trivia questions: add lore (`mimic lore add`) or a question bank "
             "(games.trivia_bank). The game ends here.");
  } else {
    snprintf(why, sizeof why,
             "I have no riddles: set games.riddle_bank or configure an engine. The game ends "
             "here.");
  }
  finish_game(b, g, why);
}

static void hint_button(const store_game *g, char *id, size_t cap, discord_component *btn) {
  snprintf(id, cap, "game:hint:%" PRId64 ":%d", g->id, g->round);
  *btn = (discord_component){.type = DISCORD_COMPONENT_BUTTON,
                             .custom_id = id,
                             .style = DISCORD_BUTTON_SECONDARY,
                             .label = "Hint"};
}

static void open_question(bot *b, store_game *g, const game_item *it, const char *source) {
  str_lcpy(g->question, it->question, sizeof g->question);
  str_lcpy(g->answer, it->answer, sizeof g->answer);
  str_lcpy(g->aliases, it->aliases ? it->aliases : "", sizeof g->aliases);
  str_lcpy(g->hint, it->hint ? it->hint : "", sizeof g->hint);
  str_lcpy(g->source, source, sizeof g->source);
  g->hints = 0;
  g->winner_id = 0;
  g->phase = STORE_GAME_OPEN;
  int64_t secs = cfg_int(b->cfg, CFG_GAMES_ANSWER_S);
  g->deadline_ms = bot__now(b) + secs * 1000;
  map_del(&gs_of(b)->tries, (uint64_t)g->id);
  if (save(b, g)) return;
  char text[1900];
  snprintf(text, sizeof text,
           "**%s** · question %d of %d\n%s\n_Answer in the chat within %" PRId64
           " s: the first right answer wins %" PRId64 " points (`%sgame hint` for a hint)._",
           kind_title(g), g->round, g->rounds, g->question, secs, cfg_int(b->cfg, CFG_GAMES_POINTS),
           b->prefix);
  char id[64];
  discord_component btn;
  hint_button(g, id, sizeof id, &btn);
  discord_action_row row = {.items = &btn, .n_items = 1};
  game_post(b, g, text, &row, 1);
}

/* Goes on to the next round, or ends the game after the last. */
static void next_round(bot *b, store_game *g) {
  if (g->round >= g->rounds) {
    finish_game(b, g, NULL);
    return;
  }
  g->round++;
  g->phase = STORE_GAME_PREPARING;
  g->question[0] = g->answer[0] = g->aliases[0] = g->hint[0] = 0;
  g->deadline_ms = 0;
  g->winner_id = 0;
  g->hints = 0;
  if (save(b, g)) return;
  prepare_round(b, g);
}

static void finish_game(bot *b, store_game *g, const char *why) {
  g->finished = true;
  g->phase = STORE_GAME_CLOSED;
  g->deadline_ms = 0;
  struct bot_games *gs = gs_of(b);
  game_gen *q = map_get(&gs->busy, (uint64_t)g->id); /* still owed: its completion is dropped */
  if (q && b->backend && llm_backend_cancel(b->backend, q->llm_id)) err_clear();
  map_del(&gs->tries, (uint64_t)g->id);
  if (save(b, g)) return;
  char text[600];
  if (why)
    str_lcpy(text, why, sizeof text);
  else
    snprintf(text, sizeof text,
             "**%s** is over. Thanks for playing! `%sleaderboard` shows the standings.",
             kind_title(g), b->prefix);
  game_post(b, g, text, NULL, 0);
}

/* A question's time ran out: the answer is told and the game goes on. */
static void qa_timeout(bot *b, store_game *g) {
  g->phase = STORE_GAME_CLOSED;
  if (save(b, g)) return;
  char text[600];
  snprintf(text, sizeof text, "Time's up! The answer was **%s**.", g->answer);
  game_post(b, g, text, NULL, 0);
  next_round(b, g);
}

/* ---- stories ---- */

/* A story's state (g->state, JSON): "log" (recent passages and choices, for the prompt),
 * "choices" (the open round's: the narrator's, then readers' write-ins), "base" (how many are the
 * narrator's), "wrote" (who wrote one in this round) and "msgs" (the round's messages with
 * buttons, learned from clicks on them: {"id", "hook", "w": -1 the passage, else the write-in
 * choice it offers}), so that closing the round can grey their buttons out. */
static json_t *state_of(const store_game *g) {
  json_t *st = jv_parse(g->state, strlen(g->state), "story state");
  if (!st || !json_is_object(st)) {
    err_clear();
    json_decref(st);
    st = json_object();
  }
  return st;
}

/* Writes st into g->state: the newest log lines that fit the cap. Takes st. */
static void state_put(store_game *g, json_t *st) {
  json_t *log = json_object_get(st, "log");
  if (!json_is_array(log)) {
    log = json_array();
    json_object_set_new(st, "log", log);
  }
  while (json_array_size(log) > 2 * GAMES_LOG_KEEP) json_array_remove(log, 0);
  for (;;) {
    char *s = jv_dump_compact(st);
    bool fits = s && strlen(s) < sizeof g->state;
    if (fits) str_lcpy(g->state, s, sizeof g->state);
    free(s);
    if (fits || json_array_size(log) == 0) break;
    json_array_remove(log, 0);
  }
  json_decref(st);
}

/* The state with the passage's choices for this round; "chosen" appends to the log. */
static void story_state_set(store_game *g, const game_passage *p, const char *chosen) {
  json_t *st = state_of(g);
  json_t *log = json_object_get(st, "log");
  if (!json_is_array(log)) {
    log = json_array();
    json_object_set_new(st, "log", log);
  }
  if (p) {
    json_array_append_new(log, json_string(p->text));
    json_t *ch = json_array();
    for (size_t i = 0; i < p->n_choices; i++) json_array_append_new(ch, json_string(p->choices[i]));
    json_object_set_new(st, "choices", ch);
    json_object_set_new(st, "base", json_integer((json_int_t)p->n_choices));
  }
  if (chosen) {
    char line[GAMES_MOVE_MAX + 32];
    snprintf(line, sizeof line, "(The readers chose: %s)", chosen);
    json_array_append_new(log, json_string(line));
    json_object_set_new(st, "choices", json_array());
  }
  json_object_set_new(st, "wrote", json_array());
  json_object_set_new(st, "msgs", json_array());
  state_put(g, st);
}

/* The choices of the open round, copied into out (n_out of them). */
static size_t story_choices(const store_game *g, char out[][GAME_CHOICE_MAX + 1], size_t cap) {
  json_t *st = jv_parse(g->state, strlen(g->state), "story state");
  if (!st) err_clear();
  const json_t *ch = st ? json_object_get(st, "choices") : NULL;
  size_t n = 0, i;
  const json_t *v;
  json_array_foreach(ch, i, v) if (json_is_string(v) && n < cap)
      str_lcpy(out[n++], json_string_value(v), GAME_CHOICE_MAX + 1);
  json_decref(st);
  return n;
}

/* How many of the open round's choices are the narrator's (the rest are write-ins). */
static size_t story_base(const store_game *g, size_t n) {
  json_t *st = state_of(g);
  json_int_t base = jv_int(st, "base", (json_int_t)n);
  json_decref(st);
  return base >= 0 && (size_t)base < n ? (size_t)base : n;
}

/* The buttons of a round's message: choices [from, to) to vote for, then (write) the "Write your
 * own move" button; disabled once the round has closed. Returns how many (at most 5). */
static size_t story_buttons(const store_game *g, int round, char choices[][GAME_CHOICE_MAX + 1],
                            size_t from, size_t to, bool write, bool disabled, char ids[][64],
                            discord_component *btn) {
  size_t k = 0;
  for (size_t i = from; i < to && k < DISCORD_ROW_BUTTONS_MAX - (write ? 1 : 0); i++, k++) {
    snprintf(ids[k], 64, "game:story:%" PRId64 ":%d:%zu", g->id, round, i);
    btn[k] = (discord_component){.type = DISCORD_COMPONENT_BUTTON,
                                 .custom_id = ids[k],
                                 .style = DISCORD_BUTTON_PRIMARY,
                                 .label = choices[i],
                                 .disabled = disabled};
  }
  if (write) {
    snprintf(ids[k], 64, "game:write:%" PRId64 ":%d", g->id, round);
    btn[k] = (discord_component){.type = DISCORD_COMPONENT_BUTTON,
                                 .custom_id = ids[k],
                                 .style = DISCORD_BUTTON_SECONDARY,
                                 .label = "Write your own move",
                                 .disabled = disabled};
    k++;
  }
  return k;
}

/* Posts the open round's passage with its choices as buttons (again, for !story). */
static void story_show(bot *b, const store_game *g) {
  char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
  size_t base = story_base(g, n);
  buf o;
  buf_init(&o, 1900);
  int rc = buf_printf(&o, "%s\n", g->question);
  for (size_t i = 0; i < n && !rc; i++) rc = buf_printf(&o, "\n**%zu.** %s", i + 1, choices[i]);
  if (!rc && n && g->guild_id) {
    int64_t left = (g->deadline_ms - bot__now(b) + 999) / 1000;
    rc = buf_printf(&o,
                    "\n_Vote with the buttons (or type the number), or write in your own move; "
                    "most votes wins, %" PRId64 " s left._",
                    left > 0 ? left : 0);
  } else if (!rc && n) {
    rc = buf_puts(&o, "\n_Choose with a button or a number, or write your own move._");
  }
  if (rc) err_clear();
  char ids[DISCORD_ROW_BUTTONS_MAX][64];
  discord_component btn[DISCORD_ROW_BUTTONS_MAX];
  size_t k = n ? story_buttons(g, g->round, choices, 0, base, true, false, ids, btn) : 0;
  discord_action_row row = {.items = btn, .n_items = k};
  game_post(b, g, o.data ? o.data : g->question, k ? &row : NULL, k ? 1 : 0);
  buf_free(&o);
}

/* The thread a message in channel_id is in (for webhook edits), or 0. */
static uint64_t thread_of(bot *b, uint64_t channel_id) {
  return queue__chan(b, channel_id)->parent_id ? channel_id : 0;
}

static void edit_buttons(bot *b, uint64_t channel_id, uint64_t message_id, uint64_t webhook_id,
                         const discord_action_row *rows, size_t n_rows) {
  if (!b->act.edit_message || !message_id) return;
  discord_edit e = {.channel_id = channel_id,
                    .message_id = message_id,
                    .webhook_id = webhook_id,
                    .thread_id = webhook_id ? thread_of(b, channel_id) : 0,
                    .rows = rows,
                    .n_rows = n_rows};
  if (b->act.edit_message(b->act.user, &e)) {
    LOG_W("games", "channel %" PRIu64 ": could not grey out old buttons: %s", channel_id,
          err_msg());
    err_clear();
  }
}

/* Remembers a message of the open round (its id is learned when it comes back through the gateway,
 * or from a click on it), so that closing the round greys its buttons out. w: -1 the passage's
 * message, else the write-in it offers. */
static void story_note_message(bot *b, store_game *g, uint64_t message_id, uint64_t webhook_id,
                               int w) {
  if (!message_id) return;
  json_t *st = state_of(g);
  json_t *msgs = json_object_get(st, "msgs");
  if (!json_is_array(msgs)) {
    msgs = json_array();
    json_object_set_new(st, "msgs", msgs);
  }
  char id[24], hook[24];
  snprintf(id, sizeof id, "%" PRIu64, message_id);
  snprintf(hook, sizeof hook, "%" PRIu64, webhook_id);
  size_t i;
  const json_t *m;
  bool known = false;
  json_array_foreach(msgs, i, m) known = known || strcmp(jv_str(m, "id", ""), id) == 0;
  if (known || json_array_size(msgs) >= STORY_MSGS_MAX) {
    json_decref(st);
    return;
  }
  json_array_append_new(msgs, json_pack("{s:s,s:s,s:i}", "id", id, "hook", hook, "w", w));
  state_put(g, st);
  if (save(b, g)) err_clear();
}

/* Greys out the buttons of the open round's known messages (all but skip, which a type-7 answer
 * updates). Before the round's choices are cleared. */
static void story_grey_out(bot *b, const store_game *g, uint64_t skip) {
  char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
  size_t base = story_base(g, n);
  json_t *st = state_of(g);
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(st, "msgs"), i, m) {
    uint64_t id = 0, hook = 0;
    if (str_to_u64(jv_str(m, "id", ""), &id) || str_to_u64(jv_str(m, "hook", "0"), &hook)) {
      err_clear();
      continue;
    }
    if (!id || id == skip) continue;
    json_int_t w = jv_int(m, "w", -1);
    char ids[DISCORD_ROW_BUTTONS_MAX][64];
    discord_component btn[DISCORD_ROW_BUTTONS_MAX];
    size_t k = w < 0           ? story_buttons(g, g->round, choices, 0, base, true, true, ids, btn)
               : (size_t)w < n ? story_buttons(g, g->round, choices, (size_t)w, (size_t)w + 1,
                                               false, true, ids, btn)
                               : 0;
    if (!k) continue;
    discord_action_row row = {.items = btn, .n_items = k};
    edit_buttons(b, g->channel_id, id, hook, &row, 1);
  }
  json_decref(st);
}

/* The buttons of the message a click came from, every one disabled, into rows (at most
 * DISCORD_ROW_MAX of them, btn holding the items). Returns the row count; 0 when the message has
 * no buttons or all are disabled already. */
static size_t clicked_greyed(const discord_interaction *in, discord_component *btn,
                             discord_action_row *rows) {
  size_t n_rows = 0, live = 0;
  for (size_t i = 0; i < in->n_buttons && i < DISCORD_MSG_BUTTONS_MAX; i++) {
    const discord_msg_button *mb = &in->buttons[i];
    if (mb->row < 0 || mb->row >= DISCORD_ROW_MAX) continue;
    if (!mb->disabled) live++;
    btn[i] = (discord_component){.type = DISCORD_COMPONENT_BUTTON,
                                 .custom_id = mb->custom_id[0] ? mb->custom_id : NULL,
                                 .style = mb->style >= DISCORD_BUTTON_PRIMARY &&
                                                  mb->style <= DISCORD_BUTTON_LINK
                                              ? (discord_button_style)mb->style
                                              : DISCORD_BUTTON_SECONDARY,
                                 .label = mb->label[0] ? mb->label : "\xE2\x80\xA6",
                                 .url = mb->url[0] ? mb->url : NULL,
                                 .disabled = true};
    if (n_rows && rows[n_rows - 1].n_items && i > 0 && in->buttons[i - 1].row == mb->row &&
        rows[n_rows - 1].n_items < DISCORD_ROW_BUTTONS_MAX) {
      rows[n_rows - 1].n_items++;
    } else if (n_rows < DISCORD_ROW_MAX) {
      rows[n_rows++] = (discord_action_row){.items = &btn[i], .n_items = 1};
    } else {
      break;
    }
  }
  return live ? n_rows : 0;
}

/* A click on a message whose round has closed: its buttons greyed out, through the answer
 * (update: a type-7 UPDATE_MESSAGE, which is then the interaction's response) or an edit of the
 * message. Returns whether the response was used. */
static bool grey_clicked(bot *b, const discord_interaction *in, bool update) {
  discord_component btn[DISCORD_MSG_BUTTONS_MAX];
  discord_action_row rows[DISCORD_ROW_MAX];
  size_t n = clicked_greyed(in, btn, rows);
  if (!n) return false;
  if (!update) {
    edit_buttons(b, in->channel_id, in->message_id, in->message_webhook_id, rows, n);
    return false;
  }
  if (!b->act.respond) return false;
  bot_response r = {.interaction_id = in->id,
                    .token = in->token,
                    .type = DISCORD_RESPONSE_UPDATE,
                    .rows = rows,
                    .n_rows = n};
  if (b->act.respond(b->act.user, &r)) {
    LOG_W("games", "could not update a closed round's message: %s", err_msg());
    err_clear();
  }
  return true;
}

static void story_open(bot *b, store_game *g, const game_passage *p, bool ending) {
  str_lcpy(g->question, p->text, sizeof g->question);
  story_state_set(g, p, NULL);
  if (ending) {
    /* every player gets points for seeing it through (once: the round key) */
    uint64_t ids[GAMES_PLAYERS_MAX];
    size_t n = 0;
    if (store_game_players(b->db, g->id, ids, GAMES_PLAYERS_MAX, &n)) err_clear();
    char key[STORE_POINTS_KEY_MAX];
    snprintf(key, sizeof key, "game:%" PRId64 ":end", g->id);
    for (size_t i = 0; i < n; i++) {
      store_points_tx t = {.guild_id = g->guild_id,
                           .user_id = ids[i],
                           .delta = cfg_int(b->cfg, CFG_GAMES_POINTS) / 2 + 1,
                           .reason = "finished a story",
                           .game = "story",
                           .round_key = key,
                           .ts_ms = bot__now(b)};
      if (store_points_add(b->db, &t, NULL)) {
        LOG_W("games", "game %" PRId64 ": %s", g->id, err_msg());
        err_clear();
      }
    }
    game_post(b, g, p->text, NULL, 0);
    finish_game(b, g, NULL);
    return;
  }
  g->phase = STORE_GAME_OPEN;
  /* a DM's story waits for its reader; a channel's choice closes at its deadline */
  g->deadline_ms = g->guild_id ? bot__now(b) + cfg_int(b->cfg, CFG_GAMES_STORY_VOTE_S) * 1000 : 0;
  map_del(&gs_of(b)->tries, (uint64_t)g->id);
  if (save(b, g)) return;
  story_show(b, g);
}

/* Closes the story's round with the choice the votes (or a DM's free text) made; the buttons of
 * the round's known messages are greyed out (but updated, which the closing click's answer did). */
static void story_decide(bot *b, store_game *g, const char *custom, uint64_t updated) {
  char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
  story_grey_out(b, g, updated);
  char chosen[GAMES_MOVE_MAX + 1] = "";
  if (custom) {
    size_t cl = strlen(custom);
    if (cl >= sizeof chosen) cl = utf8_floor(custom, cl, sizeof chosen - 1);
    memcpy(chosen, custom, cl);
    chosen[cl] = 0;
  } else {
    int counts[STORY_CHOICES_MAX], voters = 0;
    if (store_game_tally(b->db, g->id, g->round, counts, STORY_CHOICES_MAX, &voters)) err_clear();
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
      if (counts[i] > counts[best]) best = i;
    if (!voters && n) best = (size_t)(bot__rng_next(b) % n); /* nobody voted: fate decides */
    if (n) str_lcpy(chosen, choices[best], sizeof chosen);
    char text[300];
    snprintf(text, sizeof text, "%s **%s**.",
             voters ? "The readers chose" : "Nobody voted; fate chose", chosen);
    if (n) game_post(b, g, text, NULL, 0);
  }
  story_state_set(g, NULL, chosen[0] ? chosen : NULL);
  g->phase = STORE_GAME_CLOSED;
  if (save(b, g)) return;
  next_round(b, g);
}

/* Whether everyone present has voted: in a DM the one reader; in a channel, once people have
 * taken part in earlier rounds, all of them (the first round runs to its deadline). Running
 * counts: the same cost with ten votes or twenty thousand. */
static bool story_all_voted(bot *b, const store_game *g) {
  if (!g->guild_id) return true;
  if (g->round <= 1) return false;
  int64_t voters = 0, players = 0;
  if (store_game_counts(b->db, g->id, g->round, &voters, &players)) {
    err_clear();
    return false;
  }
  return players > 0 && voters >= players;
}

/* Records a vote; returns 0, or MIMIC_EINVAL when the round is closed or the choice is none. */
static int story_vote(bot *b, store_game *g, int round, uint64_t user, int choice, char *label,
                      size_t cap) {
  if (g->finished || strcmp(g->kind, "story") != 0 || g->round != round ||
      g->phase != STORE_GAME_OPEN)
    return err_set(MIMIC_EINVAL, "this choice has closed");
  char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
  if (choice < 0 || (size_t)choice >= n) return err_set(MIMIC_EINVAL, "there is no such choice");
  int rc = store_game_vote(b->db, g->id, round, user, choice, bot__now(b));
  if (rc) return rc;
  str_lcpy(label, choices[choice], cap);
  return 0;
}

/* ---- completions ---- */

static void gen_finish(bot *b, game_gen *q) {
  store_game *g = xalloc(sizeof *g);
  if (store_game_get(b->db, q->game_id, g)) {
    err_clear();
    goto out;
  }
  if (g->finished || g->round != q->round || g->phase != STORE_GAME_PREPARING) goto out;
  llm_result *r = q->res;
  int rc;
  if (!r || r->finish == LLM_FINISH_ERROR || r->finish == LLM_FINISH_CANCELLED) {
    rc = err_set(MIMIC_EIO, "the engine failed: %s", r ? r->error_msg : "no result");
  } else if (q->kind == GEN_QUESTION) {
    game_item it;
    rc = game_question_parse(r->text, r->text_len, q->chunk, &it);
    if (!rc) {
      open_question(b, g, &it, q->source ? q->source : "model");
      game_item_free(&it);
      goto out;
    }
  } else {
    game_passage p;
    rc = game_passage_parse(r->text, r->text_len, !q->ending, &p);
    if (!rc) {
      story_open(b, g, &p, q->ending);
      game_passage_free(&p);
      goto out;
    }
  }
  LOG_W("games", "game %" PRId64 " round %d: %s", g->id, g->round, err_msg());
  err_clear();
  prepare_round(b, g); /* another try, a bank question, or the end */
out:
  mem_free(g);
}

static void take_done(bot *b) {
  struct bot_games *gs = b->games;
  if (!gs) return;
  pthread_mutex_lock(&gs->mu);
  game_gen *q = gs->done_head;
  gs->done_head = gs->done_tail = NULL;
  pthread_mutex_unlock(&gs->mu);
  while (q) {
    game_gen *n = q->next;
    MIMIC_ASSERT(gs->owed > 0);
    gs->owed--;
    if (map_get(&gs->busy, (uint64_t)q->game_id) == q) map_del(&gs->busy, (uint64_t)q->game_id);
    gen_finish(b, q);
    gen_free(q);
    q = n;
  }
}

void games__poll(bot *b) {
  take_done(b);
  int64_t now = bot__now(b);
  struct bot_games *gs = b->games;
  if (gs && now < gs->next_check_ms) return;
  gs = gs_of(b);
  gs->next_check_ms = now + GAMES_CHECK_MS;
  int64_t ids[32];
  size_t n = 0;
  store_game *g = xalloc(sizeof *g);
  if (!gs->resumed) {
    /* After a restart: rounds left preparing (their generation died with the process) or
     * decided but not followed by the next one are taken up again. */
    gs->resumed = true;
    if (store_game_list(b->db, 0, ids, 32, &n)) {
      LOG_W("games", "%s", err_msg());
      err_clear();
    }
    for (size_t i = 0; i < n; i++) {
      if (store_game_get(b->db, ids[i], g)) {
        err_clear();
        continue;
      }
      if (g->phase == STORE_GAME_PREPARING) {
        LOG_I("games", "game %" PRId64 " (%s) resumed at round %d", g->id, g->kind, g->round);
        prepare_round(b, g);
      } else if (g->phase == STORE_GAME_CLOSED) {
        next_round(b, g);
      }
    }
  }
  n = 0;
  if (store_game_list(b->db, now, ids, 32, &n)) {
    LOG_W("games", "%s", err_msg());
    err_clear();
  }
  for (size_t i = 0; i < n; i++) {
    if (store_game_get(b->db, ids[i], g)) {
      err_clear();
      continue;
    }
    if (is_qa(g))
      qa_timeout(b, g);
    else
      story_decide(b, g, NULL, 0);
  }
  mem_free(g);
}

void games__stop(bot *b) {
  struct bot_games *gs = b->games;
  if (!gs) return;
  size_t it = 0;
  void *v;
  while (map_next(&gs->busy, &it, NULL, &v)) {
    game_gen *q = v;
    if (b->backend && llm_backend_cancel(b->backend, q->llm_id)) err_clear();
  }
  /* the backend owes one callback per accepted submit; cancelled ones come promptly */
  while (gs->owed > 0) {
    pthread_mutex_lock(&gs->mu);
    while (!gs->done_head) pthread_cond_wait(&gs->cv, &gs->mu);
    game_gen *q = gs->done_head;
    gs->done_head = gs->done_tail = NULL;
    pthread_mutex_unlock(&gs->mu);
    while (q) {
      game_gen *n = q->next;
      gs->owed--;
      gen_free(q);
      q = n;
    }
  }
  map_free(&gs->busy);
  map_free(&gs->tries);
  for (int i = 0; i < 2; i++) game_bank_free(&gs->banks[i].bank);
  pthread_mutex_destroy(&gs->mu);
  pthread_cond_destroy(&gs->cv);
  mem_free(gs);
  b->games = NULL;
}

/* ---- answers ---- */

static int64_t round_points(bot *b, const store_game *g) {
  int64_t p = cfg_int(b->cfg, CFG_GAMES_POINTS);
  for (int i = 0; i < g->hints; i++) p /= 2;
  return p > 0 ? p : 1;
}

/* Someone's answer to the open question. */
static void qa_answer(bot *b, store_game *g, const discord_message *m) {
  int64_t now = bot__now(b);
  bool right = answer_check(m->content, g->answer, g->aliases), first = false, won = false;
  int64_t pts = round_points(b, g);
  char reason[160];
  snprintf(reason, sizeof reason, "%s question %d", g->kind, g->round);
  /* The answer and, when it wins, the round's close and award are one transaction: a kill between
   * them can neither spend someone's try without its win nor pay twice. */
  int rc = store_tx_begin(b->db);
  bool in_tx = rc == 0;
  if (!rc) rc = store_game_answer(b->db, g->id, g->round, m->author.id, right, now, &first);
  if (!rc && first && right)
    rc = store_game_win(b->db, g->id, g->round, m->author.id, pts, reason, now, &won);
  if (!rc)
    rc = store_tx_commit(b->db); /* rolls back itself on failure */
  else if (in_tx)
    store_tx_rollback(b->db);
  if (rc) {
    LOG_W("games", "game %" PRId64 ": the answer was not recorded: %s", g->id, err_msg());
    err_clear();
    return;
  }
  if (!first) return; /* one scored answer per person per question */
  if (!right) {
    if (b->act.react && b->act.react(b->act.user, m->channel_id, m->id, "\xE2\x9D\x8C"))
      err_clear();
    return;
  }
  if (!won) return; /* someone was first */
  if (store_game_get(b->db, g->id, g)) {
    err_clear();
    return;
  }
  LOG_I("games", "game %" PRId64 " round %d won by %" PRIu64 " (+%" PRId64 ")", g->id, g->round,
        m->author.id, pts);
  char text[600];
  snprintf(text, sizeof text, "\xE2\x9C\x85 <@%" PRIu64 "> got it: **%s** (+%" PRId64 " points).",
           m->author.id, g->answer, pts);
  game_post(b, g, text, NULL, 0);
  next_round(b, g);
}

bool games__on_message(bot *b, const discord_message *m) {
  if (!m->content || !*m->content || m->author.bot || m->webhook_id ||
      (b->self_id && m->author.id == b->self_id))
    return false;
  size_t pl = strlen(b->prefix);
  if (strncmp(m->content, b->prefix, pl) == 0) return false; /* a command */
  store_game *g = xalloc(sizeof *g);
  bool taken = false;
  if (store_game_running(b->db, m->channel_id, g)) {
    err_clear();
    goto out;
  }
  if (g->phase != STORE_GAME_OPEN) goto out;
  if (g->deadline_ms && bot__now(b) >= g->deadline_ms) {
    /* the timer has not looked yet: the round is over before this message counts */
    if (is_qa(g))
      qa_timeout(b, g);
    else
      story_decide(b, g, NULL, 0);
    goto out;
  }
  if (is_qa(g)) {
    qa_answer(b, g, m);
    taken = true;
    goto out;
  }
  /* a story: "2" votes; in a DM any other text is the reader's own choice */
  const char *c = m->content;
  while (isspace((unsigned char)*c)) c++;
  int64_t num = 0;
  char tmp[8];
  str_lcpy(tmp, c, sizeof tmp);
  str_trim(tmp);
  if (strlen(c) < 4 && str_to_i64(tmp, &num) == 0 && num >= 1 && num <= STORY_CHOICES_MAX) {
    char label[GAME_CHOICE_MAX + 1];
    if (story_vote(b, g, g->round, m->author.id, (int)num - 1, label, sizeof label) == 0) {
      if (b->act.react && b->act.react(b->act.user, m->channel_id, m->id, "\xF0\x9F\x97\xB3"))
        err_clear();
      if (story_all_voted(b, g)) story_decide(b, g, NULL, 0);
    } else {
      err_clear();
    }
    taken = true;
  } else {
    err_clear();
    if (!g->guild_id) {
      if (store_game_vote(b->db, g->id, g->round, m->author.id, 0, bot__now(b))) err_clear();
      story_decide(b, g, c, 0);
      taken = true;
    }
  }
out:
  mem_free(g);
  return taken;
}

/* ---- hints ---- */

/* The round's next hint into out: the bank's or model's hint first, then the answer's shape with
 * its first letters. Returns false when no more hints are given. */
static bool make_hint(store_game *g, char *out, size_t cap) {
  if (g->hints >= GAMES_HINTS_MAX) return false;
  g->hints++;
  if (g->hints == 1 && g->hint[0]) {
    str_lcpy(out, g->hint, cap);
    return true;
  }
  /* the shape: each word's first letter (and, for the last hint, every third letter) */
  size_t o = 0, len = strlen(g->answer);
  bool word_start = true;
  size_t k = 0;
  for (size_t i = 0; i < len && o + 8 < cap;) {
    uint32_t cp;
    int n = utf8_decode(g->answer + i, len - i, &cp);
    if (n < 0) n = 1;
    bool letter = !(cp < 0x80 && !isalnum((int)cp));
    bool show = !letter || word_start || (g->hints >= 2 && k % 3 == 0);
    if (show) {
      memcpy(out + o, g->answer + i, (size_t)n);
      o += (size_t)n;
    } else {
      memcpy(out + o, "\\_", 2); /* an escaped underscore: Discord shows it as is */
      o += 2;
    }
    if (letter) k++;
    word_start = !letter;
    i += (size_t)n;
    if (o < cap) out[o++] = ' ';
  }
  if (o) o--; /* the last space */
  out[o] = 0;
  return true;
}

/* Gives the open question's next hint: text goes to *out. Returns 0, or MIMIC_EINVAL with the
 * reason in err_msg. */
static int give_hint(bot *b, store_game *g, int round, char *out, size_t cap) {
  if (!is_qa(g) || g->phase != STORE_GAME_OPEN || g->round != round)
    return err_set(MIMIC_EINVAL, "there is no open question here");
  char h[400];
  if (!make_hint(g, h, sizeof h))
    return err_set(MIMIC_EINVAL, "that was the last hint for this question");
  int rc = save(b, g);
  if (rc) return rc;
  snprintf(out, cap, "Hint %d of %d: %s (now worth %" PRId64 " points)", g->hints, GAMES_HINTS_MAX,
           h, round_points(b, g));
  return 0;
}

/* ---- components ---- */

static int respond(bot *b, const discord_interaction *in, const char *text, bool ephemeral) {
  if (!b->act.respond) return 0;
  bot_response r = {.interaction_id = in->id,
                    .token = in->token,
                    .type = DISCORD_RESPONSE_MESSAGE,
                    .ephemeral = ephemeral,
                    .text = text};
  int rc = b->act.respond(b->act.user, &r);
  if (rc) {
    LOG_W("games", "could not answer an interaction: %s", err_msg());
    err_clear();
  }
  return 0;
}

/* "game:<what>:<id>:<round>[:<choice>]" */
static bool parse_custom_id(const char *s, char *what, size_t cap, int64_t *id, int *round,
                            int *choice) {
  if (!s || strncmp(s, "game:", 5) != 0 || strlen(s) > DISCORD_CUSTOM_ID_MAX) return false;
  s += 5;
  const char *c = strchr(s, ':');
  if (!c || (size_t)(c - s) >= cap) return false;
  memcpy(what, s, (size_t)(c - s));
  what[c - s] = 0;
  long long gid = 0;
  int r = 0, ch = -1, used = 0;
  int got = sscanf(c + 1, "%lld:%d%n:%d%n", &gid, &r, &used, &ch, &used);
  if (got < 2 || gid <= 0 || r < 0 || c[1 + used] != 0) return false;
  *id = gid;
  *round = r;
  *choice = got >= 3 ? ch : -1;
  return true;
}

/* A follow-up only the clicker sees (after a type-7 answer, which cannot carry one). */
static void tell_privately(bot *b, const discord_interaction *in, const char *text) {
  if (!b->act.followup) return;
  bot_followup f = {
      .application_id = in->application_id, .token = in->token, .text = text, .ephemeral = true};
  if (b->act.followup(b->act.user, &f)) {
    LOG_W("games", "could not answer an interaction: %s", err_msg());
    err_clear();
  }
}

/* The round closes with this click (on message in->message_id): that message's buttons are
 * greyed out through the answer (type 7), the clicker told text privately, the round decided. */
static void close_by_click(bot *b, store_game *g, const discord_interaction *in, const char *text) {
  if (grey_clicked(b, in, true))
    tell_privately(b, in, text);
  else
    respond(b, in, text, true);
  story_decide(b, g, NULL, in->message_id);
}

/* Opens the "Write your own move" form for the open round. */
static void open_move_form(bot *b, const store_game *g, const discord_interaction *in) {
  char id[64];
  snprintf(id, sizeof id, "game:move:%" PRId64 ":%d", g->id, g->round);
  discord_text_input input = {.custom_id = "move",
                              .style = g->guild_id ? DISCORD_INPUT_SHORT : DISCORD_INPUT_PARAGRAPH,
                              .label = g->guild_id ? "Your move (a new choice to vote for)"
                                                   : "What do you do?",
                              .min_length = 2,
                              .max_length = g->guild_id ? STORY_WRITE_CHARS : STORY_MOVE_CHARS,
                              .required = true,
                              .placeholder = "e.g. Follow the lantern light into the cave"};
  discord_modal m = {.title = "Your move", .custom_id = id, .inputs = &input, .n_inputs = 1};
  bot_response r = {
      .interaction_id = in->id, .token = in->token, .type = DISCORD_RESPONSE_MODAL, .modal = &m};
  if (b->act.respond && b->act.respond(b->act.user, &r)) {
    LOG_W("games", "could not open the move form: %s", err_msg());
    err_clear();
  }
}

/* The game of a click or a form, when it may be played: NULL (answered) otherwise. A click on a
 * message of a game that is over gets its buttons greyed out too. */
static bool playable(bot *b, const discord_interaction *in, int64_t id, store_game *g) {
  if (store_game_get(b->db, id, g)) {
    err_clear();
    respond(b, in, "This game is over.", true);
    if (in->type == 3) grey_clicked(b, in, false);
    return false;
  }
  if (g->channel_id != in->channel_id) {
    respond(b, in, "This game is over.", true);
    return false;
  }
  if (g->finished) {
    respond(b, in, "This game is over.", true);
    if (in->type == 3) grey_clicked(b, in, false);
    return false;
  }
  if (map_get(&b->ignored, in->user.id)) {
    respond(b, in, "You opted out (or were excluded), so you can't play; !optin changes that.",
            true);
    return false;
  }
  return true;
}

static bool story_open_round(const store_game *g, int round) {
  return !g->finished && strcmp(g->kind, "story") == 0 && g->round == round &&
         g->phase == STORE_GAME_OPEN;
}

int games__on_component(bot *b, const discord_interaction *in) {
  char what[16];
  int64_t id;
  int round, choice;
  if (!parse_custom_id(in->custom_id, what, sizeof what, &id, &round, &choice))
    return err_set(MIMIC_EINVAL, "not a game's button");
  uint64_t user = in->user.id;
  store_game *g = xalloc(sizeof *g);
  char text[700];
  if (!playable(b, in, id, g)) goto out;
  bool write = strcmp(what, "write") == 0;
  if ((strcmp(what, "story") == 0 && choice >= 0) || write) {
    if (!story_open_round(g, round)) {
      respond(b, in, "Sorry, this choice has closed.", true);
      grey_clicked(b, in, false);
      goto out;
    }
    if (g->deadline_ms && bot__now(b) >= g->deadline_ms) {
      close_by_click(b, g, in, "Voting on this choice has just closed.");
      goto out;
    }
    char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
    size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
    size_t base = story_base(g, n);
    story_note_message(b, g, in->message_id, in->message_webhook_id,
                       write || (size_t)choice < base ? -1 : choice);
    if (write) {
      open_move_form(b, g, in);
      goto out;
    }
    char label[GAME_CHOICE_MAX + 1];
    if (story_vote(b, g, round, user, choice, label, sizeof label)) {
      snprintf(text, sizeof text, "Sorry, %s.", err_msg());
      err_clear();
      respond(b, in, text, true);
      goto out;
    }
    int counts[STORY_CHOICES_MAX], voters = 0;
    if (store_game_tally(b->db, g->id, round, counts, STORY_CHOICES_MAX, &voters)) err_clear();
    snprintf(text, sizeof text, "You voted for **%s** (%d vote%s so far).", label, voters,
             voters == 1 ? "" : "s");
    if (story_all_voted(b, g))
      close_by_click(b, g, in, text); /* the last vote: the round closes with this click */
    else
      respond(b, in, text, true);
  } else if (strcmp(what, "hint") == 0) {
    char h[600];
    if (give_hint(b, g, round, h, sizeof h)) {
      snprintf(text, sizeof text, "No hint: %s.", err_msg());
      err_clear();
      respond(b, in, text, true);
      if (g->round != round) grey_clicked(b, in, false);
    } else {
      respond(b, in, h, false);
    }
  } else {
    respond(b, in, "This button no longer does anything.", true);
  }
out:
  mem_free(g);
  return 0;
}

/* A channel's write-in: a new choice of the round (one per person per round, while there is room),
 * with the writer's vote on it and a message offering it to the others with its own button. */
static void story_write_in(bot *b, store_game *g, const discord_interaction *in, const char *move) {
  char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
  char text[700], label[GAME_CHOICE_MAX + 1];
  size_t ml = strlen(move);
  ml = utf8_floor(move, ml, GAME_CHOICE_MAX);
  memcpy(label, move, ml);
  label[ml] = 0;
  for (size_t i = 0; i < n; i++)
    if (str_ieq(label, choices[i])) { /* the same move as a choice: a vote for it */
      if (story_vote(b, g, g->round, in->user.id, (int)i, label, sizeof label)) {
        snprintf(text, sizeof text, "Sorry, %s.", err_msg());
        err_clear();
      } else {
        snprintf(text, sizeof text, "That is choice %zu already: your vote is on **%s**.", i + 1,
                 label);
      }
      respond(b, in, text, true);
      if (story_all_voted(b, g)) story_decide(b, g, NULL, 0);
      return;
    }
  json_t *st = state_of(g);
  json_t *wrote = json_object_get(st, "wrote");
  char who[24];
  snprintf(who, sizeof who, "%" PRIu64, in->user.id);
  size_t i;
  const json_t *v;
  bool again = false;
  json_array_foreach(wrote, i, v) again =
      again || (json_is_string(v) && !strcmp(json_string_value(v), who));
  if (again || n >= STORY_CHOICES_MAX) {
    json_decref(st);
    respond(b, in,
            again ? "You have written in a move this round already: vote for one of the choices."
                  : "This round has all the write-ins it can take: vote for one of the choices.",
            true);
    return;
  }
  json_t *ch = json_object_get(st, "choices");
  if (!json_is_array(ch)) {
    ch = json_array();
    json_object_set_new(st, "choices", ch);
  }
  json_array_append_new(ch, json_string(label));
  if (!json_is_array(wrote)) {
    wrote = json_array();
    json_object_set_new(st, "wrote", wrote);
  }
  json_array_append_new(wrote, json_string(who));
  state_put(g, st);
  if (save(b, g)) {
    respond(b, in, "Your move could not be recorded; try again.", true);
    return;
  }
  char got[GAME_CHOICE_MAX + 1];
  if (story_vote(b, g, g->round, in->user.id, (int)n, got, sizeof got)) err_clear();
  snprintf(text, sizeof text, "Your move is choice %zu on the ballot, with your vote on it.",
           n + 1);
  respond(b, in, text, true);
  char ids[1][64];
  discord_component btn[1];
  char all[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
  size_t na = story_choices(g, all, STORY_CHOICES_MAX);
  size_t k = story_buttons(g, g->round, all, n, na, false, false, ids, btn);
  discord_action_row row = {.items = btn, .n_items = k};
  snprintf(text, sizeof text,
           "\xE2\x9C\x8D\xEF\xB8\x8F <@%" PRIu64 "> wrote in choice **%zu**: %s\n_Vote for it with "
           "its button or by typing %zu._",
           in->user.id, n + 1, label, n + 1);
  game_post(b, g, text, k ? &row : NULL, k ? 1 : 0);
  if (story_all_voted(b, g)) story_decide(b, g, NULL, 0);
}

void games__own_message(bot *b, const discord_message *m) {
  char what[16];
  int64_t id;
  int round, choice;
  if (!m->first_custom_id ||
      !parse_custom_id(m->first_custom_id, what, sizeof what, &id, &round, &choice) ||
      (strcmp(what, "story") != 0 && strcmp(what, "write") != 0))
    return;
  store_game *g = xalloc(sizeof *g);
  if (store_game_get(b->db, id, g)) {
    err_clear();
  } else if (g->channel_id == m->channel_id && story_open_round(g, round)) {
    char choices[STORY_CHOICES_MAX][GAME_CHOICE_MAX + 1];
    size_t n = story_choices(g, choices, STORY_CHOICES_MAX);
    size_t base = story_base(g, n);
    story_note_message(b, g, m->id, m->webhook_id,
                       choice < 0 || (size_t)choice < base ? -1 : choice);
  }
  mem_free(g);
}

int games__on_modal(bot *b, const discord_interaction *in) {
  char what[16];
  int64_t id;
  int round, choice;
  if (!parse_custom_id(in->custom_id, what, sizeof what, &id, &round, &choice) ||
      strcmp(what, "move") != 0 || choice != -1)
    return err_set(MIMIC_EINVAL, "not a game's form");
  store_game *g = xalloc(sizeof *g);
  if (!playable(b, in, id, g)) goto out;
  if (!story_open_round(g, round)) {
    respond(b, in, "Sorry, this choice has closed; your move was not counted.", true);
    goto out;
  }
  if (g->deadline_ms && bot__now(b) >= g->deadline_ms) {
    respond(b, in, "Voting on this choice has just closed; your move was not counted.", true);
    story_decide(b, g, NULL, 0);
    goto out;
  }
  const char *v = discord_modal_value(in, "move");
  char *move = xstrdup(v ? v : "");
  str_trim(move);
  for (char *p = move; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' '; /* one line: it is a choice or a log line */
  if (!*move) {
    respond(b, in, "An empty move changes nothing: write what you do.", true);
  } else if (!g->guild_id) {
    /* a DM: the reader's move is the choice */
    if (store_game_vote(b->db, g->id, g->round, in->user.id, 0, bot__now(b))) err_clear();
    char text[GAMES_MOVE_MAX + 32];
    snprintf(text, sizeof text, "**Your move:** %s", move);
    respond(b, in, text, false);
    story_decide(b, g, move, 0);
  } else {
    story_write_in(b, g, in, move);
  }
  mem_free(move);
out:
  mem_free(g);
  return 0;
}

/* ---- commands ---- */

/* "<@123>", "<@!123>" or "123" at the start of s; *rest after it. */
static bool parse_user(const char *s, uint64_t *id, const char **rest) {
  while (isspace((unsigned char)*s)) s++;
  char tmp[24];
  size_t n = 0;
  bool mention = s[0] == '<' && s[1] == '@';
  if (mention) s += s[2] == '!' ? 3 : 2;
  while (isdigit((unsigned char)*s) && n < sizeof tmp - 1) tmp[n++] = *s++;
  tmp[n] = 0;
  if (mention && *s++ != '>') return false;
  if (!n || (*s && !isspace((unsigned char)*s)) || str_to_u64(tmp, id) || !*id) {
    err_clear();
    return false;
  }
  while (isspace((unsigned char)*s)) s++;
  *rest = s;
  return true;
}

static void next_word(const char **p, char *w, size_t cap) {
  const char *s = *p;
  while (isspace((unsigned char)*s)) s++;
  size_t n = 0;
  while (*s && !isspace((unsigned char)*s)) {
    if (n + 1 < cap) w[n++] = (char)tolower((unsigned char)*s);
    s++;
  }
  w[n] = 0;
  while (isspace((unsigned char)*s)) s++;
  *p = s;
}

/* A persona named by the first word of *rest (moved past it), or 0. */
static int64_t persona_word(bot *b, const char **rest) {
  const char *p = *rest;
  char w[STORE_PERSONA_NAME_MAX + 1];
  next_word(&p, w, sizeof w);
  if (!*w || !b->route) return 0;
  if (persona__load(b, false)) err_clear();
  int64_t id = proute_set_find(b->route, w);
  if (id) *rest = p;
  return id;
}

static void start_game(bot *b, const game_cmd *x, const char *kind, const char *rest) {
  store_game *g = xcalloc(1, sizeof *g);
  if (store_game_running(b->db, x->channel_id, g) == 0) {
    cmd_reply(b, x, "A %s game is running here already; `%sgame stop` ends it.", g->kind,
              b->prefix);
    goto out;
  }
  err_clear();
  memset(g, 0, sizeof *g);
  str_lcpy(g->kind, kind, sizeof g->kind);
  g->guild_id = x->guild_id;
  g->channel_id = x->channel_id;
  g->started_by = x->user_id;
  g->persona_id = persona_word(b, &rest);
  /* in a DM, the persona the reader talks to hosts unless another is named */
  if (!g->persona_id && !x->guild_id) g->persona_id = persona__dm_choice(b, x->user_id);
  size_t tl = strlen(rest);
  if (tl >= sizeof g->topic) tl = utf8_floor(rest, tl, sizeof g->topic - 1);
  memcpy(g->topic, rest, tl);
  g->topic[tl] = 0;
  bool story = strcmp(kind, "story") == 0;
  g->rounds = (int)(story ? cfg_int(b->cfg, CFG_GAMES_STORY_ROUNDS) + 1
                          : cfg_int(b->cfg, CFG_GAMES_ROUNDS));
  g->round = 1;
  g->phase = STORE_GAME_PREPARING;
  if (story) {
    json_t *st = json_object();
    json_object_set_new(st, "premise", json_string(g->topic));
    char *s = jv_dump_compact(st);
    str_lcpy(g->state, s ? s : "{}", sizeof g->state);
    free(s);
    json_decref(st);
  } else {
    str_lcpy(g->state, "{}", sizeof g->state);
  }
  g->created_ms = bot__now(b);
  if (store_game_start(b->db, g)) {
    cmd_reply(b, x, "Could not start the game: %s", err_msg());
    err_clear();
    goto out;
  }
  LOG_I("games", "user %" PRIu64 " started %s game %" PRId64 " in channel %" PRIu64, x->user_id,
        kind, g->id, x->channel_id);
  const bot_persona *bp = g->persona_id ? persona__get(b, g->persona_id) : NULL;
  if (story)
    cmd_reply(b, x, "A story begins%s%s%s. %s", bp ? ", told by **" : "", bp ? bp->p.name : "",
              bp ? "**" : "",
              x->is_dm ? "Choose with the buttons, a number, or write your own move."
                       : "Vote with the buttons; the most votes decide.");
  else
    cmd_reply(b, x,
              "**%s**: %d questions, %" PRId64 " s each. Answer in the chat; first right "
              "answer wins %" PRId64 " points, one try each.",
              kind_title(g), g->rounds, cfg_int(b->cfg, CFG_GAMES_ANSWER_S),
              cfg_int(b->cfg, CFG_GAMES_POINTS));
  prepare_round(b, g);
out:
  mem_free(g);
}

static void game_state(bot *b, const game_cmd *x) {
  store_game *g = xalloc(sizeof *g);
  if (store_game_running(b->db, x->channel_id, g)) {
    err_clear();
    cmd_reply(b, x,
              "No game here. Start one: `%sgame trivia [topic]`, `%sgame riddle`, `%sgame story "
              "[persona] [premise]`.",
              b->prefix, b->prefix, b->prefix);
  } else if (g->phase == STORE_GAME_OPEN && is_qa(g)) {
    cmd_reply(b, x, "**%s** · question %d of %d\n%s", kind_title(g), g->round, g->rounds,
              g->question);
  } else if (g->phase == STORE_GAME_OPEN) {
    story_show(b, g);
  } else {
    cmd_reply(b, x, "**%s** · round %d of %d is being prepared.", kind_title(g), g->round,
              g->rounds);
  }
  mem_free(g);
}

void games__cmd_game(bot *b, const game_cmd *x) {
  const char *rest = x->args;
  char sub[16];
  next_word(&rest, sub, sizeof sub);
  if (!*sub) {
    game_state(b, x);
  } else if (strcmp(sub, "trivia") == 0 || strcmp(sub, "quiz") == 0) {
    start_game(b, x, "trivia", rest);
  } else if (strcmp(sub, "riddle") == 0 || strcmp(sub, "riddles") == 0) {
    start_game(b, x, "riddle", rest);
  } else if (strcmp(sub, "story") == 0) {
    games__cmd_story(b, &(game_cmd){.guild_id = x->guild_id,
                                    .channel_id = x->channel_id,
                                    .message_id = x->message_id,
                                    .user_id = x->user_id,
                                    .user_name = x->user_name,
                                    .admin = x->admin,
                                    .is_dm = x->is_dm,
                                    .args = rest,
                                    .reply = x->reply,
                                    .reply_user = x->reply_user});
  } else if (strcmp(sub, "hint") == 0) {
    store_game *g = xalloc(sizeof *g);
    char h[600];
    if (store_game_running(b->db, x->channel_id, g) || give_hint(b, g, g->round, h, sizeof h)) {
      cmd_reply(b, x, "No hint: %s.", err_msg());
      err_clear();
    } else {
      cmd_reply(b, x, "%s", h);
    }
    mem_free(g);
  } else if (strcmp(sub, "stop") == 0 || strcmp(sub, "end") == 0) {
    store_game *g = xalloc(sizeof *g);
    if (store_game_running(b->db, x->channel_id, g)) {
      err_clear();
      cmd_reply(b, x, "No game is running here.");
    } else if (g->started_by != x->user_id && !x->admin) {
      cmd_reply(b, x, "Only whoever started this game (or an admin) can stop it.");
    } else {
      char why[400];
      if (is_qa(g) && g->phase == STORE_GAME_OPEN)
        snprintf(why, sizeof why, "Game stopped. The answer was **%s**.", g->answer);
      else
        snprintf(why, sizeof why, "Game stopped.");
      LOG_I("games", "user %" PRIu64 " stopped game %" PRId64, x->user_id, g->id);
      finish_game(b, g, why);
    }
    mem_free(g);
  } else {
    cmd_reply(b, x,
              "Usage: `%sgame trivia [persona] [topic]`, `%sgame riddle`, `%sgame story "
              "[persona] [premise]`, `%sgame hint`, `%sgame stop`.",
              b->prefix, b->prefix, b->prefix, b->prefix, b->prefix);
  }
}

void games__cmd_story(bot *b, const game_cmd *x) {
  /* the words of /story start|resume|end (and of the text form): start is optional */
  const char *rest = x->args, *after = x->args;
  char w[16];
  next_word(&after, w, sizeof w);
  if (strcasecmp(w, "end") == 0 || strcasecmp(w, "stop") == 0) {
    game_cmd stop = *x;
    stop.args = "stop";
    games__cmd_game(b, &stop);
    return;
  }
  bool resume = strcasecmp(w, "resume") == 0;
  if (resume || strcasecmp(w, "start") == 0) rest = after;
  store_game *g = xalloc(sizeof *g);
  if (store_game_running(b->db, x->channel_id, g) == 0) {
    if (strcmp(g->kind, "story") != 0)
      cmd_reply(b, x, "A %s game is running here; `%sgame stop` ends it first.", g->kind,
                b->prefix);
    else if (g->phase == STORE_GAME_OPEN)
      story_show(b, g); /* resume: the passage and its buttons again */
    else
      cmd_reply(b, x, "The story goes on in a moment.");
    mem_free(g);
    return;
  }
  err_clear();
  mem_free(g);
  if (resume) {
    cmd_reply(b, x, "No story is running here; `%sstory start [persona] [premise]` begins one.",
              b->prefix);
    return;
  }
  start_game(b, x, "story", rest);
}

static void month_of(bot *b, const char *arg, int64_t *since, int64_t *until, char *label,
                     size_t cap, bool *ok) {
  *ok = true;
  if (!*arg) {
    *since = *until = 0;
    str_lcpy(label, "all time", cap);
  } else if (strcmp(arg, "month") == 0 || strcmp(arg, "season") == 0) {
    store_points_month(bot__now(b), since, until);
    str_lcpy(label, "this month", cap);
  } else if (store_points_month_parse(arg, since, until) == 0) {
    snprintf(label, cap, "%.7s", arg);
  } else {
    err_clear();
    *ok = false;
  }
}

void games__cmd_leaderboard(bot *b, const game_cmd *x) {
  char arg[16], label[32];
  const char *rest = x->args;
  next_word(&rest, arg, sizeof arg);
  int64_t since, until;
  bool ok;
  month_of(b, arg, &since, &until, label, sizeof label, &ok);
  if (!ok) {
    cmd_reply(b, x, "Usage: `%sleaderboard [month | YYYY-MM]`.", b->prefix);
    return;
  }
  store_points_row rows[GAMES_BOARD_MAX];
  size_t n = 0;
  if (store_points_top(b->db, x->guild_id, since, until, rows, GAMES_BOARD_MAX, &n)) {
    cmd_reply(b, x, "Could not read the leaderboard: %s", err_msg());
    err_clear();
    return;
  }
  if (!n) {
    cmd_reply(b, x, "Nobody has points %s yet. `%sgame trivia` starts a game.",
              since ? "this month" : "here", b->prefix);
    return;
  }
  buf o;
  buf_init(&o, 1900);
  int rc = buf_printf(&o, "**Leaderboard** (%s)%s\n", label, x->guild_id ? "" : " — DM games");
  for (size_t i = 0; i < n && !rc; i++) {
    rc = buf_printf(&o, "%zu. <@%" PRIu64 "> — %" PRId64 " points", i + 1, rows[i].user_id,
                    rows[i].points);
    if (!rc && rows[i].wins)
      rc = buf_printf(&o, " (%" PRId64 " win%s)", rows[i].wins, rows[i].wins == 1 ? "" : "s");
    if (!rc) rc = buf_puts(&o, "\n");
  }
  if (rc) err_clear();
  cmd_reply(b, x, "%s", o.data ? o.data : "");
  buf_free(&o);
}

void games__cmd_points(bot *b, const game_cmd *x) {
  const char *rest = x->args;
  char sub[16];
  const char *after = rest;
  next_word(&after, sub, sizeof sub);
  bool grant = strcmp(sub, "grant") == 0, revoke = strcmp(sub, "revoke") == 0;
  if (grant || revoke) {
    if (!x->admin) {
      LOG_W("audit", "user %" PRIu64 " tried %spoints %s but is not an admin; refused", x->user_id,
            b->prefix, sub);
      cmd_reply(b, x, "Only admins can %s points.", sub);
      return;
    }
    uint64_t who;
    const char *p;
    int64_t n = 0;
    char num[24];
    if (!parse_user(after, &who, &p)) goto usage;
    next_word(&p, num, sizeof num);
    if (str_to_i64(num, &n) || n <= 0 || n > STORE_POINTS_DELTA_MAX) {
      err_clear();
      goto usage;
    }
    char reason[STORE_POINTS_REASON_MAX];
    str_lcpy(reason, *p ? p : (grant ? "granted by an admin" : "revoked by an admin"),
             sizeof reason);
    if (strlen(p) >= sizeof reason)
      reason[utf8_floor(reason, strlen(reason), sizeof reason - 1)] = 0;
    store_points_tx t = {.guild_id = x->guild_id,
                         .user_id = who,
                         .delta = grant ? n : -n,
                         .reason = reason,
                         .game = "",
                         .by_user = x->user_id,
                         .ts_ms = bot__now(b)};
    if (store_points_add(b->db, &t, NULL)) {
      cmd_reply(b, x, "Could not %s points: %s", sub, err_msg());
      err_clear();
      return;
    }
    LOG_I("audit",
          "user %" PRIu64 " %s %" PRId64 " points %s user %" PRIu64 " in guild %" PRIu64 " (%s)",
          x->user_id, grant ? "granted" : "revoked", n, grant ? "to" : "from", who, x->guild_id,
          reason);
    int64_t bal = 0;
    if (store_points_balance(b->db, x->guild_id, who, 0, 0, &bal)) err_clear();
    cmd_reply(b, x, "%s %" PRId64 " points %s <@%" PRIu64 "> (%s). They have %" PRId64 " now.",
              grant ? "Granted" : "Revoked", n, grant ? "to" : "from", who, reason, bal);
    return;
  usage:
    cmd_reply(b, x, "Usage: `%spoints %s @user N [reason]` (N from 1 to %d).", b->prefix, sub,
              STORE_POINTS_DELTA_MAX);
    return;
  }
  uint64_t who = x->user_id;
  const char *p;
  if (*rest && !parse_user(rest, &who, &p)) {
    cmd_reply(b, x, "Usage: `%spoints [@user]`; admins: `%spoints grant|revoke @user N reason`.",
              b->prefix, b->prefix);
    return;
  }
  int64_t all = 0, month = 0, since, until;
  store_points_month(bot__now(b), &since, &until);
  if (store_points_balance(b->db, x->guild_id, who, 0, 0, &all) ||
      store_points_balance(b->db, x->guild_id, who, since, until, &month)) {
    cmd_reply(b, x, "Could not read the points: %s", err_msg());
    err_clear();
    return;
  }
  if (who == x->user_id)
    cmd_reply(b, x, "You have %" PRId64 " points here (%" PRId64 " this month).", all, month);
  else
    cmd_reply(b, x, "<@%" PRIu64 "> has %" PRId64 " points here (%" PRId64 " this month).", who,
              all, month);
}

void games__cmd_profile(bot *b, const game_cmd *x) {
  uint64_t who = x->user_id;
  const char *p;
  if (*x->args && !parse_user(x->args, &who, &p)) {
    cmd_reply(b, x, "Usage: `%sprofile [@user]`.", b->prefix);
    return;
  }
  int64_t since, until;
  store_points_month(bot__now(b), &since, &until);
  store_points_profile pr;
  if (store_points_profile_get(b->db, x->guild_id, who, since, until, &pr)) {
    cmd_reply(b, x, "Could not read the profile: %s", err_msg());
    err_clear();
    return;
  }
  uintptr_t flags = (uintptr_t)map_get(&b->ignored, who);
  const char *privacy = flags & STORE_FLAG_EXCLUDED    ? "excluded by an admin"
                        : flags & STORE_FLAG_OPTED_OUT ? "opted out (nothing new is stored)"
                                                       : "messages may be learned from";
  const bot_persona *bp = persona__get(b, persona__dm_choice(b, who));
  char rank[32] = "unranked";
  if (pr.rank) snprintf(rank, sizeof rank, "#%" PRId64, pr.rank);
  cmd_reply(b, x,
            "**Profile** of <@%" PRIu64 ">\npoints: %" PRId64 " (this month %" PRId64
            "), %s here\ngames played: %" PRId64 ", questions won: %" PRId64
            "\nDM persona: %s\nprivacy: %s",
            who, pr.points, pr.points_month, rank, pr.games_played, pr.rounds_won,
            bp ? bp->p.name : "none", privacy);
}
