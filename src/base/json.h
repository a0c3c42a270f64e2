/* JSON through Jansson, with the few helpers every layer needs: capped parsing with a positioned
 * error, typed getters that tolerate missing or mistyped fields, and Discord snowflakes (decimal
 * strings holding u64). Callers use Jansson's json_t API directly for everything else;
 * the helpers are named jv_ ("JSON value") so they are never mistaken for Jansson's json_ calls. */
#ifndef MIMIC_BASE_JSON_H
#define MIMIC_BASE_JSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"

/* Largest JSON document mimic parses from the network (Discord payloads are far smaller). */
#define JV_DOC_MAX (16u << 20)

/* Parses data[0..n) (n <= JV_DOC_MAX). On failure returns NULL and sets the error message
 * "what: line L column C: reason" (MIMIC_EFORMAT, or MIMIC_ERANGE when over the cap). Caller owns
 * the result (json_decref). */
json_t *jv_parse(const char *data, size_t n, const char *what);

/* Getters: return the value, or dflt when the key is absent, null, or of another type. Borrowed. */
const char *jv_str(const json_t *obj, const char *key, const char *dflt);
int64_t jv_int(const json_t *obj, const char *key, int64_t dflt);
double jv_num(const json_t *obj, const char *key, double dflt); /* integer or real */
bool jv_bool(const json_t *obj, const char *key, bool dflt);
/* Snowflake from a string (or, leniently, an integer) field; 0 when absent or malformed. */
uint64_t jv_snowflake(const json_t *obj, const char *key);
/* The same for a value itself (an array element); v may be NULL. */
uint64_t jv_snowflake_value(const json_t *v);
/* Serialises compactly; caller frees with free() (Jansson's allocator is libc). */
char *jv_dump_compact(const json_t *v);

#endif
