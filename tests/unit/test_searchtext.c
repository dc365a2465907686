/* test_searchtext.c - the searchable words of a capture: what is kept, what is skipped. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json.h>

#include "check.h"
#include "../../proxy_fcgi/searchtext.c"

#define BIG (1 << 20)

static char *build(const char *req, const char *reply, size_t max)
{
	return searchtext_build(req, req ? strlen(req) : 0, reply,
				reply ? strlen(reply) : 0, max);
}

/* A string of n base64 characters, as an encoded image would be. */
static char *b64(size_t n)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = set[(i * 7 + i / 3) % 64];
	s[n] = '\0';
	return s;
}

static void test_chat_messages(void)
{
	static const char req[] =
		"{\"model\":\"gpt-4o\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What's in this "
		"image?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
		"\"https://upload.wikimedia.org/boardwalk.jpg\",\"detail\":\"low\"}},"
		"{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRiQAAABXQVZF\","
		"\"format\":\"wav\"}}]},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
		"\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"Boardwalk in Wisconsin\"}],"
		"\"temperature\":0.2,\"stream\":true}";
	/* an earlier turn was new (and indexed) in an earlier call */
	static const char later[] =
		"{\"model\":\"gpt-4o\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
		"{\"role\":\"user\",\"content\":\"first question\"},"
		"{\"role\":\"assistant\",\"content\":\"first answer\"},"
		"{\"role\":\"user\",\"name\":\"bob\",\"content\":\"second question\"}]}";
	char *t = build(req, "A wooden boardwalk through a green meadow.", BIG);

	CHECK_STR(t, "What's in this image?\n"
		  "Boardwalk in Wisconsin\nA wooden boardwalk through a green meadow.");
	free(t);
	t = build(later, "second answer", BIG);
	CHECK_STR(t, "second question\nsecond answer");
	free(t);
}

static void test_responses_input(void)
{
	static const char req[] =
		"{\"model\":\"gpt-4.1\",\"instructions\":\"Talk like a pirate.\",\"input\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Are semicolons "
		"optional in JavaScript?\"},{\"type\":\"input_image\",\"image_url\":"
		"\"https://example.com/x.png\"},{\"type\":\"input_file\",\"filename\":\"a.pdf\","
		"\"file_data\":\"JVBERi0xLjQK\"}]},"
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Arr, "
		"they be optional.\"}]},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"{}\"},"
		"\"plain string item\"]}";
	char *t = build(req, NULL, BIG);

	CHECK_STR(t, "Talk like a pirate.\nAre semicolons optional in JavaScript?\n"
		  "Arr, they be optional.\nplain string item");
	free(t);

	t = build("{\"model\":\"gpt-4.1\",\"input\":\"Tell me a three sentence bedtime "
		  "story about a unicorn.\"}", "Once upon a time", BIG);
	CHECK_STR(t, "Tell me a three sentence bedtime story about a unicorn.\n"
		  "Once upon a time");
	free(t);
}

static void test_prompt_and_embeddings(void)
{
	char *t = build("{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say this is a "
			"test\",\"max_tokens\":7}", "This is a test", BIG);

	CHECK_STR(t, "Say this is a test\nThis is a test");
	free(t);
	t = build("{\"prompt\":[\"first\",\"second\"]}", NULL, BIG);
	CHECK_STR(t, "first\nsecond");
	free(t);
	t = build("{\"prompt\":[1212,318,257,1332]}", NULL, BIG);
	CHECK_STR(t, "");
	free(t);
	t = build("{\"model\":\"text-embedding-3-small\",\"input\":[\"The food was "
		  "delicious\",\"and the waiter\"],\"encoding_format\":\"float\"}", NULL, BIG);
	CHECK_STR(t, "The food was delicious\nand the waiter");
	free(t);
}

static void test_system_field(void)
{
	char *t = build("{\"system\":\"Be terse.\",\"messages\":[{\"role\":\"user\","
			"\"content\":\"hi\"}]}", NULL, BIG);

	CHECK_STR(t, "Be terse.\nhi");
	free(t);
	t = build("{\"system\":[{\"type\":\"text\",\"text\":\"Part one.\"},"
		  "{\"type\":\"text\",\"text\":\"Part two.\"}]}", NULL, BIG);
	CHECK_STR(t, "Part one.\nPart two.");
	free(t);
}

static void test_base64_skipped(void)
{
	char *blob = b64(4000), *req, *t;
	size_t n = 2 * 4000 + 512;

	req = malloc(n);
	snprintf(req, n, "{\"messages\":[{\"role\":\"user\",\"content\":\"%s\"},"
		 "{\"role\":\"user\",\"content\":\"Describe %s please\"}]}", blob, blob);
	t = build(req, NULL, BIG);
	CHECK_STR(t, "Describe  please");
	free(t);
	free(req);

	/* a shorter run is a word (a hash, an id), and is kept */
	blob[150] = '\0';
	req = malloc(n);
	snprintf(req, n, "{\"input\":\"sha %s\"}", blob);
	t = build(req, NULL, BIG);
	CHECK(strlen(t) == 154 && !strncmp(t, "sha ", 4));
	free(t);
	free(req);
	free(blob);
}

