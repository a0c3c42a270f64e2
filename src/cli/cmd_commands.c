/* `mimic commands list|sync|clear`: the bot's slash commands. `list --json` prints, offline and
 * without a token, the exact array a sync sends; `sync` registers them (globally, or in one guild
 * with --guild) through a bulk overwrite, only when they changed since the last sync recorded in
 * the database (--force sends anyway); `clear` removes them. `mimic run` syncs at READY too. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bot/bot.h"
#include "cli/cli.h"
#include "cli/flags.h"
#include "discord/api.h"
#include "discord/commands.h"
#include "discord/rest.h"

/* The command array a sync sends (never NULL), after checking it against Discord's rules. */
static json_t *commands_array(size_t *n_out) {
  discord_command defs[BOT_COMMANDS_MAX];
  size_t n = bot_commands(defs, BOT_COMMANDS_MAX);
  if (n > BOT_COMMANDS_MAX) n = BOT_COMMANDS_MAX;
  if (discord_commands_check(defs, n)) {
    cli_error("the command definitions break Discord's rules: %s", err_msg());
    return NULL;
  }
  *n_out = n;
  return discord_commands_json(defs, n);
}

static int commands_list(int argc, char **argv) {
  bool as_json = false;
  static cli_opt opts[] = {
      {.name = "json",
       .type = CLI_BOOL,
       .help = "print the exact JSON array `commands sync` sends (no token needed)"},
      {0}};
  opts[0].dest = &as_json;
  static const cli_spec spec = {
      .name = "commands list",
      .summary = "Lists the slash commands this build defines: name, who may use them, where,\n"
                 "and the description. Offline: needs no token and no database.",
      .example = "commands list\ncommands list --json > commands.json",
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  size_t n = 0;
  json_t *arr = commands_array(&n);
  if (!arr) return 1;
  if (as_json) {
    char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "[]");
    free(s);
  } else {
    char hash[17];
    discord_commands_hash(arr, hash);
    discord_command defs[BOT_COMMANDS_MAX];
    bot_commands(defs, BOT_COMMANDS_MAX);
    for (size_t i = 0; i < n; i++)
      printf("/%-17s %-7s %-11s %s\n", defs[i].name, defs[i].permissions ? "admins" : "anyone",
             defs[i].dm ? "server+DM" : "server", defs[i].description);
    printf("%zu commands, definitions hash %s\n", n, hash);
  }
  json_decref(arr);
  return 0;
}

/* sync and clear: argv[0] is the verb. */
static int commands_send(int argc, char **argv) {
  bool clear = strcmp(argv[0], "clear") == 0;
  uint64_t guild = 0;
  bool force = false;
  static cli_opt opts[] = {
      {.name = "guild",
       .type = CLI_ID,
       .meta = "ID",
       .help = "register in this server only (shows at once; global commands are for every "
               "server)"},
      {.name = "force", .type = CLI_BOOL, .help = "send even when nothing changed"},
      {0}};
  opts[0].dest = &guild;
  opts[1].dest = &force;
  static const cli_spec sync_spec = {
      .name = "commands sync",
      .summary = "Registers the slash commands with Discord (PUT .../commands, a bulk overwrite),\n"
                 "only when the definitions changed since the last sync recorded in the database.",
      .example = "commands sync\ncommands sync --guild 81384788765712384",
      .config = true,
      .opts = opts};
  static const cli_spec clear_spec = {
      .name = "commands clear",
      .summary = "Removes every slash command of the bot (globally, or in one server).",
      .example = "commands clear --guild 81384788765712384",
      .config = true,
      .opts = opts};
  const cli_spec *spec = clear ? &clear_spec : &sync_spec;
  cli_args a;
  int status;
  cfg *c = cli_start(spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  char *tok = NULL;
  rest *r = NULL;
  store *db = NULL;
  json_t *arr = NULL, *answer = NULL;
  size_t n = 0;
  arr = clear ? json_array() : commands_array(&n);
  if (!arr) goto out;
  char hash[17] = "";
  if (!clear) discord_commands_hash(arr, hash);
  tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    goto out;
  }
  log_add_secret(tok);
  if (!(db = cli_store_open(c))) goto out;
  rest_opts o;
  if (rest_opts_from_cfg(c, tok, &o) != 0 || rest_new(NULL, &o, &r) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  api_application app;
  if (api_application_get(r, &app) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  char stored[17];
  if (bot_commands_hash_get(db, app.id, guild, stored)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (!clear && !force && strcmp(stored, hash) == 0) {
    printf("unchanged: %zu commands already registered %s (hash %s)\n", n,
           guild ? "in that server" : "globally", hash);
    status = 0;
    goto out;
  }
  char path[128];
  if (guild)
    snprintf(path, sizeof path, "/applications/%" PRIu64 "/guilds/%" PRIu64 "/commands", app.id,
             guild);
  else
    snprintf(path, sizeof path, "/applications/%" PRIu64 "/commands", app.id);
  if (rest_call_sync(r, "PUT", path, arr, &answer, NULL, NULL) != 0) {
    cli_error("registering the commands: %s", err_msg());
    goto out;
  }
  if (bot_commands_hash_put(db, app.id, guild, hash)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (clear)
    printf("cleared the commands of %s %s\n", app.name, guild ? "in that server" : "globally");
  else
    printf("registered %zu commands of %s %s (hash %s)%s\n", n, app.name,
           guild ? "in that server" : "globally", hash,
           guild ? "" : "; Discord may take a while to show global changes");
  status = 0;
out:
  json_decref(arr);
  json_decref(answer);
  rest_destroy(r);
  store_close(db);
  mem_free(tok);
  cfg_destroy(c);
  return status;
}

int cmd_commands(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"list", commands_list, "the slash commands (--json: the exact array a sync sends)"},
      {"sync", commands_send, "register them with Discord when they changed [--guild ID]"},
      {"clear", commands_send, "remove them [--guild ID]"},
      {0}};
  static const cli_spec spec = {.name = "commands",
                                .args = "list|sync|clear",
                                .summary = "The bot's slash commands (`mimic run` syncs them at "
                                           "start when they changed).",
                                .example =
                                    "commands list --json\ncommands sync --guild 81384788765712384",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
