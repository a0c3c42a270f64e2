/* Reply post-processing (see reply.h). */
#include "bot/reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

/* Text that means the model began another turn: everything from here on is dropped (the markers
 * of every family llm/chat.c renders). */
static const char *const turn_markers[] = {
    "<|im_start|>",  "<|im_end|>",      "<|eot_id|>", "<|start_header_id|>",
    "<|endoftext|>", "<|end_of_text|>", "</s>",       "<|user|>",
    "<|assistant|>", "<|system|>",      "<|end|>",    "<start_of_turn>",
    "<end_of_turn>", "[INST]",          "[/INST]",
};

static void drop_range(char *s, size_t from, size_t to) {
  memmove(s + from, s + to, strlen(s + to) + 1);
}

/* Removes <think>...</think> blocks; an unterminated <think> removes everything after it. */
static void drop_reasoning(char *s) {
  char *open;
  while ((open = strstr(s, "<think>")) != NULL) {
    char *close = strstr(open, "</think>");
    if (!close) {
      *open = 0;
      return;
    }
    drop_range(s, (size_t)(open - s), (size_t)(close + 8 - s));
  }
}

static void cut_at_markers(char *s) {
  for (size_t i = 0; i < sizeof turn_markers / sizeof turn_markers[0]; i++) {
    char *m = strstr(s, turn_markers[i]);
    if (m) *m = 0;
  }
  char *bos = strstr(s, "<s>");
  while (bos) {
    drop_range(s, (size_t)(bos - s), (size_t)(bos - s) + 3);
    bos = strstr(s, "<s>");
  }
}

/* Strips "name:" (optionally "**name**:" or "name (persona):") at the start, repeatedly, for the
 * given names, compared case-insensitively. */
static void strip_name_echo(char *s, const char *const *names, size_t n) {
  for (int round = 0; round < 3; round++) {
    size_t lead = 0;
    while (s[lead] && isspace((unsigned char)s[lead])) lead++;
    char *p = s + lead;
    size_t stars = 0;
    while (p[stars] == '*') stars++;
    bool hit = false;
    for (size_t i = 0; i < n && !hit; i++) {
      if (!names[i] || !*names[i]) continue;
      size_t nl = strlen(names[i]);
      if (strncasecmp(p + stars, names[i], nl) != 0) continue;
      size_t q = stars + nl;
      while (p[q] == '*') q++;
      if (p[q] != ':') continue;
      q++;
      while (p[q] == ' ' || p[q] == '\t') q++;
      drop_range(s, 0, lead + q);
      hit = true;
    }
    if (!hit) return;
  }
}

/* "@everyone" -> "@\u200beveryone" so it can never be a mass mention, whatever the API does. */
static char *defang(const char *s) {
  buf b;
  buf_init(&b, 0);
  for (const char *p = s; *p; p++) {
    if (*p == '@' && (strncmp(p + 1, "everyone", 8) == 0 || strncmp(p + 1, "here", 4) == 0)) {
      if (buf_append(&b, "@\xE2\x80\x8B", 4)) goto oom;
      continue;
    }
    if (buf_putc(&b, *p)) goto oom;
  }
  return buf_steal(&b);
oom:
  buf_free(&b);
  return xstrdup("");
}

char *reply_clean(const char *text, const char *const *names, size_t n_names) {
  char *s = utf8_repair(text ? text : "", text ? strlen(text) : 0);
  if (!s) return xstrdup("");
  drop_reasoning(s);
  cut_at_markers(s);
  strip_name_echo(s, names, n_names);
  str_trim(s);
  char *out = defang(s);
  mem_free(s);
  return out;
}
