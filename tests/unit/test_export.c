/* test_export.c - the pure parts of /api/export: CSV fields, chat messages from
 * OpenAI requests and replies (bodies and streams), json-c values written
 * through the JSON writer, HAR header lists, the timeout a query error names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../dashboard_fcgi/export_csv.c"
#include "../../dashboard_fcgi/export_chat.c"
#include "../../dashboard_fcgi/export_jsonl.c"
#include "../../dashboard_fcgi/export_har.c"
#include "../../dashboard_fcgi/pg.c"

static struct buf out;

static void buf_sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
}

static const char *csv(const char *s, bool text)
{
	buf_release(&out);
	buf_init(&out, BUF_NO_CAP);
	csv_field(buf_sink, &out, s, strlen(s), text);
	return out.data ? out.data : "";
}

static void test_csv(void)
{
	CHECK_STR(csv("plain text", true), "plain text");
	CHECK_STR(csv("", true), "");
	CHECK_STR(csv("a,b", true), "\"a,b\"");
	CHECK_STR(csv("say \"hi\"", true), "\"say \"\"hi\"\"\"");
	CHECK_STR(csv("\"", true), "\"\"\"\"");
	CHECK_STR(csv("l1\nl2", true), "\"l1\nl2\"");
	CHECK_STR(csv("l1\r\nl2", true), "\"l1\r\nl2\"");
	CHECK_STR(csv("tab\tinside", true), "tab\tinside");
	/* formula injection: a leading apostrophe, inside the quotes if any */
	CHECK_STR(csv("=1+1", true), "'=1+1");
	CHECK_STR(csv("+1", true), "'+1");
	CHECK_STR(csv("-2+3", true), "'-2+3");
	CHECK_STR(csv("@SUM(A1)", true), "'@SUM(A1)");
	CHECK_STR(csv("\tx", true), "'\tx");
	CHECK_STR(csv("\rx", true), "\"'\rx\"");
	CHECK_STR(csv("=HYPERLINK(\"http://x\",\"y\")", true), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	CHECK_STR(csv("a=1", true), "a=1");
	/* numbers are not text: a negative number stays one */
	CHECK_STR(csv("-1.5", false), "-1.5");
	CHECK_STR(csv("=1", false), "=1");
}

/* The JSON of o (json-c's plain form), or "NULL"; o is released. */
static const char *js(json_object *o)
{
	static char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", o ? json_object_to_json_string_ext(o,
		 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "NULL");
	json_object_put(o);
	return tmp;
}

static json_object *parse(const char *s)
{
	return json_parse_bytes(s, strlen(s));
}

static const char *req_messages(const char *body, bool responses)
{
	json_object *req = parse(body);
	const char *r = js(chat_request_messages(req, responses));

	json_object_put(req);
	return r;
}

static const char *req_tools(const char *body, bool responses)
{
	json_object *req = parse(body);
	const char *r = js(chat_request_tools(req, responses));

	json_object_put(req);
	return r;
}

