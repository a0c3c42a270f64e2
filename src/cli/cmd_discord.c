/* `mimic discord check`: talks to the Discord REST API (or the double named by discord.api) with
 * the configured token and reports who the bot is and what GET /gateway/bot recommends. The first
 * thing to run after setting DISCORD_TOKEN. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "discord/api.h"
#include "discord/rest.h"

int cmd_discord(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  int status = 1;
  char *tok = NULL;
  rest *r = NULL;
  json_t *me = NULL, *gw = NULL;
  if (argc < 2 || strcmp(argv[1], "check") != 0) {
    cli_error("usage: mimic discord check [--config FILE]");
    status = 2;
    goto out;
  }
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
  printf("bot: %s (id %s)\n", json_str(me, "username", "?"), json_str(me, "id", "?"));
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
