/* JSON helpers over Jansson (see json.h). */
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"

json_t *jv_parse(const char *data, size_t n, const char *what) {
  if (n > JV_DOC_MAX) {
    err_set(MIMIC_ERANGE, "%s: JSON document of %zu bytes exceeds the %u-byte cap", what, n,
            JV_DOC_MAX);
    return NULL;
  }
  json_error_t e;
  json_t *v = json_loadb(data, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
  if (!v) err_set(MIMIC_EFORMAT, "%s: line %d column %d: %s", what, e.line, e.column, e.text);
  return v;
}

const char *jv_str(const json_t *obj, const char *key, const char *dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t jv_int(const json_t *obj, const char *key, int64_t dflt) {
  const json_t *v = json_object_get(obj, key);
  if (json_is_integer(v)) return json_integer_value(v);
  if (json_is_real(v)) return (int64_t)json_real_value(v);
  return dflt;
}

double jv_num(const json_t *obj, const char *key, double dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

bool jv_bool(const json_t *obj, const char *key, bool dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

uint64_t jv_snowflake(const json_t *obj, const char *key) {
  return jv_snowflake_value(json_object_get(obj, key));
}

uint64_t jv_snowflake_value(const json_t *v) {
  if (json_is_string(v)) {
    uint64_t id;
    if (str_to_u64(json_string_value(v), &id) == 0) return id;
    err_clear();
    return 0;
  }
  if (json_is_integer(v) && json_integer_value(v) > 0) return (uint64_t)json_integer_value(v);
  return 0;
}

char *jv_dump_compact(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); }
