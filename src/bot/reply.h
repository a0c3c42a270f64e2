/* Minimal post-processing of a generated reply before it is sent (the product keeps the
 * community's style, so nothing here filters style): drops reasoning blocks (<think>...</think>),
 * cuts at template artifacts that start a new turn, removes special-token text, strips a leading
 * "name:" echo of the bot's or a speaker's name, defangs @everyone/@here (allowed_mentions already
 * stops the ping; this also keeps the text from looking like one), repairs invalid UTF-8 and trims.
 * Splitting over 2,000 characters is the discord layer's job. */
#ifndef MIMIC_BOT_REPLY_H
#define MIMIC_BOT_REPLY_H
#include <stddef.h>

/* Returns the cleaned reply (caller frees with mem_free); "" when nothing sendable is left, which
 * the caller treats as an empty generation (retry once with another seed). names: speaker names
 * that may be echoed at the start (the bot's own name first); may be NULL when n_names is 0. */
char *reply_clean(const char *text, const char *const *names, size_t n_names);

#endif
