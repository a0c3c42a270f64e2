/* Fuzz target for the chat templates: the input is a tokenizer.chat_template string (from a GGUF
 * file, so outside input) for chat_detect, then messages separated by NUL bytes (first byte of
 * each: role, the rest: content) rendered in every family, with and without the generation prompt.
 * Every render either fails cleanly or holds each message's content; a family whose markers are
 * absent from the text renders nothing but what was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const roles[] = {"system", "user", "assistant", "tool"};
  static const char *const names[] = {NULL, "alice", "", "bob"};
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  /* The whole input as a template string (up to its first NUL). */
  chat_family f = chat_detect(s);
  if (f < CHAT_CHATML || f > CHAT_PLAIN) abort();
  chat_msg m[MAX_MSGS];
  size_t n = 0;
  for (size_t i = 0; i < size && n < MAX_MSGS;) {
    size_t len = strlen(s + i);
    unsigned sel = len ? (unsigned char)s[i] : 0;
    m[n++] = (chat_msg){roles[sel & 3], names[(sel >> 2) & 3], len ? s + i + 1 : ""};
    i += len + 1;
  }
  for (int fam = CHAT_CHATML; fam <= CHAT_PLAIN; fam++)
    for (int gen = 0; gen < 2; gen++) {
      buf out;
      buf_init(&out, 1u << 20);
      if (chat_render((chat_family)fam, m, n, gen, &out) == 0) {
        if (strlen(chat_family_name((chat_family)fam)) < 4) abort();
        for (size_t k = 0; k < n; k++) {
          /* Contents are kept byte for byte, less surrounding whitespace for trimming families. */
          const char *c = m[k].content;
          while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') c++;
          size_t cl = strlen(c);
          while (cl &&
                 (c[cl - 1] == ' ' || c[cl - 1] == '\t' || c[cl - 1] == '\n' || c[cl - 1] == '\r'))
            cl--;
          if (cl && out.len && !memmem(out.data, out.len, c, cl)) abort();
        }
      }
      buf_free(&out);
    }
  free(s);
  return 0;
}
