/* utf8.c - UTF-8 validation, repair and boundary finding. */
#include "utf8.h"
#include "banned.h"

/* Length of the valid sequence at p (1-4), or 0 if invalid or NUL. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

bool utf8_is_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		k = seq_len(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

void utf8_sanitize(const char *s, size_t n, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, k;

	while (i < n) {
		k = seq_len(p + i, n - i);
		if (k) {
			i += k;
			continue;
		}
		buf_add(out, s + start, i - start);
		buf_add(out, "\xef\xbf\xbd", 3);
		start = ++i;
	}
	buf_add(out, s + start, n - start);
}

size_t utf8_floor(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t m = n, back = 0;

	/* step back over continuation bytes to the lead byte of the last char */
	while (m > 0 && back < 4 && (p[m - 1] & 0xc0) == 0x80)
		m--, back++;
	if (m == 0)
		return n;
	if (p[m - 1] >= 0xc0) {
		unsigned char c = p[m - 1];
		size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

		return back + 1 >= want ? n : m - 1;
	}
	return n;
}
