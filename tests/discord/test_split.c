/* Tests for splitting long replies (boundaries, UTF-8, tokens, code blocks) and for the
 * allowed_mentions every outgoing message carries. */
#include <string.h>

#include "base/base.h"
#include "discord/api.h"
#include "discord/split.h"
#include "test.h"

/* Checks the invariants every split must keep; returns the joined text without whitespace so
 * callers can check nothing was lost. */
static char *check_parts(char **parts, size_t n, size_t max) {
  buf all;
  buf_init(&all, 0);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(parts[i]);
    CHECK(split_units(parts[i], len) <= max);
    CHECK(utf8_valid(parts[i], len));
    CHECK(len > 0);
    for (size_t k = 0; k < len; k++)
      if (parts[i][k] != ' ' && parts[i][k] != '\n')
        if (buf_putc(&all, parts[i][k]) != 0) abort();
  }
  return buf_steal(&all);
}

static char *squeeze(const char *s) {
  buf b;
  buf_init(&b, 0);
  for (; *s; s++)
    if (*s != ' ' && *s != '\n')
      if (buf_putc(&b, *s) != 0) abort();
  return buf_steal(&b);
}

TEST(short_text_is_one_part) {
  char **p;
  size_t n;
  CHECK_OK(split_text("hello there", 2000, &p, &n));
  CHECK_INT(n, 1);
  CHECK_STR(p[0], "hello there");
  split_free(p, n);
  CHECK_OK(split_text("   \n\n  ", 2000, &p, &n));
  CHECK_INT(n, 0);
  split_free(p, n);
  CHECK_INT(split_text("x", 10, &p, &n), MIMIC_EINVAL);
}

TEST(prefers_paragraphs_then_lines_then_sentences_then_words) {
  /* two paragraphs of 1200: split between them */
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < 120; i++) CHECK_OK(buf_puts(&b, "abcdefghi "));
  CHECK_OK(buf_puts(&b, "\n\n"));
  for (int i = 0; i < 120; i++) CHECK_OK(buf_puts(&b, "jklmnopqr "));
  char **p;
  size_t n;
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK_INT(n, 2);
  CHECK(p[0][0] == 'a' && p[0][strlen(p[0]) - 1] == 'i');
  CHECK(p[1][0] == 'j');
  split_free(p, n);
  buf_reset(&b);

  /* sentences without newlines: each part ends with a full stop */
  for (int i = 0; i < 300; i++) CHECK_OK(buf_puts(&b, "This is a sentence. "));
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK_INT(n, 3);
  for (size_t i = 0; i < n; i++) CHECK(p[i][strlen(p[i]) - 1] == '.');
  char *joined = check_parts(p, n, 2000), *orig = squeeze(b.data);
  CHECK_STR(joined, orig);
  mem_free(joined);
  mem_free(orig);
  split_free(p, n);
  buf_reset(&b);

  /* lines beat sentences */
  for (int i = 0; i < 100; i++) CHECK_OK(buf_puts(&b, "one. two. three. four\n"));
  CHECK_OK(split_text(b.data, 500, &p, &n));
  for (size_t i = 0; i + 1 < n; i++) CHECK(strcmp(p[i] + strlen(p[i]) - 4, "four") == 0);
  split_free(p, n);
  buf_free(&b);
}

TEST(no_boundary_cuts_on_code_points) {
  /* 3000 two-unit emoji and 3000 3-byte CJK characters, no spaces at all */
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < 1500; i++) CHECK_OK(buf_puts(&b, "\xF0\x9F\x98\x80")); /* U+1F600: 2 units */
  for (int i = 0; i < 3000; i++) CHECK_OK(buf_puts(&b, "\xE6\xBC\xA2"));     /* U+6F22: 1 unit */
  char **p;
  size_t n;
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK_INT(n, 3); /* 3000 + 3000 units */
  CHECK_INT(split_units(p[0], strlen(p[0])), 2000);
  char *joined = check_parts(p, n, 2000);
  CHECK_STR(joined, b.data);
  mem_free(joined);
  split_free(p, n);
  buf_free(&b);
}

