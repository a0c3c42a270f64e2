/* Import benchmark: generates a DiscordChatExporter JSON export of N messages (default 1,000,000)
 * in /tmp, imports it into a fresh database, and reports messages/s and peak RSS (getrusage), which
 * shows the import streams (RSS stays flat as N grows). Usage: bench_import [N] [--keep]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int main(int argc, char **argv) {
  long n = 1000000;
  if (argc > 1) {
    int64_t v;
    if (str_to_i64(argv[1], &v) || v < 1) {
      fprintf(stderr, "usage: bench_import [N]\n");
      return 2;
    }
    n = (long)v;
  }
  char json[64], db[64];
  snprintf(json, sizeof json, "/tmp/mimic_bench_%d.json", (int)getpid());
  snprintf(db, sizeof db, "/tmp/mimic_bench_%d.db", (int)getpid());
  FILE *f = fopen(json, "wb");
  if (!f) return 1;
  fprintf(f, "{\"guild\":{\"id\":\"1\",\"name\":\"Bench\"},\"channel\":{\"id\":\"2\",\"type\":"
             "\"GuildTextChat\",\"name\":\"general\"},\"messages\":[\n");
  for (long i = 0; i < n; i++) {
    long a = 10 + (i * 7919) % 500;
    fprintf(f, "%s{\"id\":\"%ld\",\"type\":\"%s\",\"timestamp\":\"2023-01-%02ldT%02ld:%02ld:%02ld.%03ld+00:00\","
               "\"timestampEdited\":null,\"isPinned\":false,\"content\":\"message %ld from user %ld, "
               "with some ordinary chat text 🙂 and a bit more to make it realistic\",\"author\":{"
               "\"id\":\"%ld\",\"name\":\"user%ld\",\"discriminator\":\"0000\",\"nickname\":\"User %ld\","
               "\"isBot\":false},\"attachments\":[],\"embeds\":[],\"stickers\":[],\"reactions\":%s,"
               "\"mentions\":[]%s}",
            i ? ",\n" : "", 100000 + i, i % 5 ? "Default" : "Reply", 1 + (i / 86400) % 28,
            (i / 3600) % 24, (i / 60) % 60, i % 60, i % 1000, i, a, a, a, a,
            i % 10 ? "[]" : "[{\"emoji\":{\"id\":\"\",\"name\":\"😂\"},\"count\":2}]",
            i % 5 ? "" : ",\"reference\":{\"messageId\":\"100000\"}");
  }
  fprintf(f, "\n],\"messageCount\":%ld}\n", n);
  long size = ftell(f);
  fclose(f);
  log_set_level(LOG_WARN);
  store *s;
  if (store_open(db, &s)) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  long rss0 = peak_rss_kb();
  collect_import_stats st;
  int rc = collect_import_dce(s, json, NULL, &st);
  if (rc) fprintf(stderr, "import failed: %s\n", err_msg());
  store_close(s);
  printf("bench_import: %ld messages, %.1f MB export: %.2f s, %.0f messages/s, peak RSS %.1f MB "
         "(%.1f MB before the import)\n",
         n, size / 1e6, st.seconds, st.seconds > 0 ? (double)st.messages / st.seconds : 0,
         peak_rss_kb() / 1024.0, rss0 / 1024.0);
  if (!(argc > 2 && strcmp(argv[2], "--keep") == 0)) {
    unlink(json);
    char p[80];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
  }
  return rc ? 1 : 0;
}
