/* `mimic generate`: one completion for a prompt (-p TEXT, or stdin), streamed to stdout, with its
 * statistics on stderr. The prompt is a user message (after --system) unless --raw says it is
 * already rendered (then special tokens such as <|im_start|> in it are honoured). */
#include <stdio.h>
#include <string.h>

#include "cli/llm_args.h"

#define GEN_STDIN_MAX (1u << 22)

static const char gen_usage[] =
    "usage: mimic generate [--model M.gguf] [--lora A.gguf] [-p TEXT | --prompt TEXT] [--raw]\n"
    "                      [--system TEXT] [-n MAX_TOKENS] [--seed S] [--temp T] [sampling "
    "options]\n"
    "                      [--backend local|openai --url URL]   (the prompt comes from stdin "
    "without -p)";

static int write_piece(void *user, const char *t, size_t n) {
  (void)user;
  fwrite(t, 1, n, stdout);
  fflush(stdout);
  return 0;
}

int cmd_generate(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  cli_llm o;
  int status = cli_llm_parse(&o, c, argc, argv, gen_usage);
  llm_backend *b = NULL;
  buf in;
  buf_init(&in, GEN_STDIN_MAX);
  if (status) goto out;
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
    cli_error("empty prompt\n%s", gen_usage);
    status = 2;
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
