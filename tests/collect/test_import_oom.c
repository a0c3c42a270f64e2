/* Allocation-failure tests for the importers: a DCE export (from memory) and a data package (JSON
 * and CSV channels), with Jansson's allocations routed through mem_*, under every failure point.
 * Each run imports into a fresh in-memory store; a failed run must report an error and leak
 * nothing, and the clean run must import everything. */
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"
#include "test.h"

static const char dce[] =
    "{\"guild\": {\"id\": \"77\", \"name\": \"Club\"}, \"channel\": {\"id\": \"55\", \"type\": "
    "\"GuildTextChat\", \"name\": \"general\"}, \"messages\": [\n"
    "{\"id\": \"1001\", \"type\": \"Default\", \"timestamp\": \"2021-11-24T16:16:57.123+00:00\", "
    "\"content\": \"h\\u00e9llo\", \"author\": {\"id\": \"1\", \"name\": \"ana\", \"nickname\": "
    "\"Ana\", \"isBot\": false}, \"attachments\": [{\"id\": \"31\", \"url\": "
    "\"https://cdn/x.png\", "
    "\"fileName\": \"x.png\", \"fileSizeBytes\": 12}], \"embeds\": [{\"title\": \"T\", \"fields\": "
    "[{\"name\": \"f\", \"value\": \"v\"}]}], \"reactions\": [{\"emoji\": {\"id\": \"\", \"name\": "
    "\"x\"}, \"count\": 2, \"users\": [{\"id\": \"2\", \"name\": \"bo\"}]}], \"mentions\": "
    "[{\"id\": "
    "\"2\", \"name\": \"bo\"}]},\n"
    "{\"id\": \"1002\", \"type\": \"Reply\", \"timestamp\": \"2021-11-24T16:17:00+00:00\", "
    "\"content\": \"yes\", \"author\": {\"id\": \"2\", \"name\": \"bo\"}, \"reference\": "
    "{\"messageId\": \"1001\", \"channelId\": \"55\"}}\n"
    "], \"messageCount\": 2}";

static int import_dce(void *ctx) {
  (void)ctx;
  store *s = NULL;
  int rc = store_open(":memory:", &s);
  if (rc) return rc;
  collect_import_stats st;
  rc = collect_import_dce_mem(s, dce, sizeof dce - 1, "export.json", NULL, &st);
  if (!rc && (st.messages != 2 || st.inserted != 2)) rc = MIMIC_EINVAL;
  store_close(s);
  return rc;
}

TEST(dce_import_under_oom) {
  CHECK_OK(import_dce(NULL));
  CHECK_OOM(import_dce, NULL);
}

static char root[128];

static void write_text(const char *rel, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static void make_package(void) {
  char p[256];
  mkdir(root, 0700);
  const char *dirs[] = {"account", "Messages", "Messages/c111", "Messages/c222"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
    mkdir(p, 0700);
  }
  write_text("account/user.json", "{\"id\": \"4242\", \"username\": \"owner\"}");
  write_text("Messages/index.json", "{\"111\": \"general in Some Server\", \"222\": \"pal\"}");
  write_text("Messages/c111/channel.json", "{\"id\": \"111\", \"type\": \"GUILD_TEXT\", \"name\": "
                                           "\"general\", \"guild\": {\"id\": \"9\"}}");
  write_text("Messages/c111/messages.json",
             "[{\"ID\": 793112643291643904, \"Timestamp\": \"2020-11-30 23:30:03\", "
             "\"Contents\": \"ping <@123>\", \"Attachments\": \"\"},\n"
             " {\"ID\": 793112643291643905, \"Timestamp\": \"2020-11-30 23:31:00\", \"Contents\": "
             "\"\", \"Attachments\": \"https://cdn.discordapp.com/attachments/111/555/cat.png\"}]");
  write_text("Messages/c222/channel.json",
             "{\"id\": \"222\", \"type\": \"DM\", \"recipients\": [\"4242\", \"17\"]}");
  write_text("Messages/c222/messages.csv",
             "ID,Timestamp,Contents,Attachments\r\n"
             "793112643291643906,2020-11-30 23:30:03.690000+00:00,ping me,\r\n"
             "793112643291643907,2020-12-01 10:00:00.000000+00:00,\"multi\nline\",\r\n");
}

static int import_package(void *ctx) {
  (void)ctx;
  store *s = NULL;
  int rc = store_open(":memory:", &s);
  if (rc) return rc;
  collect_import_stats st;
  rc = collect_import_package(s, root, NULL, &st);
  if (!rc && st.inserted != 4) rc = MIMIC_EINVAL;
  store_close(s);
  return rc;
}

TEST(package_import_under_oom) {
  make_package();
  CHECK_OK(import_package(NULL));
  /* Jansson 2.14's lexer asserts (lex_unget_unsave in load.c) when growing its token buffer fails
   * inside a number of more than 16 characters, as the package's bare 18-digit IDs are; so here
   * only mimic's allocations fail. */
  json_set_alloc_funcs(malloc, free);
  CHECK_OOM(import_package, NULL);
  json_set_alloc_funcs(mem_alloc, mem_free);
}

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  json_set_alloc_funcs(mem_alloc, mem_free);
  snprintf(root, sizeof root, "/tmp/mimic-import-oom-%d", (int)getpid());
  RUN(dce_import_under_oom);
  RUN(package_import_under_oom);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) printf("  could not remove %s\n", root);
  TEST_MAIN_END();
}
