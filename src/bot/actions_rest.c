/* bot_actions over the REST client (see actions_rest.h). Every callback queues requests and
 * returns at once; completions arrive on the loop thread through rest callbacks. */
#include "bot/actions_rest.h"

#include <string.h>

#include "base/base.h"
#include "discord/api.h"

static void on_done(const rest_result *res, void *user) {
  actions_rest *ar = user;
  if (res->err) {
    ar->failed++;
    LOG_W("bot", "Discord refused an action: %s", res->message ? res->message : err_name(res->err));
  } else {
    ar->sent++;
  }
}

static int do_send(void *user, const bot_send *m) {
  actions_rest *ar = user;
  api_message msg = {.channel_id = m->channel_id,
                     .content = m->text,
                     .reply_to = m->reply_to,
                     .ping_reply = m->reply_to && m->ping_replied_user};
  return api_message_send(ar->client, &msg, on_done, ar);
}

static int do_typing(void *user, uint64_t channel_id) {
  actions_rest *ar = user;
  return api_typing(ar->client, channel_id, on_done, ar);
}

/* A DM needs the DM channel first: the text waits in this context until it is open. */
typedef struct dm_job {
  actions_rest *ar;
  char *text;
} dm_job;

static void on_dm_open(const rest_result *res, void *user) {
  dm_job *j = user;
  uint64_t channel = res->err ? 0 : json_snowflake(res->json, "id");
  if (!channel) {
    j->ar->failed++;
    LOG_W("bot", "could not open a DM channel: %s",
          res->message ? res->message : "no channel id in the answer");
  } else {
    api_message msg = {.channel_id = channel, .content = j->text};
    if (api_message_send(j->ar->client, &msg, on_done, j->ar)) {
      j->ar->failed++;
      LOG_W("bot", "could not send a DM: %s", err_msg());
    }
  }
  mem_free(j->text);
  mem_free(j);
}

static int do_send_dm(void *user, uint64_t user_id, const char *text) {
  actions_rest *ar = user;
  dm_job *j = xcalloc(1, sizeof *j);
  j->ar = ar;
  j->text = xstrdup(text);
  int rc = api_dm_open(ar->client, user_id, on_dm_open, j);
  if (rc) {
    mem_free(j->text);
    mem_free(j);
  }
  return rc;
}

static int do_react(void *user, uint64_t channel_id, uint64_t message_id, const char *emoji) {
  actions_rest *ar = user;
  return api_reaction_add(ar->client, channel_id, message_id, emoji, on_done, ar);
}

static int do_restart(void *user) {
  actions_rest *ar = user;
  if (!ar->request_restart) return err_set(MIMIC_EUNSUPPORTED, "restart is not available here");
  return ar->request_restart(ar->hook_user);
}

static int do_job(void *user, const char *job, uint64_t by, uint64_t channel) {
  actions_rest *ar = user;
  if (!ar->start_job) return err_set(MIMIC_EUNSUPPORTED, "%s is not available here", job);
  return ar->start_job(ar->hook_user, job, by, channel);
}

void actions_rest_bind(actions_rest *ar, bot_actions *out) {
  memset(out, 0, sizeof *out);
  out->user = ar;
  out->send = do_send;
  out->typing = do_typing;
  out->send_dm = do_send_dm;
  out->react = do_react;
  out->request_restart = do_restart;
  out->start_job = do_job;
}
