/* Test harness for the bot: a recording fake of bot_actions (sends, typing, DMs, reactions,
 * restart and job requests, persona posts, interaction responses, edits and follow-ups), a fake
 * clock, gateway events built on the stack, and the echo of the
 * bot's own posts as MESSAGE_CREATE events delivered later (as the gateway does), so two bots can
 * be wired to each other. Shared by tests/bot/test_bot*.c and bench/bench_bot.c. */
#ifndef MIMIC_TESTS_BOT_HARNESS_H
#define MIMIC_TESTS_BOT_HARNESS_H
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "bot/bot.h"

#define REC_MAX  256
#define REC_TEXT 2100

#define REC_POSTS 32 /* persona posts, responses, follow-ups (and edits) recorded */

/* What the components and files of a post were: counts, and the first button's (or select's)
 * label or placeholder and the first file's name, copied. */
typedef struct rec_extras {
  int n_rows, n_items, n_files;
  int n_disabled; /* components sent disabled */
  char first_label[81];
  char first_file[64];
  size_t file_bytes;
} rec_extras;

typedef struct rec_send {
  uint64_t channel, reply_to;
  bool ping;
  char text[REC_TEXT];
  rec_extras x;
} rec_send;

typedef struct rec_persona {
  uint64_t channel, thread, guild;
  char username[81];
  char avatar[256];
  char avatar_file[256];
  char text[REC_TEXT];
  uint64_t reply_to, reply_user;
  bool ping_reply;
  int64_t persona_id;
  rec_extras x;
} rec_persona;

typedef struct rec_response {
  uint64_t interaction;
  char token[128];
  discord_response_type type;
  bool ephemeral;
  char text[REC_TEXT];
  int n_choices;
  char first_choice[101];
  rec_extras x;
  /* MODAL */
  char modal_title[64], modal_id[101];
  int n_inputs;
  char first_input_id[101];
  char first_value[REC_TEXT]; /* the first text input's prefilled value */
  int first_max;              /* its max_length */
} rec_response;

typedef struct rec_edit {
  uint64_t channel, message, webhook, thread;
  bool has_content;
  char text[REC_TEXT];
  rec_extras x;
} rec_edit;

typedef struct rec_followup {
  bool edit; /* edit_original rather than a follow-up */
  uint64_t application;
  char token[128];
  bool ephemeral;
  char text[REC_TEXT];
  rec_extras x;
} rec_followup;

typedef struct rec_echo {
  uint64_t channel, id;
  char text[REC_TEXT];
} rec_echo;

typedef struct rec {
  rec_send sends[REC_MAX];
  int n_sends;
  uint64_t typing[REC_MAX];
  int n_typing;
  uint64_t dm_user[32];
  char dm_text[32][600];
  int n_dms;
  char reacts[32][32];
  int n_reacts;
  int restarts;
  char jobs[8][16];
  int n_jobs;
  rec_persona personas[REC_POSTS];
  int n_personas;
  rec_response responses[REC_POSTS];
  int n_responses;
  rec_followup followups[REC_POSTS]; /* follow-ups and edits of the original, in order */
  int n_followups;
  rec_edit edits[REC_POSTS]; /* edits of posted messages (edit_message) */
  int n_edits;
  int refuse_send; /* nonzero: send fails with this code */
  /* identity for echoes */
  uint64_t self_id;
  const char *self_name;
  bool self_bot;
  rec_echo echo[REC_MAX];
  int n_echo;
  uint64_t *next_id; /* shared message id counter */
} rec;

static inline void rec__extras(rec_extras *x, const discord_action_row *rows, size_t n_rows,
                               const discord_file *files, size_t n_files) {
  memset(x, 0, sizeof *x);
  x->n_rows = (int)n_rows;
  x->n_files = (int)n_files;
  for (size_t i = 0; i < n_rows; i++) {
    for (size_t k = 0; k < rows[i].n_items; k++) {
      const discord_component *c = &rows[i].items[k];
      const char *l = c->type == DISCORD_COMPONENT_STRING_SELECT ? c->placeholder : c->label;
      if (x->n_items++ == 0) str_lcpy(x->first_label, l ? l : "", sizeof x->first_label);
      if (c->disabled) x->n_disabled++;
    }
  }
  for (size_t i = 0; i < n_files; i++) {
    if (i == 0) str_lcpy(x->first_file, files[i].filename, sizeof x->first_file);
    x->file_bytes += files[i].size;
  }
}

