/* fuzz.h - what every libFuzzer harness shares: the entry point, a check that
 * aborts (so libFuzzer records the input), and input-derived choices.
 *
 * Choices such as caps and split points come from a hash of the input, never
 * from rand(): a crash file then replays exactly. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An assert that survives -DNDEBUG and names the broken property. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* FNV-1a of p[0..n): the seed of every choice a harness makes. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* xorshift64*: the next pseudo-random number from state *s (never 0). */
static inline uint64_t fuzz_next(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* One of the n values in choices, picked by *s. */
static inline size_t fuzz_pick(uint64_t *s, const size_t *choices, size_t n)
{
	return choices[fuzz_next(s) % n];
}

/* The buf.h invariant: data is NULL, or len bytes then a NUL, len <= cap. */
static inline void fuzz_check_buf(const struct buf *b)
{
	FUZZ_CHECK(b->len <= b->cap);
	FUZZ_CHECK(b->total >= b->len);
	FUZZ_CHECK(b->truncated == (b->total > b->len));
	FUZZ_CHECK(!b->data ? b->len == 0 : b->data[b->len] == '\0');
}

/* Parses p[0..n) as exactly one JSON value nested at most depth deep,
 * strictly and with UTF-8 validation (what PostgreSQL's jsonb demands);
 * NULL if it is not that. */
static inline json_object *fuzz_json_parse_depth(const char *p, size_t n, int depth)
{
	json_tokener *tok = json_tokener_new_ex(depth);
	json_object *o;

	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, p, (int)n);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  json_tokener_get_parse_end(tok) != n)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* fuzz_json_parse_depth with json-c's default depth (32). */
static inline json_object *fuzz_json_parse(const char *p, size_t n)
{
	return fuzz_json_parse_depth(p, n, JSON_TOKENER_DEFAULT_DEPTH);
}

/* Hand-built JSON escapes only what it must: every \u escape in p[0..n) is a
 * control character other than NUL (jsonb refuses \u0000 and lone
 * surrogates). */
static inline void fuzz_check_json_escapes(const char *p, size_t n)
{
	size_t i;
	unsigned long cp;
	char hex[5];

	for (i = 0; i < n; i++) {
		if (p[i] != '\\')
			continue;
		FUZZ_CHECK(i + 1 < n);
		if (p[++i] != 'u')
			continue;
		FUZZ_CHECK(i + 4 < n);
		memcpy(hex, p + i + 1, 4);
		hex[4] = '\0';
		cp = strtoul(hex, NULL, 16);
		FUZZ_CHECK(cp > 0 && cp < 0x20);
		i += 4;
	}
}

/* A decoded JSON string: no NUL inside, valid UTF-8 (json-c checked). */
static inline void fuzz_check_json_string(json_object *s)
{
	FUZZ_CHECK(s && json_object_is_type(s, json_type_string));
	FUZZ_CHECK(strlen(json_object_get_string(s)) ==
		   (size_t)json_object_get_string_len(s));
}

#endif
