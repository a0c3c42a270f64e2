/* `mimic discord check`: talks to the Discord REST API (or the double named by discord.api) with
 * the configured token and reports who the bot is and what GET /gateway/bot recommends. The first
 * thing to run after setting DISCORD_TOKEN. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "discord/api.h"
#include "discord/rest.h"

static int discord_check(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "discord check",
      .summary = "Calls the Discord API (discord.api) with the configured token: who the bot is, "
                 "and what\nGET /gateway/bot recommends. The first thing to run after setting "
                 "DISCORD_TOKEN.",
      .example = "discord check --config mimic.conf",
      .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  char *tok = NULL;
  rest *r = NULL;
  json_t *me = NULL, *gw = NULL;
  tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    goto out;
  }
  log_add_secret(tok);
  rest_opts o;
  if (rest_opts_from_cfg(c, tok, &o) != 0 || rest_new(NULL, &o, &r) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (rest_call_sync(r, "GET", "/users/@me", NULL, &me, NULL, NULL) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("bot: %s (id %s)\n", jv_str(me, "username", "?"), jv_str(me, "id", "?"));
  if (rest_call_sync(r, "GET", "/gateway/bot", NULL, &gw, NULL, NULL) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  api_gateway_info gi;
  if (api_gateway_info_parse(gw, &gi) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("gateway: %s\nshards: %d recommended\nsession starts: %d of %d left, max_concurrency %d\n",
         gi.url, gi.shards, gi.session_remaining, gi.session_total, gi.max_concurrency);
  status = 0;
out:
  json_decref(me);
  json_decref(gw);
  rest_destroy(r);
  mem_free(tok);
  cfg_destroy(c);
  return status;
}

int cmd_discord(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"check", discord_check, "verify the token and show what GET /gateway/bot says"}, {0}};
  static const cli_spec spec = {.name = "discord",
                                .args = "check",
                                .summary = "Talks to the Discord API without starting the bot.",
                                .example = "discord check",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
