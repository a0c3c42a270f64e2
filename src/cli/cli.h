/* The command-line front end: main.c dispatches to one cmd_* function per subcommand, each in its
 * own file. Only cli/ prints usage and exits; the layers below report errors through err_msg(). */
#ifndef MIMIC_CLI_H
#define MIMIC_CLI_H
#include "base/base.h"

/* Every subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_config(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_dashboard(int argc, char **argv); /* the web dashboard and its passwd */
int cmd_model(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_chat(int argc, char **argv);     /* interactive chat through llm_backend */
int cmd_generate(int argc, char **argv); /* one completion */
int cmd_bench(int argc, char **argv);    /* prompt/generation tokens per second */
int cmd_logits(int argc, char **argv);
int cmd_discord(int argc, char **argv);
int cmd_train(int argc, char **argv);    /* LoRA SFT/DPO/ORPO or from scratch */
int cmd_merge(int argc, char **argv);    /* base + adapter -> one model */
int cmd_eval(int argc, char **argv);     /* perplexity, style metrics, blind test, report */
int cmd_demo(int argc, char **argv);     /* the offline demo pipeline */
int cmd_simulate(int argc, char **argv); /* the bot's flow on the terminal */
int cmd_fetch(int argc, char **argv);    /* history through the Discord API into the store */
int cmd_persona(int argc, char **argv);  /* personas: add, import, list, show, edit, export, ... */

/* `mimic train --persona NAME` / `--cast` (cmd_persona.c holds the data side). */
typedef struct cli_persona_train {
  const char *persona; /* --persona NAME (name or alias), or NULL with cast */
  bool cast;           /* --cast: one shared adapter for every enabled persona */
  uint64_t member;     /* --member USER_ID: that member's own messages (their opt-in required) */
  const char *data;    /* --data FILE: a character dataset (JSONL conversations) */
} cli_persona_train;
/* Picks the training data and the adapter path: --member (after checking the member opted in,
 * whatever collect.require_consent says; their samples prepared under personas/NAME/member-ID/),
 * else --data, else personas/NAME/gen-data.jsonl; with cast, every persona's gen-data in one file.
 * Writes the paths into data, valid ("" when none) and out (personas/NAME/adapter.gguf, or
 * personas/cast-adapter.gguf). Returns 0, or 1 after printing why not. */
int cli_persona_train_data(const cfg *c, const cli_persona_train *t, char *data, size_t data_cap,
                           char *valid, size_t valid_cap, char *out, size_t out_cap);
/* Records the trained adapter in the persona row, where the bot picks it up; with cast, in every
 * enabled persona whose gen-data went in (every enabled one when --data was given). Returns 0, or 1
 * after printing why not. */
int cli_persona_train_done(const cfg *c, const cli_persona_train *t, const char *adapter);

int cmd_lore(int argc, char **argv);          /* lore books: add, list, remove, search */
int cmd_embed_history(int argc, char **argv); /* community messages embedded for recall */
int cmd_vision(int argc, char **argv);        /* vision embed | describe */
int cmd_setup(int argc, char **argv);    /* the first run: token, intents, invite, model, config */
int cmd_backup(int argc, char **argv);   /* a consistent copy of the database, config, adapters */
int cmd_schedule(int argc, char **argv); /* cron expressions: next fire times */
int cmd_commands(int argc, char **argv); /* slash commands: list, sync, clear */

/* Loads the configuration the way every subcommand does: defaults, then the file path (the
 * command's --config FILE; NULL: MIMIC_CONFIG, or ./mimic.conf when it exists), then the
 * environment. Applies log settings. Returns NULL after printing one clear sentence. */
cfg *cli_config_load(const char *path);

/* Opens the database named by store.path (creating its folder), or prints why not and returns
 * NULL. Close with store_close. */
struct store *cli_store_open(const cfg *c);

/* Prints "mimic: <message>" to stderr. */
void cli_error(const char *fmt, ...) MIMIC_PRINTF(1, 2);

#endif