static inline int rec__send(void *u, const bot_send *m) {
  rec *r = u;
  if (r->refuse_send) return err_set(r->refuse_send, "the fake REST client refused");
  if (r->n_sends < REC_MAX) {
    rec_send *s = &r->sends[r->n_sends++];
    s->channel = m->channel_id;
    s->reply_to = m->reply_to;
    s->ping = m->ping_replied_user;
    str_lcpy(s->text, m->text, sizeof s->text);
    rec__extras(&s->x, m->rows, m->n_rows, m->files, m->n_files);
  }
  if (r->next_id && r->n_echo < REC_MAX) {
    rec_echo *e = &r->echo[r->n_echo++];
    e->channel = m->channel_id;
    e->id = ++*r->next_id;
    str_lcpy(e->text, m->text, sizeof e->text);
  }
  return 0;
}
static inline int rec__typing(void *u, uint64_t ch) {
  rec *r = u;
  if (r->n_typing < REC_MAX) r->typing[r->n_typing++] = ch;
  return 0;
}
static inline int rec__dm(void *u, uint64_t user, const char *text) {
  rec *r = u;
  if (r->n_dms < 32) {
    r->dm_user[r->n_dms] = user;
    str_lcpy(r->dm_text[r->n_dms], text, sizeof r->dm_text[0]);
    r->n_dms++;
  }
  return 0;
}
static inline int rec__react(void *u, uint64_t ch, uint64_t msg, const char *emoji) {
  (void)ch, (void)msg;
  rec *r = u;
  if (r->n_reacts < 32) str_lcpy(r->reacts[r->n_reacts++], emoji, sizeof r->reacts[0]);
  return 0;
}
static inline int rec__restart(void *u) {
  ((rec *)u)->restarts++;
  return 0;
}
static inline int rec__job(void *u, const char *job, uint64_t by, uint64_t ch) {
  (void)by, (void)ch;
  rec *r = u;
  if (r->n_jobs < 8) str_lcpy(r->jobs[r->n_jobs++], job, sizeof r->jobs[0]);
  return 0;
}

static inline int rec__persona(void *u, const bot_persona_send *m) {
  rec *r = u;
  if (r->refuse_send) return err_set(r->refuse_send, "the fake REST client refused");
  if (r->n_personas < REC_POSTS) {
    rec_persona *p = &r->personas[r->n_personas++];
    p->channel = m->channel_id;
    p->thread = m->thread_id;
    str_lcpy(p->username, m->username, sizeof p->username);
    str_lcpy(p->avatar, m->avatar_url ? m->avatar_url : "", sizeof p->avatar);
    str_lcpy(p->avatar_file, m->avatar_file ? m->avatar_file : "", sizeof p->avatar_file);
    str_lcpy(p->text, m->text, sizeof p->text);
    p->guild = m->guild_id;
    p->reply_to = m->reply_to;
    p->reply_user = m->reply_user;
    p->ping_reply = m->ping_reply;
    p->persona_id = m->persona_id;
    rec__extras(&p->x, m->rows, m->n_rows, m->files, m->n_files);
  }
  return 0;
}
static inline int rec__respond(void *u, const bot_response *m) {
  rec *r = u;
  if (r->refuse_send) return err_set(r->refuse_send, "the fake REST client refused");
  if (r->n_responses < REC_POSTS) {
    rec_response *p = &r->responses[r->n_responses++];
    p->interaction = m->interaction_id;
    str_lcpy(p->token, m->token, sizeof p->token);
    p->type = m->type;
    p->ephemeral = m->ephemeral;
    str_lcpy(p->text, m->text ? m->text : "", sizeof p->text);
    p->n_choices = (int)m->n_choices;
    str_lcpy(p->first_choice, m->n_choices ? m->choices[0].name : "", sizeof p->first_choice);
    rec__extras(&p->x, m->rows, m->n_rows, NULL, 0);
    if (m->modal) {
      str_lcpy(p->modal_title, m->modal->title ? m->modal->title : "", sizeof p->modal_title);
      str_lcpy(p->modal_id, m->modal->custom_id ? m->modal->custom_id : "", sizeof p->modal_id);
      p->n_inputs = (int)m->modal->n_inputs;
      if (m->modal->n_inputs) {
        const discord_text_input *t = &m->modal->inputs[0];
        str_lcpy(p->first_input_id, t->custom_id ? t->custom_id : "", sizeof p->first_input_id);
        str_lcpy(p->first_value, t->value ? t->value : "", sizeof p->first_value);
        p->first_max = t->max_length;
      }
    }
  }
  return 0;
}
static inline int rec__edit_message(void *u, const discord_edit *e) {
  rec *r = u;
  if (r->refuse_send) return err_set(r->refuse_send, "the fake REST client refused");
  if (r->n_edits < REC_POSTS) {
    rec_edit *p = &r->edits[r->n_edits++];
    p->channel = e->channel_id;
    p->message = e->message_id;
    p->webhook = e->webhook_id;
    p->thread = e->thread_id;
    p->has_content = e->content != NULL;
    str_lcpy(p->text, e->content ? e->content : "", sizeof p->text);
    rec__extras(&p->x, e->rows, e->n_rows, NULL, 0);
  }
  return 0;
}
static inline int rec__followup_of(rec *r, const bot_followup *f, bool edit) {
  if (r->refuse_send) return err_set(r->refuse_send, "the fake REST client refused");
  if (r->n_followups < REC_POSTS) {
    rec_followup *p = &r->followups[r->n_followups++];
    p->edit = edit;
    p->application = f->application_id;
    str_lcpy(p->token, f->token, sizeof p->token);
    p->ephemeral = f->ephemeral;
    str_lcpy(p->text, f->text ? f->text : "", sizeof p->text);
    rec__extras(&p->x, f->rows, f->n_rows, f->files, f->n_files);
  }
  return 0;
}
static inline int rec__edit_original(void *u, const bot_followup *f) {
  return rec__followup_of(u, f, true);
}
static inline int rec__followup(void *u, const bot_followup *f) {
  return rec__followup_of(u, f, false);
}