TEST(tokens_are_never_cut) {
  buf b;
  buf_init(&b, 0);
  /* tokens packed with no spaces: every cut must fall between them */
  for (int i = 0; i < 400; i++)
    CHECK_OK(buf_printf(&b, "<@%d><:blob:%d><t:1700000000:R>", 100000 + i, 900000 + i));
  char **p;
  size_t n;
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK(n > 1);
  for (size_t i = 0; i < n; i++) {
    CHECK(p[i][0] == '<');
    CHECK(p[i][strlen(p[i]) - 1] == '>');
  }
  char *joined = check_parts(p, n, 2000);
  CHECK_STR(joined, b.data);
  mem_free(joined);
  split_free(p, n);
  buf_free(&b);
}

TEST(code_blocks_move_whole_or_reopen) {
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < 100; i++) CHECK_OK(buf_puts(&b, "words and more "));
  CHECK_OK(buf_puts(&b, "\n```c\n"));
  for (int i = 0; i < 40; i++) CHECK_OK(buf_puts(&b, "int x = 1; /* code */\n"));
  CHECK_OK(buf_puts(&b, "```\nafter"));
  char **p;
  size_t n;
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK_INT(n, 2);
  CHECK(strstr(p[0], "```") == NULL); /* the block moved whole to part 2 */
  CHECK(strncmp(p[1], "```c\n", 5) == 0);
  split_free(p, n);
  buf_reset(&b);

  /* one huge block: closed and reopened with its language, fences balanced in every part */
  CHECK_OK(buf_puts(&b, "```py\n"));
  for (int i = 0; i < 300; i++) CHECK_OK(buf_puts(&b, "print('hello world')\n"));
  CHECK_OK(buf_puts(&b, "```"));
  CHECK_OK(split_text(b.data, 2000, &p, &n));
  CHECK(n >= 4);
  for (size_t i = 0; i < n; i++) {
    CHECK(strncmp(p[i], "```py\n", 6) == 0);
    CHECK(str_ends_with(p[i], "```"));
    int fences = 0;
    for (const char *q = p[i]; (q = strstr(q, "```")) != NULL; q += 3) fences++;
    CHECK_INT(fences, 2);
    CHECK(split_units(p[i], strlen(p[i])) <= 2000);
  }
  split_free(p, n);
  buf_free(&b);
}

TEST(invalid_utf8_is_repaired_and_huge_input_is_fine) {
  char **p;
  size_t n;
  CHECK_OK(split_text("bad \xC0\xAF bytes \xFF end", 2000, &p, &n));
  CHECK_INT(n, 1);
  CHECK(utf8_valid(p[0], strlen(p[0])));
  CHECK(strstr(p[0], "\xEF\xBF\xBD") != NULL);
  split_free(p, n);
  size_t big = 200000;
  char *s = xalloc(big + 1);
  for (size_t i = 0; i < big; i++) s[i] = (char)('a' + i % 26);
  s[big] = 0;
  CHECK_OK(split_text(s, 2000, &p, &n));
  CHECK_INT(n, 100);
  char *joined = check_parts(p, n, 2000);
  CHECK_STR(joined, s);
  mem_free(joined);
  split_free(p, n);
  mem_free(s);
}

TEST(allowed_mentions_default_pings_nobody) {
  json_t *am = api_allowed_mentions(NULL, 0, false);
  char *s = jv_dump_compact(am);
  CHECK_STR(s, "{\"parse\":[],\"replied_user\":false}");
  free(s);
  json_decref(am);
  am = api_allowed_mentions(NULL, 0, true);
  CHECK(json_is_true(json_object_get(am, "replied_user")));
  CHECK_INT(json_array_size(json_object_get(am, "parse")), 0);
  json_decref(am);
  uint64_t users[] = {42, 18446744073709551615ull};
  am = api_allowed_mentions(users, 2, false);
  s = jv_dump_compact(am);
  CHECK_STR(s, "{\"parse\":[],\"users\":[\"42\",\"18446744073709551615\"],\"replied_user\":false}");
  free(s);
  json_decref(am);
}

int main(void) {
  RUN(short_text_is_one_part);
  RUN(prefers_paragraphs_then_lines_then_sentences_then_words);
  RUN(no_boundary_cuts_on_code_points);
  RUN(tokens_are_never_cut);
  RUN(code_blocks_move_whole_or_reopen);
  RUN(invalid_utf8_is_repaired_and_huge_input_is_fine);
  RUN(allowed_mentions_default_pings_nobody);
  TEST_MAIN_END();
}
