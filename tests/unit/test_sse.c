/* test_sse.c - the SSE parser gives the same events however the stream is cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../proxy_fcgi/sse.c"

/* A chat completion stream as api.openai.com sends it with include_usage. */
static const char chat_stream[] =
	"data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\","
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
	"\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\","
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\","
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"delta\":{\"content\":\" w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd\"},"
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\","
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
	"\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
	"data: {\"id\":\"chatcmpl-AZ8kLm3\",\"object\":\"chat.completion.chunk\","
	"\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],"
	"\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13,"
	"\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
	"\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n"
	"data: [DONE]\n\n";

/* Every event as "name|data" followed by a 0x1e separator, so whole runs
 * can be compared as one string. */
struct seen {
	struct buf log;
	int count;
	size_t last_len;
};

static void on_event(void *ctx, const char *event, size_t event_len,
		     const char *data, size_t data_len)
{
	struct seen *s = ctx;

	buf_add(&s->log, event, event_len);
	buf_addch(&s->log, '|');
	buf_add(&s->log, data, data_len);
	buf_addch(&s->log, 0x1e);
	s->count++;
	s->last_len = data_len;
}

static void seen_init(struct seen *s)
{
	buf_init(&s->log, BUF_NO_CAP);
	s->count = 0;
	s->last_len = 0;
}

/* Feeds text in pieces cut at a and b (a <= b <= n) to a fresh parser. */
static char *parse_split(const char *text, size_t n, size_t a, size_t b,
			 size_t max_event, int *count)
{
	struct sse_parser p;
	struct seen s;

	seen_init(&s);
	sse_init(&p, max_event);
	sse_feed(&p, text, a, on_event, &s);
	sse_feed(&p, text + a, b - a, on_event, &s);
	sse_feed(&p, text + b, n - b, on_event, &s);
	sse_release(&p);
	*count = s.count;
	return buf_detach(&s.log, NULL);
}

static char *parse_all(const char *text, int *count)
{
	size_t n = strlen(text);

	return parse_split(text, n, n, n, 1 << 20, count);
}

static void test_chat_stream_whole(void)
{
	int count;
	char *log = parse_all(chat_stream, &count);

	CHECK(count == 6);
	CHECK(strstr(log, "|{\"id\":\"chatcmpl-AZ8kLm3\"") == log);
	CHECK(strstr(log, "\"content\":\"Hello\"") != NULL);
	CHECK(strstr(log, "\x1e|[DONE]\x1e") != NULL);
	CHECK(strstr(log, "\n") == NULL);
	free(log);
}

static void test_chat_stream_byte_by_byte(void)
{
	struct sse_parser p;
	struct seen s;
	int count;
	char *whole = parse_all(chat_stream, &count);
	size_t i, n = strlen(chat_stream);

	seen_init(&s);
	sse_init(&p, 1 << 20);
	for (i = 0; i < n; i++)
		sse_feed(&p, chat_stream + i, 1, on_event, &s);
	CHECK(s.count == 6);
	CHECK(p.events == 6);
	CHECK_STR(s.log.data, whole);
	sse_release(&p);
	buf_release(&s.log);
	free(whole);
}

static void test_chat_stream_every_split(void)
{
	int count, bad = 0;
	char *whole = parse_all(chat_stream, &count);
	size_t a, n = strlen(chat_stream);

	for (a = 0; a <= n; a++) {
		int c;
		char *log = parse_split(chat_stream, n, a, n, 1 << 20, &c);

		if (c != 6 || strcmp(log, whole))
			bad++;
		free(log);
	}
	CHECK(bad == 0);
	free(whole);
}

/* Mixed line endings, cut at every pair of points: \r\n split across
 * chunks must not end a line twice. */
static void test_mixed_endings_every_split(void)
{
	static const char text[] =
		"event: a\r\ndata: one\r\ndata: two\r\n\r\n"
		": keep-alive\r\r"
		"data: three\rid: 7\r\r"
		"data: four\n\n";
	static const char want[] =
		"a|one\ntwo\x1e" "|three\x1e" "|four\x1e";
	size_t a, b, n = strlen(text);
	int bad = 0, count;

	for (a = 0; a <= n; a++) {
		for (b = a; b <= n; b++) {
			char *log = parse_split(text, n, a, b, 1024, &count);

			if (count != 3 || strcmp(log, want))
				bad++;
			free(log);
		}
	}
	CHECK(bad == 0);
}

static void test_crlf_cut_between_cr_and_lf(void)
{
	struct sse_parser p;
	struct seen s;

	seen_init(&s);
	sse_init(&p, 1024);
	sse_feed(&p, "data: x\r", 8, on_event, &s);
	CHECK(s.count == 0);
	sse_feed(&p, "\n\r", 2, on_event, &s);
	CHECK(s.count == 1);
	CHECK(p.after_cr);
	sse_feed(&p, "\n", 1, on_event, &s);
	sse_feed(&p, "\r\n", 2, on_event, &s);
	/* the blank lines after the event dispatch nothing more */
	CHECK(s.count == 1);
	CHECK_STR(s.log.data, "|x\x1e");
	sse_release(&p);
	buf_release(&s.log);
}

