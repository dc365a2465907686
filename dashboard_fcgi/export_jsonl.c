/* export_jsonl.c - captures as JSON Lines: metadata and the conversation,
 * or only the conversation in OpenAI's fine-tuning chat format. */
#include <string.h>

#include "export.h"
#include "jsonparse.h"
#include "jsonv.h"
#include "pgjson.h"
#include "reply.h"
#include "banned.h"

/* What a capture's bodies say as a conversation; NULL members when not. */
struct convo {
	json_object *req;          /* the request body, parsed */
	json_object *messages;     /* the request's messages + the reply */
	json_object *tools;
	bool responses;            /* a Responses API call: input, instructions */
	bool replied;              /* the assistant's reply is the last message */
};

static void number_raw(struct jw *w, json_object *o)
{
	size_t n = 0;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);

	jw_raw(w, s, n);
}

static void container_value(struct jw *w, json_object *o)
{
	size_t i, n;

	if (json_object_is_type(o, json_type_array)) {
		jw_array_begin(w);
		for (i = 0, n = json_object_array_length(o); i < n; i++)
			export_json_value(w, json_object_array_get_idx(o, i));
		jw_array_end(w);
		return;
	}
	jw_object_begin(w);
	json_object_object_foreach(o, key, val) {
		jw_key(w, key);
		export_json_value(w, val);
	}
	jw_object_end(w);
}

