/* Application commands as Discord documents them: the typed shape of a command definition (name,
 * description, typed options with choices and autocomplete, default_member_permissions,
 * contexts and integration_types), the exact JSON array a bulk overwrite sends, and its stable
 * hash (so registration happens only when the definitions changed). Also the parse of one
 * INTERACTION_CREATE payload on its own, for tests and the fuzz target. It holds no table of
 * mimic's commands (bot/slash.c does) and sends nothing (api_commands_overwrite does). */
#ifndef MIMIC_DISCORD_COMMANDS_H
#define MIMIC_DISCORD_COMMANDS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "discord/discord.h"

/* Option types (Discord's numbers). */
enum {
  DISCORD_OPT_SUB = 1,
  DISCORD_OPT_GROUP = 2,
  DISCORD_OPT_STRING = 3,
  DISCORD_OPT_INTEGER = 4,
  DISCORD_OPT_BOOLEAN = 5,
  DISCORD_OPT_USER = 6,
  DISCORD_OPT_CHANNEL = 7,
  DISCORD_OPT_ROLE = 8,
  DISCORD_OPT_NUMBER = 10,
  DISCORD_OPT_ATTACHMENT = 11
};

/* Permission bits used by mimic's admin commands (default_member_permissions). */
#define DISCORD_PERM_ADMINISTRATOR (1ull << 3)
#define DISCORD_PERM_MANAGE_GUILD  (1ull << 5)

/* Discord's limits on definitions: names 1-32 lowercase characters, descriptions 1-100, at most
 * 25 options per level and 25 choices, 100 global commands. */
#define DISCORD_CMD_NAME_MAX 32
#define DISCORD_CMD_DESC_MAX 100
#define DISCORD_CMD_OPTS_MAX 25
#define DISCORD_CMDS_MAX     100

typedef struct discord_cmd_choice {
  const char *name;  /* shown, 1-100 characters */
  const char *value; /* a string option's value; INTEGER/NUMBER options: its decimal form */
} discord_cmd_choice;

typedef struct discord_cmd_option {
  int type; /* DISCORD_OPT_* */
  const char *name, *description;
  bool required;
  bool autocomplete; /* STRING/INTEGER/NUMBER only; exclusive with choices */
  const discord_cmd_choice *choices;
  size_t n_choices;
  bool has_min, has_max; /* INTEGER/NUMBER: min_value/max_value; STRING: min_length/max_length */
  double min, max;
  const struct discord_cmd_option *options; /* SUB/GROUP: the nested options */
  size_t n_options;
} discord_cmd_option;

typedef struct discord_command {
  const char *name, *description;
  uint64_t permissions; /* default_member_permissions; 0: everyone may use it */
  bool dm;              /* usable in DMs with the bot too (contexts [0, 1]); else guilds only */
  const discord_cmd_option *options;
  size_t n_options;
} discord_command;

/* The JSON array of command objects (type 1, CHAT_INPUT) a PUT .../commands sends for cmds, in
 * order. Never NULL (allocation failure aborts); caller json_decref's. */
json_t *discord_commands_json(const discord_command *cmds, size_t n);

/* Checks every definition against Discord's rules (name shape and length, description length,
 * option counts, required options before optional ones, choices and autocomplete not together).
 * Errors: MIMIC_EINVAL naming the command and what is wrong. */
int discord_commands_check(const discord_command *cmds, size_t n) MIMIC_MUST;

/* A stable 64-bit hash of the array (its compact JSON with sorted keys) as 16 hex digits into
 * out[17]. */
void discord_commands_hash(const json_t *arr, char out[17]);

/* Largest INTERACTION_CREATE payload mimic reads on its own (the gateway caps whole messages). */
#define DISCORD_INTERACTION_MAX (64u << 10)

/* Parses the JSON of one INTERACTION_CREATE's d object into an event, exactly as the gateway does.
 * Errors: MIMIC_EFORMAT (not JSON, not an object), MIMIC_ERANGE (over DISCORD_INTERACTION_MAX),
 * MIMIC_ENOMEM. *out: free with discord_event_free. */
int discord_interaction_parse(const char *json, size_t n, discord_event **out) MIMIC_MUST;

#endif
