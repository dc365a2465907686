/* jsonv.h - is this text one strict JSON value (RFC 8259)?
 *
 * Decides whether a captured body can be sent to the browser as JSON as it
 * is, without building a tree: one pass, no allocation, nesting capped at
 * JSONV_MAX_DEPTH (deeper is "not JSON", shown as text). Accepts surrounding
 * whitespace; rejects trailing bytes, comments, single quotes, NaN, leading
 * zeros, trailing commas, raw control characters in strings and invalid
 * UTF-8. (A \u0000 escape is valid JSON and passes.) */
#ifndef JSONV_H
#define JSONV_H

#include <stdbool.h>
#include <stddef.h>

#define JSONV_MAX_DEPTH 256

bool jsonv_valid(const char *p, size_t n);

#endif
