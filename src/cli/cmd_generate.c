/* `mimic generate`: one completion for a prompt (-p TEXT, or stdin), streamed to stdout, with its
 * statistics on stderr. The prompt is a user message (after --system) unless --raw says it is
 * already rendered (then special tokens such as <|im_start|> in it are honoured). */
#include <stdio.h>
#include <string.h>

#include "cli/engine_opts.h"

#define GEN_STDIN_MAX (1u << 22)

static int write_piece(void *user, const char *t, size_t n) {
  (void)user;
  fwrite(t, 1, n, stdout);
  fflush(stdout);
  return 0;
}

int cmd_generate(int argc, char **argv) {
  cli_llm o;
  cli_llm_init(&o);
  const cli_opt opts[] = {
      {.name = "prompt",
       .short_name = 'p',
       .type = CLI_STR,
       .dest = &o.prompt,
       .meta = "TEXT",
       .help = "the prompt (default: read from standard input)"},
      {.name = "raw",
       .type = CLI_BOOL,
       .dest = &o.raw,
       .help = "the prompt is already rendered: special tokens in it are honoured"},
      {.name = "system",
       .type = CLI_STR,
       .dest = &o.system,
       .meta = "TEXT",
       .help = "a system prompt before the user's"},
      CLI_LLM_MODEL_OPTS(&o),
      CLI_LLM_SAMPLING_OPTS(&o),
      CLI_LLM_BACKEND_OPTS(&o),
      {0}};
  const cli_spec spec = {
      .name = "generate",
      .summary = "One completion for a prompt, streamed to stdout, with its statistics on stderr. "
                 "The prompt is a\nuser message (after --system) unless --raw says it is "
                 "already rendered.",
      .example = "generate --model models/base.gguf -p 'Say hello' -n 32 --seed 7",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  llm_backend *b = NULL;
  buf in;
  buf_init(&in, GEN_STDIN_MAX);
  if ((status = cli_llm_finish(&o, &spec, &a, c))) goto out;
  if (!o.prompt) {
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
      if (buf_append(&in, chunk, n)) {
        cli_error("the prompt on stdin is over %u bytes", GEN_STDIN_MAX);
        status = 1;
        goto out;
      }
    o.prompt = in.data ? in.data : "";
  }
  if (!*o.prompt) {
    status = cli_usage_error(&spec, "empty prompt");
    goto out;
  }
  if (!(b = cli_llm_open(&o))) {
    status = 1;
    goto out;
  }
  llm_message m[2];
  size_t nm = 0;
  if (o.system && *o.system) m[nm++] = (llm_message){.role = "system", .content = o.system};
  m[nm++] = (llm_message){.role = "user", .content = o.prompt};
  if (o.raw) {
    o.req.prompt = o.prompt;
  } else {
    o.req.messages = m;
    o.req.n_messages = nm;
  }
  llm_result res;
  int rc = llm_backend_generate(b, &o.req, write_piece, NULL, &res);
  fputc('\n', stdout);
  if (rc) {
    cli_error("%s", res.error_msg);
    status = 1;
  } else {
    fprintf(
        stderr,
        "[%s; prompt %d tokens, %.1f tokens/s; generated %d tokens, %.1f tokens/s; seed %llu]\n",
        llm_finish_name(res.finish), res.prompt_tokens, res.prompt_tps, res.gen_tokens, res.gen_tps,
        (unsigned long long)res.seed);
  }
  llm_result_free(&res);
out:
  llm_backend_destroy(b);
  buf_free(&in);
  cfg_destroy(c);
  return status;
}
