/* Internals shared by the lore layer's files. Not public.
 *
 * The layer is a stack, bottom first: chunk.c (prose chunkers and the chunk list) -> book.c (World
 * Info and character books) -> wi.c (activation) -> retrieve.c (the encoder seam, hybrid search,
 * recall) -> ingest.c (adding files and books, embedding lore and history). */
#ifndef MIMIC_LORE_INT_H
#define MIMIC_LORE_INT_H
#include "lore/lore.h"

/* ---- chunk.c ---- */
/* A new chunk at the end of c with SillyTavern's defaults (enabled, order 100, depth 4). */
lore_chunk *lore__chunk_push(lore_chunks *c);
void lore__chunk_clear(lore_chunk *c);
/* 0, or MIMIC_EFORMAT naming the first NUL byte (binary) or invalid UTF-8 byte of t[0..n). */
int lore__check_text(const char *name, const char *t, size_t n) MIMIC_MUST;

/* Tokens of a text by the caller's counter, or one per 3 bytes. */
int lore__count(lore_count_fn count, void *user, const char *text);
/* Appends an item (strings copied). */
lore_item *lore__item_push(lore_items *l, int64_t id, const char *source, const char *scope,
                           const char *title, const char *text);

#endif
