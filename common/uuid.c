/* uuid.c - version 7 UUIDs from the clock and getrandom(). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "uuid.h"
#include "banned.h"

/* Random bytes for ids come from a per-thread pool refilled with one
 * getrandom() call per hundred ids, rather than one call per id. */
#define POOL_BYTES 1000

static void fill_random(unsigned char *p, size_t n)
{
	static __thread unsigned char pool[POOL_BYTES];
	static __thread size_t left, refills;
	ssize_t got;

	if (left < n) {
		got = getrandom(pool, sizeof(pool), 0);
		if (got != (ssize_t)sizeof(pool)) {
			/* never seen on Linux; keep ids unique-ish rather than fail a request */
			size_t i;

			for (i = 0; i < sizeof(pool); i++)
				pool[i] = (unsigned char)(pool[i] * 33 + i * 131 + refills +
							  (size_t)&got);
		}
		left = sizeof(pool);
		refills++;
	}
	memcpy(p, pool + sizeof(pool) - left, n);
	left -= n;
}

void uuid_format(const unsigned char b[16], char out[UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

void uuid_v7(char out[UUID_STR_LEN + 1], int64_t unix_ms)
{
	unsigned char b[16];
	int i;

	fill_random(b + 6, 10);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(unix_ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	uuid_format(b, out);
}

int uuid_valid(const char *s)
{
	int i;

	for (i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return s[UUID_STR_LEN] == '\0';
}

int64_t uuid_v7_time(const char *s)
{
	int64_t ms = 0;
	int i;

	if (!uuid_valid(s) || s[14] != '7')
		return -1;
	for (i = 0; i < 13; i++) {
		int c = tolower((unsigned char)s[i]);

		if (c == '-')
			continue;
		ms = ms * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return ms;
}
