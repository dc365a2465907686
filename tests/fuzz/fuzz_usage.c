/* fuzz_usage.c - usage_from_body and usage_from_request on hostile JSON.
 *
 * The input is a response body, optionally followed by a NUL and the request
 * body (without a NUL the same bytes serve as both). Properties: whatever the
 * bytes, the fields that reach indexed text columns are valid UTF-8 without
 * NUL and short; the reply stays under its cap, valid text, and a body read
 * twice into a fresh usage gives the same answer (no hidden state). */
#include <stdbool.h>
#include <string.h>

#include "usage.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

/* An indexed column holds ~2.7 KB at most (usage.c cuts names well below). */
#define INDEXED_MAX 2700

static void check_field(const char *s, size_t max)
{
	if (s) {
		FUZZ_CHECK(*s != '\0');
		FUZZ_CHECK(strlen(s) <= max);
		FUZZ_CHECK(utf8_is_text(s, strlen(s)));
	}
}

static void check_usage(const struct usage *u)
{
	check_field(u->model, INDEXED_MAX);
	check_field(u->finish_reason, INDEXED_MAX);
	check_field(u->error_message, 64 * 1024);
	fuzz_check_buf(&u->reply);
	FUZZ_CHECK(utf8_is_text(u->reply.data, u->reply.len));
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_same(const struct usage *a, const struct usage *b)
{
	FUZZ_CHECK(same_str(a->model, b->model));
	FUZZ_CHECK(same_str(a->finish_reason, b->finish_reason));
	FUZZ_CHECK(same_str(a->error_message, b->error_message));
	FUZZ_CHECK(a->prompt_tokens == b->prompt_tokens);
	FUZZ_CHECK(a->completion_tokens == b->completion_tokens);
	FUZZ_CHECK(a->total_tokens == b->total_tokens);
	FUZZ_CHECK(a->cached_tokens == b->cached_tokens);
	FUZZ_CHECK(a->reasoning_tokens == b->reasoning_tokens);
	FUZZ_CHECK(a->reply.len == b->reply.len);
	FUZZ_CHECK(a->reply.len == 0 || !memcmp(a->reply.data, b->reply.data, a->reply.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 0, 1, 2, 3, 5, 16, 100, 4096, 4 * 1024 * 1024 };
	uint64_t rng = fuzz_hash(data, size);
	size_t cap = fuzz_pick(&rng, caps, sizeof(caps) / sizeof(caps[0]));
	const char *body = (const char *)data, *req = body;
	const char *nul = memchr(data, '\0', size);
	size_t body_len = size, req_len = size;
	struct usage a, b;

	if (nul) {
		body_len = (size_t)(nul - body);
		req = nul + 1;
		req_len = size - body_len - 1;
	}
	usage_init(&a, cap);
	usage_init(&b, cap);

	usage_from_body(&a, body, body_len);
	usage_from_body(&b, body, body_len);
	check_same(&a, &b);
	check_usage(&a);

	usage_from_request(&a, req, req_len);
	check_usage(&a);
	if (b.model)
		FUZZ_CHECK(a.model && !strcmp(a.model, b.model));

	usage_release(&a);
	usage_release(&b);
	return 0;
}
