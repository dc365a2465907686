/* keymask.h - what a capture keeps of an API key: a hint and a fingerprint.
 *
 * A hint ("sk-proj-…abcd") lets people recognise a key; a fingerprint (16 hex
 * chars of its SHA-256) lets them group by key. Neither lets anyone use it. */
#ifndef KEYMASK_H
#define KEYMASK_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define KEY_HINT_MAX 32
#define KEY_FINGERPRINT_LEN 16

/* Returns the key inside an Authorization value ("Bearer KEY" -> KEY), or the
 * value itself; *n is its length. */
const char *key_from_auth(const char *value, size_t *n);
/* Writes the hint of key[0..n) into out: the prefix up to its last '-' in the
 * first 8 chars, "…", and the last 4 chars; just "…" for keys under 12 chars. */
void key_hint(const char *key, size_t n, char out[KEY_HINT_MAX]);
/* Writes 16 lowercase hex chars and a NUL. */
void key_fingerprint(const char *key, size_t n, char out[KEY_FINGERPRINT_LEN + 1]);
/* true for header names that carry a key: Authorization, Api-Key, X-Api-Key,
 * Proxy-Authorization (case-insensitive). */
bool key_header(const char *name);
/* Appends value to out with the key replaced by its hint, keeping a scheme
 * word such as "Bearer ". */
void key_mask_value(const char *value, struct buf *out);
/* Appends query string q to out with the values of key-bearing parameters
 * (api-key, api_key, key, access_token, token) replaced by their hints. */
void key_mask_query(const char *q, struct buf *out);

#endif
