/* mimic's entry point: finds the subcommand and runs it. Kept thin on purpose. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct cli_cmd {
  const char *name;
  cli_cmd_fn fn;
  const char *summary;
} cli_cmd;

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const cli_cmd commands[] = {
    {"run", cmd_run, "connect to Discord and chat (needs DISCORD_TOKEN)"},
    {"discord", cmd_discord, "discord check: verify the token and show what GET /gateway/bot says"},
    {"config", cmd_config,
     "config check: validate the configuration and show every value's source"},
    {"model", cmd_model,
     "model info M.gguf | model make-random OUT.gguf: inspect or fake a GGUF model"},
    {"quantize", cmd_quantize,
     "quantize IN.gguf OUT.gguf TYPE: convert a model (q4_k_m, q8_0, ...)"},
    {"tokenize", cmd_tokenize, "print the token ids of a text for a model's vocabulary"},
    {"fetch", cmd_fetch,
     "fetch the guilds' history through the Discord API (all of it once, then what is new)"},
    {"import", cmd_import,
     "import FILE|DIR...: DiscordChatExporter JSON exports or Discord data packages"},
    {"prepare", cmd_prepare,
     "build training datasets (SFT, DPO, KTO) from the store into data/exports/"},
    {"privacy", cmd_privacy, "exclude|include|opt-out|opt-in USER_ID, or list: who is left out"},
    {"purge", cmd_purge,
     "purge --user ID: delete a person's messages from the store and every dataset"},
    {"stats", cmd_stats,
     "messages per person/channel/month, lengths, words, emoji, reactions (text + HTML)"},
    {"chat", cmd_chat,
     "talk to a model interactively (--model M.gguf [--lora A.gguf] [--backend openai --url U])"},
    {"generate", cmd_generate, "one completion for a prompt (-p TEXT or stdin)"},
    {"bench", cmd_bench, "prompt and generation tokens/s of a model (--model M.gguf [--json])"},
    {"logits", cmd_logits,
     "logits --model M --tokens 1,2,3 --out F: raw float32 logits per position"},
    {"train", cmd_train,
     "fine-tune with LoRA (SFT, --stage dpo|orpo) or train a tiny model --from-scratch"},
    {"merge", cmd_merge,
     "merge BASE.gguf ADAPTER.gguf OUT.gguf: write a standalone model with the adapter in"},
    {"eval", cmd_eval,
     "evaluate a model against held-out replies: perplexity, style metrics, blind test, HTML "
     "report"},
    {"demo", cmd_demo,
     "the offline demo: import the sample community, prepare, train, evaluate, chat"},
    {"simulate", cmd_simulate,
     "the bot's reply flow and !commands on the terminal, without Discord (--model M.gguf)"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "this list"},
};

static int cmd_help(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("mimic %s: a Discord bot that learns how a community talks\n\n", MIMIC_VERSION);
  printf("usage: mimic <command> [options]   (every command takes --config FILE)\n\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf("  %-10s %s\n", commands[i].name, commands[i].summary);
  printf("\nSee README.md and docs/ for details.\n");
  return 0;
}

static int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
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
