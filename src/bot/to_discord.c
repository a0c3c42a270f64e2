/* The bot's requests as copied Discord actions (see to_discord.h): a field-by-field mapping onto
 * the Discord layer's structs, whose action makers do the deep copy. */
#include "bot/to_discord.h"

discord_action *bot_action_send(const bot_send *m) {
  discord_send s = {.channel_id = m->channel_id,
                    .content = m->text,
                    .reply_to = m->reply_to,
                    .ping_reply = m->ping_replied_user,
                    .rows = m->rows,
                    .n_rows = m->n_rows,
                    .files = m->files,
                    .n_files = m->n_files};
  return discord_action_send(&s);
}

discord_action *bot_action_dm(uint64_t user_id, const char *text) {
  discord_send s = {.content = text};
  return discord_action_send_dm(user_id, &s);
}

discord_action *bot_action_persona_send(const bot_persona_send *m) {
  discord_persona_send p = {.channel_id = m->channel_id,
                            .thread_id = m->thread_id,
                            .guild_id = m->guild_id,
                            .username = m->username,
                            .avatar_url = m->avatar_url,
                            .avatar_file = m->avatar_file,
                            .avatar_key = m->avatar_key,
                            .content = m->text,
                            .reply_to = m->reply_to,
                            .reply_user = m->reply_user,
                            .reply_excerpt = m->reply_excerpt,
                            .ping_reply = m->ping_reply,
                            .tag = (uint64_t)m->persona_id,
                            .rows = m->rows,
                            .n_rows = m->n_rows,
                            .files = m->files,
                            .n_files = m->n_files};
  return discord_action_persona_send(&p);
}

discord_action *bot_action_respond(const bot_response *r) {
  discord_response d = {.interaction_id = r->interaction_id,
                        .token = r->token,
                        .type = r->type,
                        .content = r->text,
                        .ephemeral = r->ephemeral,
                        .rows = r->rows,
                        .n_rows = r->n_rows,
                        .choices = r->choices,
                        .n_choices = r->n_choices,
                        .modal = r->modal};
  return discord_action_respond(&d);
}

static discord_followup followup_of(const bot_followup *f) {
  return (discord_followup){.application_id = f->application_id,
                            .token = f->token,
                            .content = f->text,
                            .ephemeral = f->ephemeral,
                            .rows = f->rows,
                            .n_rows = f->n_rows,
                            .files = f->files,
                            .n_files = f->n_files};
}

discord_action *bot_action_followup(const bot_followup *f) {
  discord_followup d = followup_of(f);
  return discord_action_followup(&d);
}

discord_action *bot_action_edit_original(const bot_followup *f) {
  discord_followup d = followup_of(f);
  return discord_action_edit_original(&d);
}
