/* buf.h - a growable byte buffer with a hard cap.
 *
 * Invariants: data is NULL or holds len bytes followed by a NUL (so text can be
 * passed to C string functions, while binary data keeps its length); len <= cap.
 * Bytes appended beyond cap are dropped, counted in total and flagged in
 * truncated: hitting the cap is a normal, recorded outcome. */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define BUF_NO_CAP ((size_t)-1)

struct buf {
	char *data;
	size_t len;       /* bytes held */
	size_t alloc;     /* bytes allocated */
	size_t cap;       /* most bytes it will hold */
	size_t total;     /* bytes offered, held or not */
	bool truncated;   /* total > len */
};

/* Sets up an empty buffer; allocates nothing. */
void buf_init(struct buf *b, size_t cap);
/* Makes room for n bytes (at most the cap) in one allocation: a body of
 * known size then skips the doubling steps, which would leave freed
 * chunks behind in the thread's heap. */
void buf_reserve(struct buf *b, size_t n);
/* Appends n bytes, keeping what fits under the cap. */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory and cap. */
void buf_reset(struct buf *b);
/* Hands the bytes to the caller (who frees them) and re-initialises b. */
char *buf_detach(struct buf *b, size_t *len);
/* Frees the contents; b can be reused after buf_init. */
void buf_release(struct buf *b);

#endif
