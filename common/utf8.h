/* utf8.h - UTF-8 checks for bytes headed to PostgreSQL text columns.
 *
 * PostgreSQL text refuses invalid UTF-8 and NUL; captured bytes may hold both. */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Decodes the character at p (n > 0 bytes available): returns its length
 * (1-4) and sets *cp, or returns 0 for an invalid or truncated sequence
 * (overlong forms, surrogates and values past U+10FFFF are invalid). NUL
 * decodes as a 1-byte U+0000. */
size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp);
/* true if p[0..n) is valid UTF-8 with no NUL byte (storable as text). */
bool utf8_is_text(const char *p, size_t n);
/* Appends p[0..n) to out with each invalid sequence or NUL as U+FFFD. */
void utf8_sanitize(const char *p, size_t n, struct buf *out);
/* The largest m <= n such that p[0..m) does not end inside a character. */
size_t utf8_floor(const char *p, size_t n);

#endif
