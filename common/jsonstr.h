/* jsonstr.h - appending JSON string literals to a buffer, for hand-built JSON. */
#ifndef JSONSTR_H
#define JSONSTR_H

#include <stddef.h>

#include "buf.h"

/* Appends s[0..n) as a quoted JSON string: invalid UTF-8 and NUL become
 * U+FFFD, quotes, backslashes and control characters are escaped. The
 * result is also safe for PostgreSQL jsonb (no \u0000). */
void json_add_string(struct buf *out, const char *s, size_t n);

#endif