static void test_requests(void)
{
	CHECK_STR(req_messages("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false),
		  "[{\"role\":\"user\",\"content\":\"hi\"}]");
	CHECK_STR(req_messages("{\"input\":\"hi\"}", false), "NULL");
	CHECK_STR(req_messages("{\"input\":[1,2]}", true), "NULL");
	CHECK_STR(req_messages("{\"model\":\"x\"}", true), "NULL");
	CHECK_STR(req_messages("{\"instructions\":\"sys\",\"input\":\"hi\"}", true),
		  "[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\",\"content\":\"hi\"}]");
	CHECK_STR(req_messages("{\"instructions\":\"\",\"input\":\"hi\"}", true),
		  "[{\"role\":\"user\",\"content\":\"hi\"}]");
	/* an assistant turn with text then a call: one chat message */
	CHECK_STR(req_messages("{\"input\":[{\"role\":\"user\",\"content\":\"q\"},"
			       "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"let me \"},"
			       "{\"type\":\"output_text\",\"text\":\"check\"}]},"
			       "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
			       "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"g\",\"arguments\":\"[]\"},"
			       "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":[{\"type\":\"input_text\",\"text\":\"r1\"}]},"
			       "{\"type\":\"reasoning\",\"summary\":[]},"
			       "{\"role\":\"developer\",\"content\":[{\"type\":\"input_text\",\"text\":\"d\"},{\"type\":\"input_file\",\"file_id\":\"f\"}]}]}",
			       true),
		  "[{\"role\":\"user\",\"content\":\"q\"},"
		  "{\"role\":\"assistant\",\"content\":\"let me check\",\"tool_calls\":["
		  "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
		  "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"[]\"}}]},"
		  "{\"role\":\"tool\",\"content\":\"r1\",\"tool_call_id\":\"c1\"},"
		  "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"d\"}]}]");
	CHECK_STR(req_tools("{\"tools\":[]}", false), "NULL");
	CHECK_STR(req_tools("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", false),
		  "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]");
	CHECK_STR(req_tools("{\"tools\":[{\"type\":\"web_search\"}]}", true), "NULL");
	CHECK_STR(req_tools("{\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\","
			    "\"parameters\":{\"type\":\"object\"}}]}", true),
		  "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
		  "\"parameters\":{\"type\":\"object\"}}}]");
}

static const char *reply(const char *body, bool sse)
{
	return js(chat_reply_message(body, strlen(body), sse));
}

static void test_replies(void)
{
	CHECK_STR(reply("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}", false),
		  "{\"role\":\"assistant\",\"content\":\"hi\"}");
	/* the choice with index 0, wherever it is */
	CHECK_STR(reply("{\"choices\":[{\"index\":1,\"message\":{\"content\":\"b\"}},"
			"{\"index\":0,\"message\":{\"content\":\"a\"}}]}", false),
		  "{\"role\":\"assistant\",\"content\":\"a\"}");
	CHECK_STR(reply("{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"}}]}", false),
		  "{\"role\":\"assistant\",\"content\":\"no\"}");
	CHECK_STR(reply("{\"choices\":[{\"message\":{\"content\":\"\"}}]}", false), "NULL");
	CHECK_STR(reply("{\"error\":{\"message\":\"x\"}}", false), "NULL");
	CHECK_STR(reply("not json", false), "NULL");
	CHECK_STR(reply("{\"choices\":[{\"text\":\"legacy\"}]}", false),
		  "{\"role\":\"assistant\",\"content\":\"legacy\"}");
	/* a chat stream: content deltas, CRLF lines, a comment, [DONE] */
	CHECK_STR(reply("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
			": keep-alive\n\n"
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n"
			"data: [DONE]\n\n", true),
		  "{\"role\":\"assistant\",\"content\":\"Hello\"}");
	/* tool call arguments in pieces, by index; an index out of range dropped */
	CHECK_STR(reply("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n"
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":9999,\"id\":\"z\",\"function\":{\"name\":\"zz\"}}]}}]}\n\n", true),
		  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
		  "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}");
	/* a Responses stream: the completed event's output is the reply */
	CHECK_STR(reply("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"partial\"}\n\n"
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"object\":\"response\","
			"\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"whole\"}]},"
			"{\"type\":\"function_call\",\"call_id\":\"k\",\"name\":\"n\",\"arguments\":\"{}\"}]}}\n\n", true),
		  "{\"role\":\"assistant\",\"content\":\"whole\",\"tool_calls\":[{\"id\":\"k\",\"type\":\"function\","
		  "\"function\":{\"name\":\"n\",\"arguments\":\"{}\"}}]}");
	/* cut before its completed event: nothing here (the caller falls back to reply_text) */
	CHECK_STR(reply("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"p\"}\n\n", true),
		  "NULL");
	CHECK_STR(reply("{\"object\":\"response\",\"output\":[{\"type\":\"message\",\"content\":"
			"[{\"type\":\"refusal\",\"refusal\":\"sorry\"}]}]}", false),
		  "{\"role\":\"assistant\",\"content\":\"sorry\"}");
	CHECK_STR(js(chat_text_message("t", 1)), "{\"role\":\"assistant\",\"content\":\"t\"}");
}

