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
  {"config", cmd_config, "config check: validate the configuration and show every value's source"},
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
