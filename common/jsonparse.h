/* jsonparse.h - reading untrusted JSON bytes with json-c. */
#ifndef JSONPARSE_H
#define JSONPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <json.h>

/* Nesting deeper than this is refused: no OpenAI body comes close. */
#define JSON_MAX_DEPTH 64

bool json_ws(char c);
/* Parses p[0..n) as one JSON value with nothing but whitespace after it.
 * Returns NULL if it is not that (also for NULL, empty or > INT_MAX input);
 * the caller json_object_put()s the result. */
json_object *json_parse_bytes(const char *p, size_t n);
/* o[key], or NULL when o is not an object or has no such member. */
json_object *jget(json_object *o, const char *key);

#endif
