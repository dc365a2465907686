/* fuzz_export.c - the JSONL export's conversation: chat messages and replies from stored bodies.
 *
 * The first byte picks what the rest is (bit 1: a request, else a response
 * body; bit 0: a Responses API request, or a streamed body), as
 * export_jsonl.c hands them to export_chat.c. Properties: nothing crashes or
 * leaks, whatever the bytes, and a body read twice gives the same reply (no
 * state left behind); what export_json_value writes parses back as
 * strict JSON (json-c strict, UTF-8 checked), and for a request that is
 * valid JSON, as export_jsonl.c demands, back to the same tree; a chat
 * request's messages and tools are its own; converted Responses messages
 * and tools have the chat shape; a reply is an assistant message, and the
 * same message comes back from a stream that carries it in chunks cut at
 * pseudo-random bytes (and from a Responses stream whose completed event
 * replaces what came before it). */
#include <stdbool.h>
#include <string.h>

#include "export.h"
#include "jsonparse.h"
#include "jsonv.h"
#include "jsonw.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

static void sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
}

static bool is_string(json_object *o)
{
	return o && json_object_is_type(o, json_type_string);
}

static bool is_array(json_object *o)
{
	return o && json_object_is_type(o, json_type_array);
}

/* o[key] is the string want. */
static bool has(json_object *o, const char *key, const char *want)
{
	json_object *v = jget(o, key);

	return is_string(v) && !strcmp(json_object_get_string(v), want);
}

