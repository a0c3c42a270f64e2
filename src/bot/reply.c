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

/* Whether p[0..len) is one of names (ASCII case ignored) or a speaker by is_speaker. */
static bool is_name(const char *p, size_t len, const char *const *names, size_t n,
                    reply_speaker_fn is_speaker, void *user) {
  if (len == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (names[i] && strlen(names[i]) == len && strncasecmp(p, names[i], len) == 0) return true;
  return is_speaker && is_speaker(p, len, user);
}

/* The one place a leading speaker tag is removed. The tag is what collect/prepare.c writes before
 * every message of a training sample, "Name: text", so a model trained on the community writes it
 * too (also as "**Name**:"). Up to three tags in a row are stripped; a "word:" that names nobody
 * known ("Note: ...", "12:30") stays. */
static void strip_name_echo(char *s, const char *const *names, size_t n,
                            reply_speaker_fn is_speaker, void *user) {
  for (int round = 0; round < 3; round++) {
    size_t lead = 0;
    while (s[lead] && isspace((unsigned char)s[lead])) lead++;
    const char *p = s + lead;
    size_t stars = 0;
    while (p[stars] == '*') stars++;
    const char *name = p + stars;
    /* The name runs to a colon on the first line; a name may itself hold a colon, so each colon
     * within reach is a candidate end (a bounded number, each maybe a store lookup). */
    size_t cut = 0;
    int tries = 0;
    for (size_t k = 0; k <= REPLY_NAME_MAX && name[k] && name[k] != '\n' && tries < 4; k++) {
      if (name[k] != ':') continue;
      tries++;
      size_t len = k;
      while (len > 0 && name[len - 1] == '*') len--;
      if (!is_name(name, len, names, n, is_speaker, user)) continue;
      cut = stars + k + 1;
      for (size_t st = 0; st < stars && p[cut] == '*'; st++) cut++; /* "**Name:**" */
      break;
    }
    if (!cut) return;
    while (p[cut] == ' ' || p[cut] == '\t') cut++;
    drop_range(s, 0, lead + cut);
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

char *reply_clean_speakers(const char *text, const char *const *names, size_t n_names,
                           reply_speaker_fn is_speaker, void *user) {
  char *s = utf8_repair(text ? text : "", text ? strlen(text) : 0);
  if (!s) return xstrdup("");
  drop_reasoning(s);
  cut_at_markers(s);
  strip_name_echo(s, names, n_names, is_speaker, user);
  str_trim(s);
  char *out = defang(s);
  mem_free(s);
  return out;
}

char *reply_clean(const char *text, const char *const *names, size_t n_names) {
  return reply_clean_speakers(text, names, n_names, NULL, NULL);
}
