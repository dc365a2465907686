/* test_headers.c - header names from CGI params, hop-by-hop filtering, header JSON. */
#include "check.h"
#include "../../proxy_fcgi/headers.c"
#include "capture.h"
#include "utf8.h"

static void test_names(void)
{
	char name[64];
	const char *v;

	v = hdr_from_cgi("HTTP_OPENAI_ORGANIZATION=org-123", name, sizeof(name));
	CHECK_STR(name, "OpenAI-Organization");
	CHECK_STR(v, "org-123");
	hdr_from_cgi("HTTP_OPENAI_BETA=assistants=v2", name, sizeof(name));
	CHECK_STR(name, "OpenAI-Beta");
	v = hdr_from_cgi("HTTP_USER_AGENT=OpenAI/JS 4.0", name, sizeof(name));
	CHECK_STR(name, "User-Agent");
	CHECK_STR(v, "OpenAI/JS 4.0");
	hdr_from_cgi("HTTP_X_STAINLESS_OS=Linux", name, sizeof(name));
	CHECK_STR(name, "X-Stainless-Os");
	/* OPENAI only as a whole word */
	hdr_from_cgi("HTTP_X_OPENAIX=1", name, sizeof(name));
	CHECK_STR(name, "X-Openaix");
	v = hdr_from_cgi("HTTP_X_EMPTY=", name, sizeof(name));
	CHECK_STR(v, "");
	CHECK(hdr_from_cgi("CONTENT_TYPE=application/json", name, sizeof(name)) == NULL);
	CHECK(hdr_from_cgi("HTTP_=x", name, sizeof(name)) == NULL);
	CHECK(hdr_from_cgi("HTTP_NOVALUE", name, sizeof(name)) == NULL);
	CHECK(hdr_from_cgi("HTTP_A_VERY_LONG_HEADER_NAME=x", name, 8) == NULL);
}

static void test_request_drop(void)
{
	CHECK(hdr_request_drop("Connection", NULL));
	CHECK(hdr_request_drop("Keep-Alive", NULL));
	CHECK(hdr_request_drop("transfer-encoding", NULL));
	CHECK(hdr_request_drop("Upgrade", NULL));
	CHECK(hdr_request_drop("TE", NULL));
	CHECK(hdr_request_drop("Proxy-Authorization", NULL));
	CHECK(hdr_request_drop("Host", NULL));
	CHECK(hdr_request_drop("Content-Length", NULL));
	CHECK(hdr_request_drop("Accept-Encoding", NULL));
	CHECK(hdr_request_drop("Expect", NULL));
	CHECK(hdr_request_drop("X-Capture-User", NULL));
	CHECK(hdr_request_drop("X-Secret-Hop", "keep-alive, X-Secret-Hop"));
	CHECK(!hdr_request_drop("X-Other", "keep-alive, X-Secret-Hop"));
	CHECK(!hdr_request_drop("Authorization", NULL));
	CHECK(!hdr_request_drop("OpenAI-Organization", NULL));
	CHECK(!hdr_request_drop("OpenAI-Beta", NULL));
	CHECK(!hdr_request_drop("User-Agent", NULL));
	CHECK(!hdr_request_drop("Content-Type", NULL));
	CHECK(!hdr_request_drop("Hostname", NULL));
}

static void test_response_drop(void)
{
	CHECK(hdr_response_drop("Transfer-Encoding", 17, false, NULL));
	CHECK(hdr_response_drop("Connection", 10, false, NULL));
	CHECK(hdr_response_drop("keep-alive", 10, false, NULL));
	CHECK(hdr_response_drop("Status", 6, false, NULL));
	CHECK(!hdr_response_drop("Content-Length", 14, false, NULL));
	CHECK(hdr_response_drop("Content-Length", 14, true, NULL));
	CHECK(hdr_response_drop("content-encoding", 16, true, NULL));
	CHECK(!hdr_response_drop("Retry-After", 11, true, NULL));
	CHECK(!hdr_response_drop("X-Request-Id", 12, false, NULL));
	CHECK(hdr_response_drop("X-Upstream-Hop", 14, false, "keep-alive, x-upstream-hop"));
	CHECK(!hdr_response_drop("X-Upstream", 10, false, "keep-alive, x-upstream-hop"));
	CHECK(!hdr_response_drop("Content-Type", 12, true, NULL));
	CHECK(hdr_value_unsafe("a\r\nSet-Cookie: x", 16));
	CHECK(hdr_value_unsafe("a\0b", 3));
	CHECK(!hdr_value_unsafe("text/plain; charset=utf-8", 25));
}

static void test_headers_json(void)
{
	struct buf lines, json;

	buf_init(&lines, BUF_NO_CAP);
	buf_init(&json, BUF_NO_CAP);
	buf_adds(&lines, "Content-Type: application/json\n");
	buf_adds(&lines, "X-Quote: say \"hi\" \\ bye\n");
	buf_add(&lines, "X-Bin: a\x01\xff" "b\n", 12);
	buf_adds(&lines, "garbage line without colon\n");
	capture_headers_json(&lines, &json);
	CHECK_STR(json.data, "[[\"Content-Type\",\"application/json\"],"
		  "[\"X-Quote\",\"say \\\"hi\\\" \\\\ bye\"],"
		  "[\"X-Bin\",\"a\\u0001\xef\xbf\xbd" "b\"]]");
	buf_reset(&json);
	buf_reset(&lines);
	capture_headers_json(&lines, &json);
	CHECK_STR(json.data, "[]");
	buf_release(&lines);
	buf_release(&json);
}