static void test_data_urls_skipped(void)
{
	char *t = build("{\"messages\":[{\"role\":\"assistant\",\"content\":\"data:text/plain,hello\"},"
			"{\"role\":\"user\",\"content\":[{\"type\":\"text\","
			"\"text\":\"data:image/png;base64,iVBORw0KGgo=\"},{\"type\":\"text\","
			"\"text\":\"data: the numbers went up\"},{\"type\":\"image_url\","
			"\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}}]}]}",
			"data:,", BIG);

	CHECK_STR(t, "data: the numbers went up");
	free(t);
}

/* Every cap from 0 up: valid UTF-8, within the cap, a prefix of the whole,
 * and never more than one character short. */
static void test_cap_on_char_boundary(void)
{
	static const char reply[] = "na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac "
				    "\xf0\x9f\x98\x80\xf0\x9f\x98\x81 caf\xc3\xa9";
	char *whole = build("{\"input\":\"\xce\xb1\xce\xb2\"}", reply, BIG);
	size_t max, n = strlen(whole);
	int bad = 0;

	CHECK(n == 4 + 1 + strlen(reply));
	for (max = 0; max <= n + 2; max++) {
		char *t = build("{\"input\":\"\xce\xb1\xce\xb2\"}", reply, max);
		size_t m = strlen(t);

		if (m > max || !utf8_is_text(t, m) || strncmp(t, whole, m) ||
		    (max <= n && m + 3 < max) || (max >= n && m != n))
			bad++;
		free(t);
	}
	CHECK(bad == 0);
	free(whole);
}

static void test_sanitized(void)
{
	static const char reply[] = "ok\0bad\xff\xc3(end";
	char *t = build("{\"input\":\"nul\\u0000here \xc0\xaf x\"}", NULL, BIG);

	CHECK_STR(t, "nul\xef\xbf\xbdhere \xef\xbf\xbd\xef\xbf\xbd x");
	free(t);
	t = searchtext_build(NULL, 0, reply, sizeof(reply) - 1, BIG);
	CHECK_STR(t, "ok\xef\xbf\xbd" "bad\xef\xbf\xbd\xef\xbf\xbd(end");
	CHECK(utf8_is_text(t, strlen(t)));
	free(t);
}

static void test_not_json(void)
{
	char *t = build("<html>502 Bad Gateway</html>", "reply only", BIG);

	CHECK_STR(t, "reply only");
	free(t);
	t = build("{\"messages\":[{\"role\":\"user\",\"content\":\"cut he", "r", BIG);
	CHECK_STR(t, "r");
	free(t);
	t = build("[\"a\",\"b\"]", NULL, BIG);
	CHECK_STR(t, "");
	free(t);
	t = searchtext_build(NULL, 0, NULL, 0, BIG);
	CHECK_STR(t, "");
	free(t);
	t = build("{\"messages\":\"a string\",\"input\":{\"content\":\"x\"},"
		  "\"instructions\":5,\"prompt\":null}", NULL, BIG);
	CHECK_STR(t, "a string");
	free(t);
	t = build("{\"input\":\"x\"}", "reply", 0);
	CHECK_STR(t, "");
	free(t);
}

/* A 4 MB request with an inline image: fast, and only the words remain. */
static void test_big_request(void)
{
	size_t n = 4 << 20;
	char *blob = b64(n), *req = malloc(2 * n + 256), *t;
	struct timespec t0, t1;
	double ms;

	snprintf(req, 2 * n + 256, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
		 "\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":"
		 "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,%s\"}},"
		 "{\"type\":\"text\",\"text\":\"b64 %s\"}]}]}", blob, blob);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = build(req, "A cat.", 1 << 20);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK_STR(t, "What is this?\nb64 \nA cat.");
	printf("searchtext of a %zu MB request: %.1f ms\n", (2 * n) >> 20, ms);
	free(t);
	free(req);
	free(blob);
}

/* A long reply is read only as far as the cap. */
static void test_big_reply(void)
{
	size_t n = 8 << 20, i;
	char *reply = malloc(n + 1), *t;

	for (i = 0; i < n; i++)
		reply[i] = (i % 6 == 5) ? ' ' : "\xc3\xa9z"[i % 3];
	reply[n] = '\0';
	t = searchtext_build(NULL, 0, reply, n, 1001);
	CHECK(strlen(t) <= 1001 && strlen(t) >= 998);
	CHECK(utf8_is_text(t, strlen(t)));
	free(t);
	free(reply);
}

int main(void)
{
	test_chat_messages();
	test_responses_input();
	test_prompt_and_embeddings();
	test_system_field();
	test_base64_skipped();
	test_data_urls_skipped();
	test_cap_on_char_boundary();
	test_sanitized();
	test_not_json();
	test_big_request();
	test_big_reply();
	return check_done("test_searchtext");
}
