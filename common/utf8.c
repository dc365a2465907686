/* utf8.c - UTF-8 validation, repair and boundary finding. */
#include <stdint.h>
#include <string.h>

#include "utf8.h"
#include "banned.h"

size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Length of the valid sequence at p (1-4), or 0 if invalid or NUL. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	unsigned cp;

	return p[0] ? utf8_decode(p, n, &cp) : 0;
}

/* Length of the run of ASCII bytes 0x01-0x7f at the start of p[0..n),
 * eight at a time: most captured text is ASCII. */
static size_t ascii_run(const unsigned char *p, size_t n)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t i = 0;
	uint64_t v;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, p + i, 8);
		/* a byte >= 0x80, or a zero byte (v - ones borrows into its high bit) */
		if ((v | (v - ones)) & high)
			break;
	}
	while (i < n && p[i] >= 0x01 && p[i] < 0x80)
		i++;
	return i;
}

bool utf8_is_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		i += ascii_run(p + i, n - i);
		if (i == n)
			break;
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
		i += ascii_run(p + i, n - i);
		if (i == n)
			break;
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