static void test_cr_only(void)
{
	int count;
	char *log = parse_all("data: a\r\rdata: b\rdata: c\r\r", &count);

	CHECK(count == 2);
	CHECK_STR(log, "|a\x1e|b\nc\x1e");
	free(log);
}

static void test_comments_and_unknown_fields(void)
{
	int count;
	char *log = parse_all(": OPENROUTER PROCESSING\n\n"
			      ":\n\n"
			      "id: 42\nretry: 1000\nfoo: bar\nnocolon\n\n"
			      ": ping\ndata: x\n: between\n\n", &count);

	CHECK(count == 1);
	CHECK_STR(log, "|x\x1e");
	free(log);
}

static void test_multiline_data(void)
{
	int count;
	char *log = parse_all("data: a\ndata:b\ndata:  c\ndata\ndata:\n\n", &count);

	/* one leading space is stripped, a second kept; bare "data" adds "" */
	CHECK(count == 1);
	CHECK_STR(log, "|a\nb\n c\n\n\x1e");
	free(log);
}

static void test_event_field(void)
{
	int count;
	char *log = parse_all("event: response.created\n"
			      "data: {\"type\":\"response.created\"}\n\n"
			      "data: plain\n\n"
			      "event: dropped\n\n"
			      "data: after\n\n"
			      "event:first\nevent: second\ndata: y\n\n", &count);

	/* the name applies to one event; an event without data is dropped
	 * together with its name */
	CHECK(count == 4);
	CHECK_STR(log, "response.created|{\"type\":\"response.created\"}\x1e"
		  "|plain\x1e|after\x1esecond|y\x1e");
	free(log);
}

static void test_empty_data_dispatches(void)
{
	int count;
	char *log = parse_all("data:\n\ndata\n\n\n\n", &count);

	CHECK(count == 2);
	CHECK_STR(log, "|\x1e|\x1e");
	free(log);
}

static void test_done(void)
{
	int count;
	char *log = parse_all("data: [DONE]\n\n", &count);

	CHECK(count == 1);
	CHECK_STR(log, "|[DONE]\x1e");
	free(log);
}

static void test_unfinished_event_dropped(void)
{
	struct sse_parser p;
	struct seen s;

	seen_init(&s);
	sse_init(&p, 1024);
	sse_feed(&p, "data: complete\n\ndata: never ends\n", 33, on_event, &s);
	CHECK(s.count == 1);
	sse_release(&p);
	sse_release(NULL);
	CHECK(s.count == 1);
	buf_release(&s.log);
}

static void test_nul_in_data(void)
{
	struct sse_parser p;
	struct seen s;

	seen_init(&s);
	sse_init(&p, 1024);
	sse_feed(&p, "data: a\0b\n\n", 11, on_event, &s);
	CHECK(s.count == 1);
	CHECK(s.last_len == 3);
	CHECK(s.log.len == 5 && !memcmp(s.log.data, "|a\0b\x1e", 5));
	sse_release(&p);
	buf_release(&s.log);
}

/* A 1 MB event with a 1000-byte cap: dispatched cut, memory bounded, and
 * the stream goes on. */
static void test_cap(void)
{
	struct sse_parser p;
	struct seen s;
	size_t i, big = 1 << 20;
	char *chunk = malloc(4096);

	memset(chunk, 'x', 4096);
	seen_init(&s);
	sse_init(&p, 1000);
	sse_feed(&p, "event: big\ndata: ", 17, on_event, &s);
	for (i = 0; i < big / 4096; i++)
		sse_feed(&p, chunk, 4096, on_event, &s);
	CHECK(p.line.alloc <= 2048);
	CHECK(p.line.truncated);
	sse_feed(&p, "\ndata: more\n\ndata: next\n\n", 25, on_event, &s);
	CHECK(s.count == 2);
	CHECK(p.data.alloc <= 2048);
	CHECK(s.log.len == 4 + 1000 + 1 + 5 + 1);
	CHECK(!memcmp(s.log.data, "big|xxxx", 8));
	CHECK(!memcmp(s.log.data + 4 + 1000, "\x1e|next\x1e", 7));
	sse_release(&p);
	buf_release(&s.log);
	free(chunk);
}

/* The cap also holds when many short data lines add up. */
static void test_cap_many_lines(void)
{
	struct sse_parser p;
	struct seen s;
	int i;

	seen_init(&s);
	sse_init(&p, 100);
	for (i = 0; i < 1000; i++)
		sse_feed(&p, "data: 0123456789\n", 17, on_event, &s);
	sse_feed(&p, "\n", 1, on_event, &s);
	CHECK(s.count == 1);
	CHECK(s.last_len == 100);
	sse_release(&p);
	buf_release(&s.log);
}

int main(void)
{
	test_chat_stream_whole();
	test_chat_stream_byte_by_byte();
	test_chat_stream_every_split();
	test_mixed_endings_every_split();
	test_crlf_cut_between_cr_and_lf();
	test_cr_only();
	test_comments_and_unknown_fields();
	test_multiline_data();
	test_event_field();
	test_empty_data_dispatches();
	test_done();
	test_unfinished_event_dropped();
	test_nul_in_data();
	test_cap();
	test_cap_many_lines();
	return check_done("test_sse");
}
