/* searchtext.h - the text a capture is found by in full-text search.
 *
 * Takes the words people search for: from the request JSON the message
 * contents (string content and text parts) from the newest user turn on,
 * "prompt", "input" (string or items, also from the newest user turn),
 * "instructions" and "system"; then the reply text. Skips what only bloats the
 * index: base64 blobs, data: URLs, image and audio parts. The result is valid
 * UTF-8 without NUL and at most max bytes, cut on a character boundary, so
 * the tsvector built from it stays far below PostgreSQL's 1 MB limit. */
#ifndef SEARCHTEXT_H
#define SEARCHTEXT_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated string (possibly empty); the caller frees
 * it. Either input may be NULL with length 0; a body that is not JSON adds
 * nothing. */
struct json_object;

char *searchtext_build(const char *request_body, size_t request_len,
		       const char *reply, size_t reply_len, size_t max);
/* The same from the request already parsed (NULL: not JSON). */
char *searchtext_build_json(struct json_object *request, const char *reply, size_t reply_len,
			    size_t max);

#endif