static inline bot_actions rec_actions(rec *r) {
  bot_actions a = {.user = r,
                   .send = rec__send,
                   .typing = rec__typing,
                   .send_dm = rec__dm,
                   .react = rec__react,
                   .request_restart = rec__restart,
                   .start_job = rec__job,
                   .persona_send = rec__persona,
                   .respond = rec__respond,
                   .edit_original = rec__edit_original,
                   .followup = rec__followup,
                   .edit_message = rec__edit_message};
  return a;
}

/* ---- fake clock ---- */

static int64_t h_now = 1700000000000LL;
static inline int64_t h_clock(void *u) {
  (void)u;
  return h_now;
}

/* ---- events ---- */

typedef struct h_user {
  uint64_t id;
  const char *name;
  bool bot;
} h_user;

/* A MESSAGE_CREATE event borrowing its strings; mentions: up to 4 ids (0-terminated list). */
typedef struct h_msg {
  discord_event ev;
  discord_id mentions[4];
} h_msg;

static inline void h_message(h_msg *hm, uint64_t id, uint64_t channel, uint64_t guild, h_user who,
                             const char *text) {
  memset(hm, 0, sizeof *hm);
  discord_event *ev = &hm->ev;
  ev->type = DISCORD_EV_MESSAGE_CREATE;
  discord_message *m = &ev->u.message;
  m->id = id;
  m->channel_id = channel;
  m->guild_id = guild;
  m->has_author = true;
  m->author.id = who.id;
  m->author.username = who.name;
  m->author.global_name = "";
  m->author.discriminator = "0";
  m->author.avatar = "";
  m->author.bot = who.bot;
  m->member.nick = "";
  m->content = text;
  m->has_content = true;
  m->timestamp_ms = h_now;
  m->channel_type = guild ? 0 : 1;
  m->mentions = hm->mentions;
}

static inline void h_mention(h_msg *hm, uint64_t user) {
  discord_message *m = &hm->ev.u.message;
  m->mentions[m->n_mentions++] = user;
}

static inline int h_ready(bot *b, uint64_t self_id, const char *name) {
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_READY;
  ev.u.ready.user.id = self_id;
  ev.u.ready.user.username = name;
  ev.u.ready.user.global_name = "";
  ev.u.ready.user.discriminator = "0";
  ev.u.ready.user.avatar = "";
  ev.u.ready.user.bot = true;
  ev.u.ready.session_id = "s";
  ev.u.ready.resume_gateway_url = "";
  return bot_handle_event(b, &ev);
}

/* Delivers the echoes r has queued (the bot's own posts coming back through the gateway) to each
 * bot in `to`; returns how many were delivered. */
static inline int h_deliver_echoes(rec *r, bot *const *to, int n_to, uint64_t guild) {
  int n = r->n_echo;
  for (int i = 0; i < n; i++) {
    h_msg hm;
    h_message(&hm, r->echo[i].id, r->echo[i].channel, guild,
              (h_user){r->self_id, r->self_name, r->self_bot}, r->echo[i].text);
    for (int k = 0; k < n_to; k++)
      if (bot_handle_event(to[k], &hm.ev)) err_clear();
  }
  r->n_echo = 0;
  return n;
}

#endif
