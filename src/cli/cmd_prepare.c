/* `mimic prepare`: builds the training datasets from the store into <data.dir>/exports/. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/job.h"
#include "collect/collect.h"
#include "store/store.h"

int cmd_prepare(int argc, char **argv) {
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  const char *out_opt = NULL;
  int64_t gap_min = 0;
  /* Defaults and bounds of the tunables are the collect.* keys' (base/config_keys.c). */
  const cli_opt opts[] = {
      {.name = "user",
       .type = CLI_ID,
       .dest = &o.user_id,
       .meta = "ID",
       .help = "only this person's replies as training targets"},
      {.name = "channel",
       .type = CLI_ID,
       .dest = &o.channel_id,
       .meta = "ID",
       .help = "only this channel"},
      {.name = "kto", .type = CLI_BOOL, .dest = &o.kto, .help = "also write KTO-style labels"},
      {.name = "out",
       .type = CLI_PATH,
       .dest = &out_opt,
       .meta = "DIR",
       .help = "where the files go (default <data.dir>/exports)"},
      {.name = "gap-min",
       .type = CLI_I64,
       .dest = &gap_min,
       .meta = "N",
       .help = "minutes of silence that start a new conversation",
       .key = CLI_KEY(CFG_COLLECT_GAP_MIN)},
      {.name = "window",
       .type = CLI_INT,
       .dest = &o.window_max,
       .meta = "N",
       .help = "most messages per sample, the reply included",
       .key = CLI_KEY(CFG_COLLECT_WINDOW)},
      {.name = "min-context",
       .type = CLI_INT,
       .dest = &o.min_context,
       .meta = "N",
       .help = "fewest context messages before a target",
       .key = CLI_KEY(CFG_COLLECT_MIN_CONTEXT)},
      {.name = "cap",
       .type = CLI_INT,
       .dest = &o.per_user_cap,
       .meta = "N",
       .help = "most training targets per person (0: no cap)",
       .key = CLI_KEY(CFG_COLLECT_PER_USER_CAP)},
      {.name = "valid",
       .type = CLI_DOUBLE,
       .dest = &o.valid_frac,
       .meta = "F",
       .help = "newest fraction of targets held out for validation",
       .key = CLI_KEY(CFG_COLLECT_VALID_FRAC)},
      {.name = "seed",
       .type = CLI_U64,
       .dest = &o.seed,
       .meta = "N",
       .help = "seed for sampling under the cap (default 42)"},
      {0}};
  const cli_spec spec = {
      .name = "prepare",
      .summary = "Builds the training datasets (SFT, DPO, optionally KTO) from the store into "
                 "<data.dir>/exports/:\nconversations cut at silences, one sample per reply, the "
                 "newest replies held out.",
      .example = "prepare --kto --gap-min 20\nprepare --user 80351110224678912 --out "
                 "data/one-person",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  char out_dir[4096];
  snprintf(out_dir, sizeof out_dir, "%s/exports", cfg_str(c, CFG_DATA_DIR));
  if (out_opt) str_lcpy(out_dir, out_opt, sizeof out_dir);
  o.out_dir = out_dir;
  o.gap_ms = gap_min * 60000;
  o.require_consent = cfg_bool(c, CFG_COLLECT_REQUIRE_CONSENT);
  o.system_prompt = cfg_str(c, CFG_BOT_SYSTEM_PROMPT);
  store *s = NULL;
  status = 1;
  if (!(s = cli_store_open(c))) goto out;
  cli_job job; /* the run's row in the jobs table: running, then done or failed */
  cli_job_open(&job, cfg_str(c, CFG_STORE_PATH), "prepare");
  collect_prepare_stats st;
  int rc = collect_prepare(s, &o, &st);
  cli_job_close(&job, rc);
  if (rc) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("messages: %lld read, %lld usable (left out: %lld bots/webhooks, %lld excluded/opted out, "
         "%lld system, %lld empty or link-only)\n",
         (long long)st.seen, (long long)st.kept, (long long)st.drop_bot, (long long)st.drop_privacy,
         (long long)st.drop_system, (long long)st.drop_empty);
  printf("SFT: %lld train + %lld validation samples (%lld targets over the per-user cap dropped)\n",
         (long long)st.sft_train, (long long)st.sft_valid, (long long)st.capped);
  printf("DPO: %lld train + %lld validation pairs (%lld with a generic formal rejected reply)\n",
         (long long)st.dpo_train, (long long)st.dpo_valid, (long long)st.dpo_generic);
  if (o.kto)
    printf("KTO: %lld train + %lld validation\n", (long long)st.kto_train, (long long)st.kto_valid);
  if (st.n_cut) {
    printf("cut: %lld messages longer than %d bytes were cut to that length (ids:",
           (long long)st.n_cut, (int)COLLECT_MESSAGE_MAX);
    for (int64_t i = 0; i < st.n_cut && i < COLLECT_CUT_IDS; i++)
      printf(" %llu", (unsigned long long)st.cut_ids[i]);
    printf("%s)\n", st.n_cut > COLLECT_CUT_IDS ? " …" : "");
  }
  printf("written to %s/ (manifest.json has the counts)\n", o.out_dir);
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}
