/* `mimic chat`: an interactive conversation on stdin/stdout through the same llm_backend the bot
 * uses (local engine or an OpenAI-compatible server), streaming each reply and printing its speed.
 * Lines: text to say something, /reset to forget the conversation, /quit (or end of input) to
 * leave. Ctrl-C stops the reply being written. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/engine_opts.h"

#define CHAT_LINE_MAX  65536 /* bytes in one typed line */
#define CHAT_TURNS_MAX 1000  /* messages kept; the engine drops the oldest that do not fit */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static int print_piece(void *user, const char *t, size_t n) {
  (void)user;
  fwrite(t, 1, n, stdout);
  fflush(stdout);
  return interrupted ? 1 : 0;
}

typedef struct history {
  llm_message m[CHAT_TURNS_MAX];
  size_t n, n_fixed; /* the system prompt stays */
} history;

static void hist_push(history *h, const char *role, const char *text) {
  if (h->n == CHAT_TURNS_MAX) { /* forget the oldest exchange after the system prompt */
    mem_free((char *)h->m[h->n_fixed].content);
    memmove(&h->m[h->n_fixed], &h->m[h->n_fixed + 1], (h->n - h->n_fixed - 1) * sizeof h->m[0]);
    h->n--;
  }
  h->m[h->n++] = (llm_message){.role = role, .content = xstrdup(text)};
}

static void hist_clear(history *h, size_t keep) {
  while (h->n > keep) mem_free((char *)h->m[--h->n].content);
}

/* Reads one line into line[CHAT_LINE_MAX]; returns 1, 0 at end of input, -1 for a line too long
 * (the rest of it is skipped). */
static int read_line(char *line) {
  if (!fgets(line, CHAT_LINE_MAX, stdin)) return 0;
  size_t n = strlen(line);
  if (n && line[n - 1] == '\n') {
    line[--n] = 0;
    if (n && line[n - 1] == '\r') line[--n] = 0;
    return 1;
  }
  if (feof(stdin)) return 1;
  int c;
  while ((c = getchar()) != EOF && c != '\n') {}
  return -1;
}

int cmd_chat(int argc, char **argv) {
  cli_llm o;
  cli_llm_init(&o);
  const cli_opt opts[] = {CLI_LLM_MODEL_OPTS(&o),
                          {.name = "system",
                           .type = CLI_STR,
                           .dest = &o.system,
                           .meta = "TEXT",
                           .help = "the system prompt",
                           .key = CLI_KEY(CFG_BOT_SYSTEM_PROMPT)},
                          CLI_LLM_SAMPLING_OPTS(&o),
                          CLI_LLM_BACKEND_OPTS(&o),
                          {0}};
  const cli_spec spec = {
      .name = "chat",
      .summary = "Talk to a model on the terminal, through the same engine the bot uses (or an "
                 "OpenAI-compatible\nserver). /reset forgets the conversation, /quit (or end of "
                 "input) leaves; Ctrl-C stops a reply.",
      .example = "chat --model models/base.gguf --lora models/adapter.gguf -n 64",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  llm_backend *b = NULL;
  history *h = xcalloc(1, sizeof *h);
  char *line = xalloc(CHAT_LINE_MAX);
  if ((status = cli_llm_finish(&o, &spec, &a, c))) goto out;
  if (!(b = cli_llm_open(&o))) {
    status = 1;
    goto out;
  }
  struct sigaction sa = {.sa_handler = on_sigint};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  if (*o.system) {
    hist_push(h, "system", o.system);
    h->n_fixed = 1;
  }
  bool tty = isatty(STDIN_FILENO);
  if (tty)
    fprintf(stderr, "mimic chat (%s backend); /reset forgets, /quit leaves\n", llm_backend_name(b));
  for (;;) {
    if (tty) fputs("> ", stderr);
    interrupted = 0;
    int r = read_line(line);
    if (r == 0) break;
    if (r < 0) {
      cli_error("line longer than %d bytes ignored", CHAT_LINE_MAX);
      continue;
    }
    str_trim(line);
    if (!*line) continue;
    if (strcmp(line, "/quit") == 0) break;
    if (strcmp(line, "/reset") == 0) {
      hist_clear(h, h->n_fixed);
      fprintf(stderr, "(conversation forgotten)\n");
      continue;
    }
    hist_push(h, "user", line);
    o.req.messages = h->m;
    o.req.n_messages = h->n;
    o.req.slot_key = "cli-chat";
    llm_result res;
    int rc = llm_backend_generate(b, &o.req, print_piece, NULL, &res);
    fputc('\n', stdout);
    fflush(stdout);
    if (rc) {
      cli_error("%s", res.error_msg);
      hist_clear(h, h->n - 1); /* the question goes unanswered: drop it */
    } else {
      hist_push(h, "assistant", res.text);
      fprintf(
          stderr,
          "[%d tokens in %.2f s, %.1f tokens/s; prompt %d tokens (%d cached) %.1f tokens/s; %s]\n",
          res.gen_tokens, res.gen_ms / 1e3, res.gen_tps, res.prompt_tokens, res.cached_tokens,
          res.prompt_tps, llm_finish_name(res.finish));
    }
    llm_result_free(&res);
  }
out:
  llm_backend_destroy(b);
  hist_clear(h, 0);
  mem_free(h);
  mem_free(line);
  cfg_destroy(c);
  return status;
}