static const char *written(json_object *o)
{
	struct jw w;

	buf_release(&out);
	buf_init(&out, BUF_NO_CAP);
	jw_init(&w, buf_sink, &out);
	export_json_value(&w, o);
	json_object_put(o);
	return out.data ? out.data : "";
}

static void test_json_value(void)
{
	char deep[200], want[200];
	int i;

	CHECK_STR(written(parse("{\"a\":[1,-2.50,1e400,true,null,\"<x>\"],\"b\":{}}")),
		  "{\"a\":[1,-2.50,1e400,true,null,\"\\u003cx\\u003e\"],\"b\":{}}");
	CHECK_STR(written(NULL), "null");
	/* a NUL from \u0000 stays escaped; json-c reads a lone surrogate as U+FFFD */
	CHECK_STR(written(parse("\"a\\u0000b\"")), "\"a\\u0000b\"");
	CHECK_STR(written(parse("\"x\\ud800y\"")), "\"x\xef\xbf\xbdy\"");
	/* deeper than the writer tracks: still one valid value */
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 0; i < 40; i++)
		deep[40 + i] = ']';
	deep[80] = '\0';
	snprintf(want, sizeof(want), "%s", deep);
	CHECK_STR(written(parse(deep)), want);
}

/* A one-row result like an export batch's, with col set to value. */
static PGresult *export_row(int col, const char *value)
{
	PGresAttDesc attrs[XC_REPLY + 1];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i;

	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i <= XC_REPLY; i++) {
		attrs[i].name = (char *)"c";
		attrs[i].format = 0;
		attrs[i].typid = 25;   /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	PQsetResultAttrs(res, XC_REPLY + 1, attrs);
	PQsetvalue(res, 0, col, (char *)value, (int)strlen(value));
	return res;
}

/* HAR headers from a stored list: entries that are not [name, value]
 * (hand-written rows, other tools) are skipped, never a crash. */
static const char *har_headers(const char *stored)
{
	PGresult *row = export_row(XC_REQ_HEADERS, stored);
	struct jw w;

	buf_release(&out);
	buf_init(&out, BUF_NO_CAP);
	jw_init(&w, buf_sink, &out);
	jw_object_begin(&w);
	write_headers(&w, row, XC_REQ_HEADERS);
	jw_object_end(&w);
	PQclear(row);
	return out.data ? out.data : "";
}

static void test_har_headers(void)
{
	CHECK_STR(har_headers("[[\"a\", \"b\"], [\"c\", \"\"]]"),
		  "{\"headers\":[{\"name\":\"a\",\"value\":\"b\"},{\"name\":\"c\",\"value\":\"\"}]}");
	CHECK_STR(har_headers("[{\"x\": 1}, \"s\", null, 7, [], [\"one\"], [\"n\", \"v\", 3]]"),
		  "{\"headers\":[{\"name\":\"n\",\"value\":\"v\"}]}");
	CHECK_STR(har_headers("{\"a\": \"b\"}"), "{\"headers\":[]}");
}

/* A statement timeout names the connection's own: the export's 300 s, not
 * the dashboard's usual 15 s. */
static void test_timeout_seconds(void)
{
	struct ctx ctx = { .timeout_ms = 300000 };
	struct req r = { .ctx = &ctx };

	CHECK(timeout_seconds(&r) == 300);
	ctx.timeout_ms = PG_STATEMENT_TIMEOUT_MS;
	CHECK(timeout_seconds(&r) == PG_STATEMENT_TIMEOUT_MS / 1000);
	ctx.timeout_ms = 0;        /* no connection set up yet */
	CHECK(timeout_seconds(&r) == PG_STATEMENT_TIMEOUT_MS / 1000);
	ctx.timeout_ms = 200;
	CHECK(timeout_seconds(&r) == 1);
}

int main(void)
{
	test_csv();
	test_requests();
	test_replies();
	test_json_value();
	test_har_headers();
	test_timeout_seconds();
	buf_release(&out);
	return check_done("test_export");
}
