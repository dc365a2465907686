/* buf.c - growable byte buffer with a hard cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

void buf_init(struct buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

static void buf_grow(struct buf *b, size_t need)
{
	size_t want;

	if (need + 1 <= b->alloc)
		return;
	want = b->alloc ? b->alloc : 64;
	while (want < need + 1)
		want *= 2;
	/* never more than the cap needs: a 4 MB cap must not become 8 MB */
	if (b->cap != BUF_NO_CAP && want > b->cap + 1)
		want = b->cap + 1;
	b->data = xrealloc(b->data, want);
	b->alloc = want;
}

void buf_reserve(struct buf *b, size_t n)
{
	if (b->cap != BUF_NO_CAP && n > b->cap)
		n = b->cap;
	if (n + 1 <= b->alloc)
		return;
	b->data = xrealloc(b->data, n + 1);
	if (!b->alloc)
		b->data[0] = '\0';
	b->alloc = n + 1;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	size_t room = b->cap - b->len;
	size_t take = n < room ? n : room;

	b->total += n;
	if (take < n)
		b->truncated = true;
	if (!take) {
		if (!b->data)
			buf_grow(b, 0), b->data[0] = '\0';
		return;
	}
	buf_grow(b, b->len + take);
	memcpy(b->data + b->len, p, take);
	b->len += take;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		buf_add(b, small, (size_t)n);
		return;
	}
	{
		char *big = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_add(b, big, (size_t)n);
		free(big);
	}
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->total = 0;
	b->truncated = false;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xcalloc(1, 1);

	if (len)
		*len = b->len;
	buf_init(b, b->cap);
	return p;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->cap);
}