void export_json_value(struct jw *w, json_object *o)
{
	size_t n = 0;
	const char *s;

	switch (json_object_get_type(o)) {
	case json_type_boolean:
		jw_bool(w, json_object_get_boolean(o));
		break;
	case json_type_int:
	case json_type_double:
		number_raw(w, o);
		break;
	case json_type_string:
		jw_string(w, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array:
	case json_type_object:
		if (w->depth < JW_MAX_DEPTH - 1) {
			container_value(w, o);
			break;
		}
		s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		jw_raw(w, s, n);
		break;
	default:
		jw_null(w);
	}
}

/* A column holding strict JSON, parsed; NULL when it holds none. json-c
 * alone would also take NaN, comments and other near-JSON. */
static json_object *json_column(const PGresult *row, int col)
{
	const char *s = export_text(row, col);
	size_t n = s ? (size_t)PQgetlength(row, 0, col) : 0;

	if (!s || !jsonv_valid(s, n))
		return NULL;
	return json_parse_bytes(s, n);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = s ? strlen(s) : 0, t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* The reply as the assistant's message: from the response body, else
 * from the reply text the proxy assembled (a body cut at the capture cap). */
static json_object *reply_of(const PGresult *row)
{
	const char *body = export_text(row, XC_RESP_BODY), *text = export_text(row, XC_REPLY);
	json_object *m = NULL;

	if (body)
		m = chat_reply_message(body, (size_t)PQgetlength(row, 0, XC_RESP_BODY),
				       export_text(row, XC_STREAMED)[0] == 't');
	if (!m && text && *text)
		m = chat_text_message(text, (size_t)PQgetlength(row, 0, XC_REPLY));
	return m;
}

static void convo_build(struct convo *c, const PGresult *row)
{
	bool responses = ends_with(export_text(row, XC_PATH), "/responses");
	long long status = pj_long(row, 0, XC_STATUS, 0);
	json_object *reply;

	memset(c, 0, sizeof(*c));
	c->responses = responses;
	c->req = json_column(row, XC_REQ_BODY);
	if (!json_object_is_type(c->req, json_type_object))
		return;
	c->messages = chat_request_messages(c->req, responses);
	c->tools = chat_request_tools(c->req, responses);
	if (!c->messages || status < 200 || status >= 300)
		return;
	reply = reply_of(row);
	if (reply) {
		json_object_array_add(c->messages, reply);
		c->replied = true;
	}
}

static void convo_release(struct convo *c)
{
	json_object_put(c->messages);
	json_object_put(c->tools);
	json_object_put(c->req);
}

/* Request members the record carries elsewhere are left out of params. */
static bool is_param(const struct convo *c, const char *key)
{
	if (!strcmp(key, "model"))
		return false;
	if (c->tools && !strcmp(key, "tools"))
		return false;
	if (c->messages && !c->responses && !strcmp(key, "messages"))
		return false;
	return !(c->messages && c->responses &&
		 (!strcmp(key, "input") || !strcmp(key, "instructions")));
}

/* The request's other settings (temperature, max_tokens, ...). */
static void write_params(struct jw *w, const struct convo *c)
{
	jw_key(w, "params");
	jw_object_begin(w);
	json_object_object_foreach(c->req, key, val) {
		if (is_param(c, key)) {
			jw_key(w, key);
			export_json_value(w, val);
		}
	}
	jw_object_end(w);
}

/* tags as an array, null when there are none. */
static void write_tags(struct jw *w, const PGresult *row)
{
	json_object *tags = json_column(row, XC_TAGS);

	jw_key(w, "tags");
	export_json_value(w, tags);
	json_object_put(tags);
}

static void write_meta(struct jw *w, const PGresult *row)
{
	pj_key_text(w, "id", row, 0, XC_ID);
	pj_key_text(w, "timestamp", row, 0, XC_TIMESTAMP);
	pj_key_text(w, "instance", row, 0, XC_INSTANCE);
	pj_key_text(w, "method", row, 0, XC_METHOD);
	pj_key_text(w, "path", row, 0, XC_PATH);
	pj_key_text(w, "query", row, 0, XC_QUERY);
	pj_key_int(w, "status", row, 0, XC_STATUS);
	pj_key_text(w, "outcome", row, 0, XC_OUTCOME);
	pj_key_text(w, "error", row, 0, XC_ERROR);
	pj_key_text(w, "model", row, 0, XC_MODEL);
	pj_key_bool(w, "streamed", row, 0, XC_STREAMED);
	pj_key_text(w, "finish_reason", row, 0, XC_FINISH_REASON);
	pj_key_usage(w, row, 0, XC_PROMPT_TOKENS);
	pj_key_float(w, "cost_usd", row, 0, XC_COST);
	pj_key_float(w, "duration_ms", row, 0, XC_DURATION);
	pj_key_float(w, "ttfb_ms", row, 0, XC_TTFB);
	pj_key_text(w, "key_hint", row, 0, XC_KEY_HINT);
	pj_key_text(w, "user", row, 0, XC_USER);
	pj_key_text(w, "session", row, 0, XC_SESSION);
	write_tags(w, row);
	pj_key_text(w, "end_user", row, 0, XC_END_USER);
	pj_key_int(w, "request_size", row, 0, XC_REQ_SIZE);
	pj_key_int(w, "response_size", row, 0, XC_RESP_SIZE);
}

static bool jsonl_row(struct export_out *o, const PGresult *row)
{
	struct convo c;
	struct jw w;

	convo_build(&c, row);
	jw_init(&w, reply_sink, o->r);
	jw_object_begin(&w);
	write_meta(&w, row);
	jw_key(&w, "messages");
	export_json_value(&w, c.messages);
	if (c.tools) {
		jw_key(&w, "tools");
		export_json_value(&w, c.tools);
	}
	if (c.req)
		write_params(&w, &c);
	jw_object_end(&w);
	reply_write(o->r, "\n", 1);
	convo_release(&c);
	return true;
}

/* The chat fine-tuning format takes system, user, assistant and tool
 * messages: a developer message (the newer name) is a system one there. */
static void developer_as_system(json_object *messages)
{
	size_t i, n = json_object_array_length(messages);

	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(messages, i), *role = jget(m, "role");

		if (role && !strcmp(json_object_get_string(role), "developer"))
			json_object_object_add(m, "role", json_object_new_string("system"));
	}
}

/* {"messages": [...], "tools": [...], "parallel_tool_calls": bool}, only
 * for a call whose conversation ends with the assistant's reply. */
static bool messages_row(struct export_out *o, const PGresult *row)
{
	struct convo c;
	struct jw w;
	json_object *parallel;
	bool ok;

	convo_build(&c, row);
	ok = c.replied && json_object_array_length(c.messages) >= 2;
	if (ok) {
		developer_as_system(c.messages);
		jw_init(&w, reply_sink, o->r);
		jw_object_begin(&w);
		jw_key(&w, "messages");
		export_json_value(&w, c.messages);
		if (c.tools) {
			jw_key(&w, "tools");
			export_json_value(&w, c.tools);
		}
		parallel = jget(c.req, "parallel_tool_calls");
		if (c.tools && json_object_is_type(parallel, json_type_boolean)) {
			jw_key(&w, "parallel_tool_calls");
			jw_bool(&w, json_object_get_boolean(parallel));
		}
		jw_object_end(&w);
		reply_write(o->r, "\n", 1);
	}
	convo_release(&c);
	return ok;
}

/* A last line in the errors' usual shape: a reader that stops at the
 * first line without an "id" (or a fine-tuning upload) notices. */
static void jsonl_cut(struct export_out *o, const char *why)
{
	struct jw w;

	jw_init(&w, reply_sink, o->r);
	jw_object_begin(&w);
	jw_key(&w, "error");
	jw_object_begin(&w);
	jw_key(&w, "message");
	jw_cstring(&w, "the export was cut short");
	jw_key(&w, "reason");
	jw_cstring(&w, why);
	jw_key(&w, "type");
	jw_cstring(&w, "server_error");
	jw_key(&w, "code");
	jw_cstring(&w, "incomplete");
	jw_object_end(&w);
	jw_key(&w, "records");
	jw_int(&w, o->n);
	jw_object_end(&w);
	reply_write(o->r, "\n", 1);
}

const struct export_format export_jsonl = {
	.name = "jsonl", .ext = "jsonl", .content_type = "application/x-ndjson; charset=utf-8",
	.bodies = true, .reply_chars = -1, .row = jsonl_row, .cut = jsonl_cut,
};

const struct export_format export_messages = {
	.name = "jsonl (messages)", .ext = "jsonl",
	.content_type = "application/x-ndjson; charset=utf-8",
	.bodies = true, .reply_chars = -1, .row = messages_row, .cut = jsonl_cut,
};
