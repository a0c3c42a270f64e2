/* Character cards: SillyTavern's Character Card V2 and V3 (and the flat V1 they grew from), read
 * from JSON or from a PNG's tEXt chunks (`chara` holds a V2 card, `ccv3` a V3 one, each the base64
 * of the JSON; V3 is preferred when both are there), and written back as V3 JSON or into a PNG with
 * both chunks. Pure: bytes in, a store_persona out; no files, no database. Reading the file,
 * copying the PNG as the avatar and storing the persona are the caller's (cli/cmd_persona.c).
 *
 * Mapping: the card's fields land in the persona fields of the same name; `nickname` (V3) becomes
 * an alias; `extensions` and `character_book` are kept as the card's raw JSON. mimic's own fields
 * (aliases, triggers, freewill, sampling, lore scope) travel in `extensions.mimic` on export and
 * are read back from there on import. Not kept: V3 `assets`, `group_only_greetings`, `source`,
 * `creator_notes_multilingual` and the dates (the PNG itself is the avatar).
 *
 * Threads: every function is reentrant. */
#ifndef MIMIC_COLLECT_CARD_H
#define MIMIC_COLLECT_CARD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/persona.h"

#define CARD_FILE_MAX   (32u << 20) /* bytes of a card file, JSON or PNG */
#define CARD_CHUNKS_MAX 4096        /* PNG chunks walked before giving up */

/* What a parse found besides the fields. */
typedef struct card_meta {
  int version;   /* 1, 2 or 3 */
  bool png;      /* read from a PNG */
  bool both;     /* the PNG held both `chara` and `ccv3` (ccv3 was read) */
  char spec[32]; /* the `spec` string ("" for V1) */
  bool has_book; /* the card embeds a character_book */
} card_meta;

/* Whether data starts with the PNG signature. */
bool card_is_png(const void *data, size_t n);

/* Parses a card's JSON text into *out (store_persona_free'd first). Accepts V2 (`spec`
 * "chara_card_v2", `spec_version` "2.0") and V3 (`spec` "chara_card_v3", `spec_version` 3.x) with
 * the fields under `data`, and V1 (no `spec`, the fields at the top). Every field must have its
 * spec's type, text fields must be valid UTF-8 and at most STORE_PERSONA_FIELD_MAX bytes, the name
 * non-empty; the result passes store_persona_check. Errors: MIMIC_EFORMAT, MIMIC_ERANGE or
 * MIMIC_EUNSUPPORTED with one sentence naming the field ("card field description is 10485760
 * bytes; mimic keeps at most 262144 bytes per field"); *out is then empty. meta may be NULL. */
int card_parse_json(const char *text, size_t n, store_persona *out, card_meta *meta) MIMIC_MUST;

/* Parses a PNG card: walks the chunks (CRC-checked, at most CARD_CHUNKS_MAX, up to IEND), reads
 * the tEXt chunk `ccv3`, else `chara` (keywords compared without ASCII case), base64-decodes it and
 * parses the JSON as card_parse_json. Errors: MIMIC_EFORMAT for a file that is not a PNG, a
 * truncated one, a bad CRC, a PNG without either chunk or bad base64, each one sentence; then as
 * card_parse_json. */
int card_parse_png(const void *data, size_t n, store_persona *out, card_meta *meta) MIMIC_MUST;

/* card_parse_png when data is a PNG, else card_parse_json. Over CARD_FILE_MAX is MIMIC_ERANGE. */
int card_parse(const void *data, size_t n, store_persona *out, card_meta *meta) MIMIC_MUST;

/* The card JSON of a persona, version 3 (`chara_card_v3`, "3.0") or 2 (`chara_card_v2`, "2.0",
 * with the V1 fields repeated at the top as SillyTavern writes them), pretty-printed, appended to
 * out. Errors: MIMIC_ENOMEM, MIMIC_EFORMAT when the stored raw JSON does not parse. */
int card_to_json(const store_persona *p, int version, buf *out) MIMIC_MUST;

/* Writes png with the persona's card embedded into out (appended): every existing `chara` and
 * `ccv3` tEXt chunk is dropped and a V2 `chara` and a V3 `ccv3` chunk are inserted before IEND.
 * Errors: as card_parse_png for a broken png, and as card_to_json. */
int card_png_embed(const void *png, size_t n, const store_persona *p, buf *out) MIMIC_MUST;

/* The system prompt a persona speaks with, appended to out, laid out as SillyTavern does: the
 * card's system_prompt (its {{original}} is mimic's main prompt "You are {{char}}."), or that main
 * prompt when the card has none; then the description, "{{char}}'s personality: ...", "Scenario:
 * ..." and "How {{char}} talks:" with the example dialogue. {{char}} / <BOT> and {{user}} / <USER>
 * (any case) are replaced by char_name (NULL = the persona's name) and user_name (NULL = "User").
 * When lore_bytes > 0, up to that many bytes of the enabled entries of the embedded
 * character_book follow as "What {{char}} knows:" lines. creator_notes never enter the prompt (the
 * spec forbids it). Errors: MIMIC_ENOMEM / MIMIC_ERANGE from out. */
int card_system_prompt(const store_persona *p, const char *char_name, const char *user_name,
                       size_t lore_bytes, buf *out) MIMIC_MUST;

/* Appends text with the card macros replaced ({{char}}, <BOT>, {{user}}, <USER>, any case). */
int card_macros(const char *text, const char *char_name, const char *user_name,
                buf *out) MIMIC_MUST;

#endif