/* The json-c text of o, as a stream chunk or event data carries it. */
static const char *text_of(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* As deep as json_parse_bytes reads (json-c's default stops at 32), one
 * more level for check_written's array. */
static json_object *parse_strict(const char *p, size_t n)
{
	return fuzz_json_parse_depth(p, n, JSON_MAX_DEPTH + 1);
}

/* Writes o inside an array (a bare number is no document for json-c) and
 * parses it back; exact: the element must equal o (every string in o is
 * valid UTF-8, so the writer changes nothing). */
static void check_written(json_object *o, bool exact)
{
	struct buf out;
	struct jw w;
	json_object *back;

	buf_init(&out, BUF_NO_CAP);
	jw_init(&w, sink, &out);
	jw_array_begin(&w);
	export_json_value(&w, o);
	jw_array_end(&w);
	FUZZ_CHECK(w.depth == 0);
	back = parse_strict(out.data, out.len);
	if (!back)
		fprintf(stderr, "not strict JSON: %.*s\n", (int)out.len, out.data);
	FUZZ_CHECK(back && json_object_array_length(back) == 1);
	if (exact)
		FUZZ_CHECK(json_object_equal(json_object_array_get_idx(back, 0), o));
	json_object_put(back);
	buf_release(&out);
}

/* --- requests ------------------------------------------------------------- */

/* {"role": string, "content": ...}; the assistant's content is never parts
 * (chat has text there); tool_calls are chat tool calls. */
static void check_message(json_object *m)
{
	json_object *calls = jget(m, "tool_calls");
	size_t i, n;

	FUZZ_CHECK(json_object_is_type(m, json_type_object));
	FUZZ_CHECK(is_string(jget(m, "role")));
	FUZZ_CHECK(json_object_object_get_ex(m, "content", NULL));
	if (has(m, "role", "assistant"))
		FUZZ_CHECK(!is_array(jget(m, "content")));
	if (!calls)
		return;
	FUZZ_CHECK(is_array(calls) && json_object_array_length(calls) > 0);
	for (i = 0, n = json_object_array_length(calls); i < n; i++) {
		json_object *tc = json_object_array_get_idx(calls, i);

		FUZZ_CHECK(has(tc, "type", "function"));
		FUZZ_CHECK(json_object_is_type(jget(tc, "function"), json_type_object));
	}
}

static void check_tool(json_object *t)
{
	json_object *fn = jget(t, "function");

	FUZZ_CHECK(has(t, "type", "function"));
	FUZZ_CHECK(json_object_is_type(fn, json_type_object) && jget(fn, "name"));
}

static void check_request(json_object *req, bool responses)
{
	json_object *msgs = chat_request_messages(req, responses);
	json_object *tools = chat_request_tools(req, responses);
	json_object *own = jget(req, "messages");
	size_t i;

	if (is_array(own)) {
		FUZZ_CHECK(msgs == own);
	} else if (msgs) {
		FUZZ_CHECK(responses && is_array(msgs) && json_object_array_length(msgs) > 0);
		for (i = 0; i < json_object_array_length(msgs); i++)
			check_message(json_object_array_get_idx(msgs, i));
	}
	if (tools && !responses)
		FUZZ_CHECK(tools == jget(req, "tools"));
	for (i = 0; tools && responses && i < json_object_array_length(tools); i++)
		check_tool(json_object_array_get_idx(tools, i));
	check_written(msgs, true);
	check_written(tools, true);
	json_object_put(msgs);
	json_object_put(tools);
}

/* Any tree must not crash the conversion; what it writes is checked only
 * for strict JSON, the only requests export_jsonl.c converts. */
static void fuzz_request(const char *p, size_t n, bool responses)
{
	json_object *req = json_parse_bytes(p, n);
	json_object *m, *t;

	if (req && jsonv_valid(p, n)) {
		check_written(req, true);
		check_request(req, responses);
	} else {
		m = chat_request_messages(req, responses);
		t = chat_request_tools(req, responses);
		json_object_put(m);
		json_object_put(t);
	}
	json_object_put(req);
}

/* --- replies -------------------------------------------------------------- */

static void check_reply(json_object *m)
{
	json_object *content = jget(m, "content"), *calls = jget(m, "tool_calls");
	size_t i, n;

	if (!m)
		return;
	FUZZ_CHECK(has(m, "role", "assistant"));
	FUZZ_CHECK(!content || is_string(content));
	FUZZ_CHECK(content || calls);
	FUZZ_CHECK(!calls || (is_array(calls) && json_object_array_length(calls) > 0));
	for (i = 0, n = calls ? json_object_array_length(calls) : 0; i < n; i++) {
		json_object *tc = json_object_array_get_idx(calls, i), *fn = jget(tc, "function");

		FUZZ_CHECK(is_string(jget(tc, "id")));
		FUZZ_CHECK(is_string(jget(fn, "name")) && is_string(jget(fn, "arguments")));
	}
}

/* One "data:" event of a chat stream: {"choices": [{"index": 0, "delta": delta}]}. */
static void add_chunk(struct buf *out, json_object *delta)
{
	json_object *chunk = json_object_new_object(), *choices = json_object_new_array();
	json_object *choice = json_object_new_object();

	json_object_object_add(choice, "index", json_object_new_int(0));
	json_object_object_add(choice, "delta", delta);
	json_object_array_add(choices, choice);
	json_object_object_add(chunk, "choices", choices);
	buf_addf(out, "data: %s\n\n", text_of(chunk));
	json_object_put(chunk);
}

/* s cut at pseudo-random bytes (even inside a character), each piece as
 * delta[key] (or delta.tool_calls[0].function[key] for a call index >= 0). */
static void add_pieces(struct buf *out, json_object *s, const char *key, int call,
		       uint64_t *rng)
{
	static const size_t cuts[] = { 1, 2, 3, 7, 64 };
	const char *p = json_object_get_string(s);
	size_t n = (size_t)json_object_get_string_len(s), at = 0, len;
	json_object *delta, *tc, *fn, *calls;

	while (at < n) {
		len = fuzz_pick(rng, cuts, sizeof(cuts) / sizeof(cuts[0]));
		if (len > n - at)
			len = n - at;
		delta = json_object_new_object();
		if (call < 0) {
			json_object_object_add(delta, key, json_object_new_string_len(p + at, (int)len));
		} else {
			tc = json_object_new_object();
			fn = json_object_new_object();
			calls = json_object_new_array();
			json_object_object_add(fn, key, json_object_new_string_len(p + at, (int)len));
			json_object_object_add(tc, "index", json_object_new_int(call));
			json_object_object_add(tc, "function", fn);
			json_object_array_add(calls, tc);
			json_object_object_add(delta, "tool_calls", calls);
		}
		add_chunk(out, delta);
		at += len;
	}
}

/* A call's first chunk: its index and id. */
static void add_call_start(struct buf *out, json_object *tc, int index)
{
	json_object *delta = json_object_new_object(), *calls = json_object_new_array();
	json_object *start = json_object_new_object();

	json_object_object_add(start, "index", json_object_new_int(index));
	json_object_object_add(start, "id", json_object_get(jget(tc, "id")));
	json_object_array_add(calls, start);
	json_object_object_add(delta, "tool_calls", calls);
	add_chunk(out, delta);
}

/* The chat stream an upstream would send for the reply m. */
static void stream_of(json_object *m, uint64_t *rng, struct buf *out)
{
	json_object *calls = jget(m, "tool_calls");
	size_t i, n;

	if (jget(m, "content"))
		add_pieces(out, jget(m, "content"), "content", -1, rng);
	for (i = 0, n = calls ? json_object_array_length(calls) : 0; i < n; i++) {
		json_object *tc = json_object_array_get_idx(calls, i), *fn = jget(tc, "function");

		add_call_start(out, tc, (int)i);
		add_pieces(out, jget(fn, "name"), "name", (int)i, rng);
		add_pieces(out, jget(fn, "arguments"), "arguments", (int)i, rng);
	}
	buf_addf(out, "data: [DONE]\n\n");
}

static void check_same_reply(json_object *m, const struct buf *stream)
{
	json_object *again = chat_reply_message(stream->data, stream->len, true);

	if (!json_object_equal(m, again))
		fprintf(stderr, "stream %.*s\ngave %s\n", (int)stream->len, stream->data,
			again ? text_of(again) : "NULL");
	FUZZ_CHECK(json_object_equal(m, again));
	json_object_put(again);
}

static int depth_of(json_object *o)
{
	int d = 0, sub;
	size_t i, n;

	if (is_array(o)) {
		for (i = 0, n = json_object_array_length(o); i < n; i++)
			if ((sub = depth_of(json_object_array_get_idx(o, i))) > d)
				d = sub;
		return d + 1;
	}
	if (!json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, key, val) {
		(void)key;
		if ((sub = depth_of(val)) > d)
			d = sub;
	}
	return d + 1;
}

/* A Responses body as its stream's last event, after a chat chunk that the
 * completed event must replace. */
static void check_responses_stream(const char *p, size_t n, json_object *m)
{
	json_object *body = json_parse_bytes(p, n), *ev;
	struct buf stream;

	if (!has(body, "object", "response") || depth_of(body) > JSON_MAX_DEPTH - 2) {
		json_object_put(body);
		return;
	}
	ev = json_object_new_object();
	json_object_object_add(ev, "type", json_object_new_string("response.completed"));
	json_object_object_add(ev, "response", body);
	buf_init(&stream, BUF_NO_CAP);
	buf_addf(&stream, "data: {\"choices\":[{\"delta\":{\"content\":\"gone\"}}]}\n\n");
	buf_addf(&stream, "event: response.completed\ndata: %s\n\n", text_of(ev));
	check_same_reply(m, &stream);
	buf_release(&stream);
	json_object_put(ev);
}

static void fuzz_reply(const char *p, size_t n, bool sse, uint64_t *rng)
{
	json_object *m = chat_reply_message(p, n, sse);
	json_object *again = chat_reply_message(p, n, sse);
	struct buf stream;

	FUZZ_CHECK(json_object_equal(m, again));
	json_object_put(again);
	check_reply(m);
	check_written(m, utf8_is_text(p, n));
	if (m) {
		buf_init(&stream, BUF_NO_CAP);
		stream_of(m, rng, &stream);
		check_same_reply(m, &stream);
		buf_release(&stream);
	}
	if (!sse)
		check_responses_stream(p, n, m);
	json_object_put(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fuzz_hash(data, size);
	const char *p = (const char *)data + 1;

	if (size < 1)
		return 0;
	if (data[0] & 2)
		fuzz_request(p, size - 1, data[0] & 1);
	else
		fuzz_reply(p, size - 1, data[0] & 1, &rng);
	return 0;
}
