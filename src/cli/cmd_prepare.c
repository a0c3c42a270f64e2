/* `mimic prepare`: builds the training datasets from the store into <data.dir>/exports/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "collect/collect.h"
#include "store/store.h"

static void usage(void) {
  cli_error("usage: mimic prepare [--user ID] [--channel ID] [--kto] [--out DIR] [--gap-min N]\n"
            "                     [--window N] [--min-context N] [--cap N] [--valid F] [--seed N]\n"
            "  Defaults come from the collect.* settings (mimic config check lists them).");
}

static int num_arg(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out) {
  if (str_to_i64(v, out) || *out < lo || *out > hi) {
    cli_error("%s: '%s' is not a whole number in [%lld, %lld]", flag, v, (long long)lo,
              (long long)hi);
    return -1;
  }
  return 0;
}

int cmd_prepare(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  collect_prepare_opts o;
  collect_prepare_defaults(&o);
  char out_dir[4096];
  snprintf(out_dir, sizeof out_dir, "%s/exports", cfg_str(c, CFG_DATA_DIR));
  o.out_dir = out_dir;
  o.gap_ms = cfg_int(c, CFG_COLLECT_GAP_MIN) * 60000;
  o.window_max = (int)cfg_int(c, CFG_COLLECT_WINDOW);
  o.min_context = (int)cfg_int(c, CFG_COLLECT_MIN_CONTEXT);
  o.per_user_cap = (int)cfg_int(c, CFG_COLLECT_PER_USER_CAP);
  o.valid_frac = cfg_num(c, CFG_COLLECT_VALID_FRAC);
  o.require_consent = cfg_bool(c, CFG_COLLECT_REQUIRE_CONSENT);
  o.system_prompt = cfg_str(c, CFG_BOT_SYSTEM_PROMPT);
  int status = 2;
  store *s = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
    if (strcmp(a, "--kto") == 0) {
      o.kto = true;
      continue;
    }
    if (!v) {
      usage();
      goto out;
    }
    i++;
    if (strcmp(a, "--user") == 0 || strcmp(a, "--channel") == 0 || strcmp(a, "--seed") == 0) {
      uint64_t id;
      if (str_to_u64(v, &id)) {
        cli_error("%s: '%s' is not a number", a, v);
        goto out;
      }
      if (a[2] == 'u')
        o.user_id = id;
      else if (a[2] == 'c')
        o.channel_id = id;
      else
        o.seed = id;
    } else if (strcmp(a, "--out") == 0) {
      str_lcpy(out_dir, v, sizeof out_dir);
    } else if (strcmp(a, "--gap-min") == 0) {
      if (num_arg(a, v, 1, 10080, &n)) goto out;
      o.gap_ms = n * 60000;
    } else if (strcmp(a, "--window") == 0) {
      if (num_arg(a, v, 2, 64, &n)) goto out;
      o.window_max = (int)n;
    } else if (strcmp(a, "--min-context") == 0) {
      if (num_arg(a, v, 0, 63, &n)) goto out;
      o.min_context = (int)n;
    } else if (strcmp(a, "--cap") == 0) {
      if (num_arg(a, v, 0, 100000000, &n)) goto out;
      o.per_user_cap = (int)n;
    } else if (strcmp(a, "--valid") == 0) {
      if (str_to_double(v, &o.valid_frac) || o.valid_frac < 0 || o.valid_frac > 0.9) {
        cli_error("--valid: '%s' is not a fraction in [0, 0.9]", v);
        goto out;
      }
    } else {
      usage();
      goto out;
    }
  }
  status = 1;
  if (!(s = cli_store_open(c))) goto out;
  collect_prepare_stats st;
  if (collect_prepare(s, &o, &st)) {
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
  printf("written to %s/ (manifest.json has the counts)\n", o.out_dir);
  status = 0;
out:
  store_close(s);
  cfg_destroy(c);
  return status;
}
