/* Static files (web_int.h): our pages, scripts and styles from the assets folder, and Chart.js and
 * Bootstrap from Debian's /usr/share/javascript. A path is served only when every segment is a
 * plain name (no "..", no hidden file, no empty segment) and, for our own folders, its real path,
 * symlinks resolved, still lies under the root. Debian's packages link their files into other
 * folders of /usr/share, so there the plain-name rule is the guard. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/web_int.h"

#define STATIC_FILE_MAX (8 * 1024 * 1024)

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *web__assets_find(const char *dir, const char *self_exe) {
  if (dir && *dir) return is_dir(dir) ? xstrdup(dir) : NULL;
  const char *env = getenv("MIMIC_WEB_ASSETS");
  if (env && *env) return is_dir(env) ? xstrdup(env) : NULL;
  char exe[PATH_MAX];
  if (!realpath(self_exe ? self_exe : "/proc/self/exe", exe)) exe[0] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  const char *rel[] = {"/../web/static", "/../share/mimic/web", "/web/static"};
  for (size_t i = 0; exe[0] && i < sizeof rel / sizeof rel[0]; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s%s", exe, rel[i]);
    char real[PATH_MAX];
    if (is_dir(p) && realpath(p, real)) return xstrdup(real);
  }
  return is_dir("/usr/share/mimic/web") ? xstrdup("/usr/share/mimic/web") : NULL;
}

static const char *mime_of(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (str_ends_with(path, types[i].ext)) return types[i].type;
  return NULL;
}

/* Every segment a plain name: letters, digits, '-', '_', '.', not starting with '.'. */
static bool path_plain(const char *p) {
  if (!*p) return false;
  bool seg_start = true;
  for (; *p; p++) {
    char c = *p;
    if (c == '/') {
      if (seg_start) return false; /* empty segment */
      seg_start = true;
      continue;
    }
    if (seg_start && c == '.') return false; /* "..", "." and hidden files */
    seg_start = false;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  }
  return !seg_start;
}

void web__static_serve(web_req *r, const char *root, const char *path, bool confine) {
  const char *type = mime_of(path);
  if (!root || !path_plain(path) || !type) {
    web__send(r, 404, "text/plain; charset=utf-8", "not found\n", 10, false, NULL);
    return;
  }
  char full[PATH_MAX], real[PATH_MAX], rroot[PATH_MAX];
  snprintf(full, sizeof full, "%s/%s", root, path);
  if (!realpath(root, rroot) || !realpath(full, real) ||
      (confine && (strncmp(real, rroot, strlen(rroot)) != 0 || real[strlen(rroot)] != '/'))) {
    web__send(r, 404, "text/plain; charset=utf-8", "not found\n", 10, false, NULL);
    return;
  }
  char *data = NULL;
  size_t n = 0;
  if (fs_read_file(real, STATIC_FILE_MAX, &data, &n)) {
    err_clear();
    web__send(r, 404, "text/plain; charset=utf-8", "not found\n", 10, false, NULL);
    return;
  }
  web__send(r, 200, type, data, n, true, NULL);
  mem_free(data);
}
