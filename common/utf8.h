/* utf8.h - UTF-8 checks for bytes headed to PostgreSQL text columns.
 *
 * PostgreSQL text refuses invalid UTF-8 and NUL; captured bytes may hold both. */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* true if p[0..n) is valid UTF-8 with no NUL byte (storable as text). */
bool utf8_is_text(const char *p, size_t n);
/* Appends p[0..n) to out with each invalid sequence or NUL as U+FFFD. */
void utf8_sanitize(const char *p, size_t n, struct buf *out);
/* The largest m <= n such that p[0..m) does not end inside a character. */
size_t utf8_floor(const char *p, size_t n);

#endif