/* A stream cut at the capture cap still yields the usage of its last event. */
static void test_truncated_stream_usage(void)
{
	struct capture *c = capture_new(200);
	const char *ev = "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
			 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"}}]}\n\n";
	const char *last = "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
			   "\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
			   "\"completion_tokens\":2000,\"total_tokens\":2011}}\n\ndata: [DONE]\n\n";
	int i;

	c->streamed = true;
	for (i = 0; i < 2000; i++)
		capture_add_response(c, ev, strlen(ev));
	capture_add_response(c, last, strlen(last));
	capture_finish(c);
	CHECK(c->resp_body.truncated);
	CHECK(c->resp_body.total > 200);
	CHECK(c->resp_tail.len <= 2 * CAPTURE_TAIL_MAX);
	CHECK(c->usage.prompt_tokens == 11);
	CHECK(c->usage.completion_tokens == 2000);
	CHECK_STR(c->usage.model, "gpt-4o");
	capture_free(c);
}

/* A stream read while it arrives (after each piece, cut anywhere, also past
 * the cap) reads as the same stream read once at its end. */
static void test_stream_read_as_it_arrives(void)
{
	static const char *ev[] = {
		"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\xc3\xa9 \"}}]}\r\n\r\n",
		": keep-alive\n\nevent: message\ndata: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xe2\x9c\x93 done\"}}]}\n\n",
		"data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[],"
		"\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\ndata: [DONE]\n\n",
	};
	/* the second cap cuts the stream inside the 3-byte "\xe2\x9c\x93":
	 * capture_finish then drops its first two bytes, already read */
	size_t caps[] = { 4096, 244 }, cut, i, k;
	const char *reply[] = { "caf\xc3\xa9 \xe2\x9c\x93 done", "caf\xc3\xa9 " };
	struct buf all;

	buf_init(&all, BUF_NO_CAP);
	for (i = 0; i < 3; i++)
		buf_adds(&all, ev[i]);
	for (k = 0; k < 2; k++)
		for (cut = 1; cut < 40; cut += 3) {
			struct capture *a = capture_new(caps[k]), *b = capture_new(caps[k]);

			a->streamed = b->streamed = true;
			for (i = 0; i < all.len; i += cut) {
				size_t n = all.len - i < cut ? all.len - i : cut;

				capture_add_response(a, all.data + i, n);
				capture_read_events(a);
				capture_add_response(b, all.data + i, n);
			}
			capture_finish(a);
			capture_finish(b);
			CHECK(a->sse_events == b->sse_events);
			CHECK(a->sse_events == (k ? 1 : 4));
			CHECK(a->usage.prompt_tokens == 7 && b->usage.prompt_tokens == 7);
			CHECK(a->resp_body.len == (k ? 242 : all.len));
			CHECK(a->usage.reply.len == strlen(reply[k]));
			CHECK(!memcmp(a->usage.reply.data, reply[k], strlen(reply[k])));
			CHECK(b->usage.reply.len == a->usage.reply.len);
			CHECK(!memcmp(a->usage.reply.data, b->usage.reply.data, a->usage.reply.len));
			CHECK_STR(a->search_text, b->search_text);
			capture_free(a);
			capture_free(b);
		}
	/* a capture freed mid-stream (never finished) frees its parser too:
	 * the ASan build's leak check */
	{
		struct capture *c = capture_new(4096);

		c->streamed = true;
		capture_add_response(c, all.data, 100);
		capture_read_events(c);
		CHECK(c->sse_on);
		capture_free(c);
	}
	buf_release(&all);
}

static void test_attribution(void)
{
	struct capture *c = capture_new(1024);

	capture_set_attribution(c, "X-Capture-User", "alice@example.com");
	capture_set_attribution(c, "X-Capture-Session", "conv-42");
	capture_set_attribution(c, "X-Capture-Tags", " eval, nightly ,,say \"hi\",back\\slash ");
	capture_set_attribution(c, "X-Capture-Other", "ignored");
	CHECK_STR(c->user, "alice@example.com");
	CHECK_STR(c->session, "conv-42");
	CHECK_STR(c->tags, "{\"eval\",\"nightly\",\"say \\\"hi\\\"\",\"back\\\\slash\"}");
	capture_set_attribution(c, "x-capture-tags", "");
	CHECK_STR(c->tags, "{}");
	capture_set_attribution(c, "X-Capture-User", "bad\xff\xfe");
	CHECK(utf8_is_text(c->user, strlen(c->user)));
	capture_free(c);
}

int main(void)
{
	test_attribution();
	test_names();
	test_request_drop();
	test_response_drop();
	test_headers_json();
	test_truncated_stream_usage();
	test_stream_read_as_it_arrives();
	return check_done("test_headers");
}
