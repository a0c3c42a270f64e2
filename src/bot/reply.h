/* Minimal post-processing of a generated reply before it is sent (the product keeps the
 * community's style, so nothing here filters style): drops reasoning blocks (<think>...</think>),
 * cuts at template artifacts that start a new turn, removes special-token text, strips a leading
 * "Name:" speaker tag (the bot's name, the person answered, or any member the caller knows: the
 * shape collect/prepare.c gives every message of a training sample), defangs @everyone/@here
 * (allowed_mentions already stops the ping; this also keeps the text from looking like one),
 * repairs invalid UTF-8 and trims. Splitting over 2,000 characters is the discord layer's job. */
#ifndef MIMIC_BOT_REPLY_H
#define MIMIC_BOT_REPLY_H
#include <stdbool.h>
#include <stddef.h>

/* Longest leading "Name" looked at, in bytes (Discord allows 32 characters). */
#define REPLY_NAME_MAX 128

/* Returns the cleaned reply (caller frees with mem_free); "" when nothing sendable is left, which
 * the caller treats as an empty generation (retry once with another seed). names: speaker names
 * that may be echoed at the start (the bot's own name first); may be NULL when n_names is 0. */
char *reply_clean(const char *text, const char *const *names, size_t n_names);

/* Decides whether name (len bytes, not NUL-terminated, never empty) is someone the model may write
 * as. It may query a database: it is asked about at most a few candidates per reply. */
typedef bool (*reply_speaker_fn)(const char *name, size_t len, void *user);

/* reply_clean, with is_speaker (may be NULL) consulted for a leading "Name:" that is none of
 * names, so another member's tag is stripped too. */
char *reply_clean_speakers(const char *text, const char *const *names, size_t n_names,
                           reply_speaker_fn is_speaker, void *user);

#endif
