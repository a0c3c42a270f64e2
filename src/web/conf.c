/* Edits of the config file for the dashboard's settings page (web_int.h): one key at a time, the
 * rest of the file (comments, order, sections) kept as the person wrote it, the new file written
 * atomically and checked by loading it before it replaces the old one. */
#include <string.h>
#include <sys/stat.h>

#include "web/web_int.h"

#define CONF_MAX (1024 * 1024)

/* The key a line sets in section ("" outside any), into out; false for blanks, comments, headers.
 */
static bool line_key(const char *line, size_t n, const char *section, char *out, size_t cap) {
  size_t i = 0;
  while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
  if (i == n || line[i] == '#' || line[i] == '[' || line[i] == ';') return false;
  size_t s = i;
  while (i < n && line[i] != '=' && line[i] != ' ' && line[i] != '\t') i++;
  size_t e = i;
  while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
  if (i == n || line[i] != '=' || e == s) return false;
  snprintf(out, cap, "%s%s%.*s", section, *section ? "." : "", (int)(e - s), line + s);
  return true;
}

static void line_section(const char *line, size_t n, char *section, size_t cap) {
  size_t i = 0;
  while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
  if (i == n || line[i] != '[') return;
  const char *close = memchr(line + i, ']', n - i);
  if (!close) return;
  snprintf(section, cap, "%.*s", (int)(close - line - i - 1), line + i + 1);
}

int web__conf_set(const char *path, const char *key, const char *value) {
  if (!path) return err_set(MIMIC_EINVAL, "the dashboard was started without a config file");
  if (strpbrk(value, "\n\r\""))
    return err_set(MIMIC_EINVAL, "%s: a value may not hold a newline or a double quote", key);
  char *old = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, CONF_MAX, &old, &n);
  if (rc) return rc;
  struct stat st;
  mode_t mode = stat(path, &st) == 0 ? st.st_mode & 0777 : 0600;
  const char *dot = strchr(key, '.');
  buf out;
  buf_init(&out, CONF_MAX * 2);
  char section[128] = "", lk[256];
  bool done = false;
  bool quote =
      strchr(value, '#') || (*value && (value[0] == ' ' || value[strlen(value) - 1] == ' '));
  for (size_t i = 0; i < n && !rc;) {
    const char *nl = memchr(old + i, '\n', n - i);
    size_t len = nl ? (size_t)(nl - old - i) : n - i;
    line_section(old + i, len, section, sizeof section);
    if (!done && line_key(old + i, len, section, lk, sizeof lk) && strcmp(lk, key) == 0) {
      const char *name = *section ? key + strlen(section) + 1 : key;
      rc = buf_printf(&out, "%s = %s%s%s\n", name, quote ? "\"" : "", value, quote ? "\"" : "");
      done = true;
    } else {
      rc = buf_append(&out, old + i, len);
      if (!rc && nl) rc = buf_putc(&out, '\n');
    }
    i += len + (nl ? 1 : 0);
  }
  if (!rc && !done) {
    if (out.len && out.data[out.len - 1] != '\n') rc = buf_putc(&out, '\n');
    if (!rc && dot)
      rc = buf_printf(&out, "\n[%.*s]\n%s = %s%s%s\n", (int)(dot - key), key, dot + 1,
                      quote ? "\"" : "", value, quote ? "\"" : "");
    else if (!rc)
      rc = buf_printf(&out, "%s = %s\n", key, value);
  }
  if (!rc) rc = fs_write_atomic(path, out.data ? out.data : "", out.len);
  if (!rc && chmod(path, mode) != 0) LOG_W("web", "%s: could not keep the file's mode", path);
  if (!rc) {
    cfg *check = cfg_new();
    rc = cfg_load_file(check, path);
    cfg_destroy(check);
    if (rc) {
      char why[512];
      str_lcpy(why, err_msg(), sizeof why);
      if (fs_write_atomic(path, old, n)) LOG_E("web", "%s: could not restore: %s", path, err_msg());
      rc = err_set(MIMIC_EINVAL, "%s", why);
    }
  }
  buf_free(&out);
  mem_free(old);
  return rc;
}
