/* fuzz_searchtext.c - searchtext_build on hostile request bodies and replies.
 *
 * The input is a request body, optionally followed by a NUL and the reply
 * text (without a NUL there is no reply: NULL, 0). The cap comes from the
 * input's hash, from 0 bytes up to the real 96 KB. Properties: the result is
 * valid UTF-8 without NUL, at most max bytes, the same when built twice, and
 * with a larger cap the smaller result is a prefix of it (cutting happens only
 * at the end, never by dropping pieces in the middle). */
#include <stdbool.h>
#include <string.h>

#include "searchtext.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 0, 1, 2, 3, 4, 5, 7, 16, 100, 1000, 96 * 1024 };
	uint64_t rng = fuzz_hash(data, size);
	size_t max = fuzz_pick(&rng, maxes, sizeof(maxes) / sizeof(maxes[0]));
	const char *req = (const char *)data, *reply = NULL;
	const char *nul = memchr(data, '\0', size);
	size_t req_len = size, reply_len = 0, len;
	char *text, *again, *big;

	if (nul) {
		req_len = (size_t)(nul - req);
		reply = nul + 1;
		reply_len = size - req_len - 1;
	}
	text = searchtext_build(req, req_len, reply, reply_len, max);
	FUZZ_CHECK(text != NULL);
	len = strlen(text);
	FUZZ_CHECK(len <= max);
	FUZZ_CHECK(utf8_is_text(text, len));

	again = searchtext_build(req, req_len, reply, reply_len, max);
	FUZZ_CHECK(!strcmp(text, again));

	big = searchtext_build(req, req_len, reply, reply_len, 96 * 1024);
	FUZZ_CHECK(strlen(big) >= len && !memcmp(big, text, len));
	FUZZ_CHECK(utf8_is_text(big, strlen(big)));
	free(again);
	free(big);
	free(text);
	return 0;
}
