/* mimic's entry point: finds the subcommand and runs it. Kept thin on purpose. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"

typedef struct cli_cmd {
  const char *name;
  cli_cmd_fn fn;
  const char *summary;
} cli_cmd;

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const cli_cmd commands[] = {
    {"setup", cmd_setup, "the first run: token, intents, invite link, model, mimic.conf"},
    {"run", cmd_run, "the bot: connect to Discord and chat (needs DISCORD_TOKEN)"},
    {"dashboard", cmd_dashboard, "the web dashboard: supervise the bot, logs, stats, settings"},
    {"discord", cmd_discord, "discord check: verify the token, show what GET /gateway/bot says"},
    {"commands", cmd_commands, "commands list|sync|clear: the bot's slash commands"},
    {"config", cmd_config, "config check: validate the configuration, show each value's source"},
    {"fetch", cmd_fetch,
     "the guilds' history through the Discord API (all once, then what is new)"},
    {"import", cmd_import, "DiscordChatExporter JSON exports (files, folders) or data packages"},
    {"prepare", cmd_prepare, "build the training datasets (SFT, DPO, KTO) from the store"},
    {"privacy", cmd_privacy, "privacy exclude|include|opt-out|opt-in|purge USER_ID, or list"},
    {"purge", cmd_purge, "purge --user USER_ID: the older spelling of privacy purge USER_ID"},
    {"lore", cmd_lore,
     "lore add|list|remove|search: World Info, lore books and notes the bot knows"},
    {"embed-history", cmd_embed_history,
     "embed stored messages for community recall (resumable, with progress)"},
    {"stats", cmd_stats, "what the store holds: people, channels, months, words (text + HTML)"},
    {"persona", cmd_persona, "characters: add, import (cards), list, show, edit, export, gen-data"},
    {"train", cmd_train, "fine-tune with LoRA (SFT, DPO, ORPO) or train a tiny model from scratch"},
    {"merge", cmd_merge, "write a standalone model with an adapter merged in"},
    {"eval", cmd_eval, "perplexity, style metrics, blind test and HTML report for a model"},
    {"demo", cmd_demo, "the offline demo: sample community -> tiny model -> report -> chat"},
    {"simulate", cmd_simulate, "the bot's reply flow and !commands on the terminal, no Discord"},
    {"chat", cmd_chat, "talk to a model on the terminal"},
    {"generate", cmd_generate, "one completion for a prompt (-p TEXT, or standard input)"},
    {"bench", cmd_bench, "prompt and generation tokens/s of a model on this machine"},
    {"model", cmd_model, "model info M.gguf | model make-random OUT.gguf"},
    {"quantize", cmd_quantize, "convert a model to q4_k_m, q8_0, ... (quantize IN OUT TYPE)"},
    {"tokenize", cmd_tokenize, "the token ids of a text in a model's vocabulary"},
    {"embed", cmd_embed, "sentence embeddings (float32 rows) of texts with a BERT-family encoder"},
    {"logits", cmd_logits, "raw float32 logits per position, to compare with other engines"},
    {"vision", cmd_vision, "vision embed|describe: an image's embeddings, or a VLM's answer"},
    {"backup", cmd_backup, "a consistent copy of the database, config and adapters (--out DIR)"},
    {"schedule", cmd_schedule, "schedule next EXPR: when a cron expression fires, in a time zone"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "this list (help COMMAND: that command's options)"},
};

static int cmd_help(int argc, char **argv) {
  if (argc >= 2) { /* mimic help CMD: the command's own help */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
      if (strcmp(argv[1], commands[i].name) == 0 && commands[i].fn != cmd_help) {
        char *av[] = {argv[1], "--help", NULL};
        return commands[i].fn(2, av);
      }
    cli_error("unknown command '%s'; 'mimic help' lists the commands", argv[1]);
    return 2;
  }
  printf("mimic %s: a Discord bot that learns how a community talks\n\n", MIMIC_VERSION);
  printf("usage: mimic COMMAND [OPTIONS] [ARGUMENTS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf("  %-10s %s\n", commands[i].name, commands[i].summary);
  printf("\n'mimic COMMAND --help' (or 'mimic help COMMAND') shows a command's options and an "
         "example.\nSee README.md and docs/ for details.\n");
  return 0;
}

static int cmd_version(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "version", .summary = "Prints mimic's version.", .example = "version"};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  printf("mimic %s\n", MIMIC_VERSION);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    cmd_help(argc, argv);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(argc, argv);
  if (strcmp(argv[1], "--version") == 0) return cmd_version(argc, argv);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  cli_error("unknown command '%s'; 'mimic help' lists the commands", argv[1]);
  return 2;
}
