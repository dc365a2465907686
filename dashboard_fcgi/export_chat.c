/* export_chat.c - OpenAI requests and replies as chat-completions messages. */
#include <string.h>

#include "buf.h"
#include "events.h"
#include "export.h"
#include "jsonparse.h"
#include "banned.h"

/* Tool calls kept from one reply; a stream's index beyond this is dropped. */
#define CHAT_TOOL_CALLS_MAX 128

struct call {
	struct buf id, name, args;
};

/* A reply being put together from a body or a stream's chunks. */
struct reply {
	struct buf text, refusal;
	struct call calls[CHAT_TOOL_CALLS_MAX];
	int ncalls;                    /* slots in use: highest index + 1 */
	struct buf data;               /* one event's data, while parsing it */
};

/* The string value of o and its length, or NULL when o is not a string. */
static const char *jstr(json_object *o, size_t *n)
{
	*n = 0;
	if (!o || !json_object_is_type(o, json_type_string))
		return NULL;
	*n = (size_t)json_object_get_string_len(o);
	return json_object_get_string(o);
}

static bool jis(json_object *o, const char *key, const char *want)
{
	size_t n;
	const char *s = jstr(jget(o, key), &n);

	return s && n == strlen(want) && !memcmp(s, want, n);
}

/* o[key] when it is an array, else NULL. */
static json_object *jarr(json_object *o, const char *key)
{
	json_object *a = jget(o, key);

	return a && json_object_is_type(a, json_type_array) ? a : NULL;
}

static json_object *str_new(const char *s, size_t n)
{
	return json_object_new_string_len(s, (int)n);
}

/* o[key] shared into obj[key] when o has it. */
static void copy_member(json_object *obj, json_object *o, const char *key, const char *as)
{
	json_object *v = jget(o, key);

	if (v)
		json_object_object_add(obj, as, json_object_get(v));
}

static json_object *message_new(const char *role, json_object *content)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", content);
	return m;
}

/* {"id", "type": "function", "function": {"name", "arguments"}}. */
static json_object *tool_call_new(json_object *id, json_object *name, json_object *args)
{
	json_object *tc = json_object_new_object(), *fn = json_object_new_object();

	json_object_object_add(tc, "id", json_object_get(id));
	json_object_object_add(tc, "type", json_object_new_string("function"));
	json_object_object_add(fn, "name", json_object_get(name));
	json_object_object_add(fn, "arguments", json_object_get(args));
	json_object_object_add(tc, "function", fn);
	return tc;
}

/* --- requests ------------------------------------------------------------- */

static bool part_is_text(json_object *part)
{
	return jis(part, "type", "input_text") || jis(part, "type", "output_text") ||
	       jis(part, "type", "text");
}

/* A Responses content part as a chat one: text and image URLs; NULL for
 * the others (files, audio, images by file id). */
static json_object *part_convert(json_object *part)
{
	json_object *p, *img;
	size_t n;
	const char *url = jstr(jget(part, "image_url"), &n);

	if (part_is_text(part)) {
		p = json_object_new_object();
		json_object_object_add(p, "type", json_object_new_string("text"));
		copy_member(p, part, "text", "text");
		return p;
	}
	if (!jis(part, "type", "input_image") || !url)
		return NULL;
	p = json_object_new_object();
	img = json_object_new_object();
	json_object_object_add(img, "url", str_new(url, n));
	copy_member(img, part, "detail", "detail");
	json_object_object_add(p, "type", json_object_new_string("image_url"));
	json_object_object_add(p, "image_url", img);
	return p;
}

/* The text parts of parts joined (as the SDKs' output_text joins them). */
static json_object *parts_text(json_object *parts)
{
	struct buf b;
	json_object *s;
	size_t i, n, len;
	const char *t;

	buf_init(&b, BUF_NO_CAP);
	for (i = 0, n = json_object_array_length(parts); i < n; i++) {
		json_object *part = json_object_array_get_idx(parts, i);

		t = jstr(jget(part, jis(part, "type", "refusal") ? "refusal" : "text"), &len);
		if (t && (part_is_text(part) || jis(part, "type", "refusal")))
			buf_add(&b, t, len);
	}
	s = str_new(b.data ? b.data : "", b.len);
	buf_release(&b);
	return s;
}

/* A message's content: a string stays one; parts become one string when
 * they are all text (always for the assistant, whose chat content is a
 * string), else chat parts. */
static json_object *content_convert(json_object *content, bool assistant)
{
	json_object *out;
	size_t i, n;
	bool all_text = true;

	if (!content || !json_object_is_type(content, json_type_array))
		return json_object_get(content);
	n = json_object_array_length(content);
	for (i = 0; i < n; i++)
		if (!part_is_text(json_object_array_get_idx(content, i)))
			all_text = false;
	if (all_text || assistant)
		return parts_text(content);
	out = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object *p = part_convert(json_object_array_get_idx(content, i));

		if (p)
			json_object_array_add(out, p);
	}
	return out;
}

/* The last message when it is the assistant's, else NULL. */
static json_object *last_assistant(json_object *msgs)
{
	size_t n = json_object_array_length(msgs);
	json_object *m = n ? json_object_array_get_idx(msgs, n - 1) : NULL;

	return jis(m, "role", "assistant") ? m : NULL;
}

/* A function_call item joins the assistant turn it belongs to (the chat
 * format has one message with text and tool calls). */
static void add_function_call(json_object *msgs, json_object *item)
{
	json_object *m = last_assistant(msgs), *calls;
	json_object *id = jget(item, "call_id") ? jget(item, "call_id") : jget(item, "id");

	if (!m) {
		m = message_new("assistant", NULL);
		json_object_array_add(msgs, m);
	}
	calls = jarr(m, "tool_calls");
	if (!calls) {
		calls = json_object_new_array();
		json_object_object_add(m, "tool_calls", calls);
	}
	json_object_array_add(calls, tool_call_new(id, jget(item, "name"), jget(item, "arguments")));
}

static void add_function_output(json_object *msgs, json_object *item)
{
	json_object *m = message_new("tool", content_convert(jget(item, "output"), true));

	copy_member(m, item, "call_id", "tool_call_id");
	json_object_array_add(msgs, m);
}

static void add_input_item(json_object *msgs, json_object *item)
{
	size_t n;
	const char *role = jstr(jget(item, "role"), &n);
	bool message = jis(item, "type", "message") || !jget(item, "type");

	if (jis(item, "type", "function_call"))
		add_function_call(msgs, item);
	else if (jis(item, "type", "function_call_output"))
		add_function_output(msgs, item);
	else if (message && role)
		json_object_array_add(msgs, message_new(role, content_convert(
			jget(item, "content"), !strcmp(role, "assistant"))));
	/* reasoning, item references, built-in tool calls: no chat form */
}

static json_object *responses_messages(json_object *req)
{
	json_object *msgs = json_object_new_array(), *input = jget(req, "input");
	size_t i, n;
	const char *s = jstr(jget(req, "instructions"), &n);

	if (s && n)
		json_object_array_add(msgs, message_new("system", str_new(s, n)));
	s = jstr(input, &n);
	if (s)
		json_object_array_add(msgs, message_new("user", str_new(s, n)));
	else if (jarr(req, "input"))
		for (i = 0, n = json_object_array_length(input); i < n; i++)
			add_input_item(msgs, json_object_array_get_idx(input, i));
	if (json_object_array_length(msgs) == 0) {
		json_object_put(msgs);
		msgs = NULL;
	}
	return msgs;
}

json_object *chat_request_messages(json_object *req, bool responses_api)
{
	json_object *m = jarr(req, "messages");

	if (m)
		return json_object_get(m);
	return responses_api ? responses_messages(req) : NULL;
}

/* {"type": "function", "name", ...} (Responses) as {"type": "function",
 * "function": {"name", ...}} (chat). */
static json_object *tool_convert(json_object *t)
{
	json_object *out, *fn;

	if (!jis(t, "type", "function") || !jget(t, "name"))
		return NULL;
	out = json_object_new_object();
	fn = json_object_new_object();
	copy_member(fn, t, "name", "name");
	copy_member(fn, t, "description", "description");
	copy_member(fn, t, "parameters", "parameters");
	copy_member(fn, t, "strict", "strict");
	json_object_object_add(out, "type", json_object_new_string("function"));
	json_object_object_add(out, "function", fn);
	return out;
}

json_object *chat_request_tools(json_object *req, bool responses_api)
{
	json_object *tools = jarr(req, "tools"), *out;
	size_t i, n;

	if (!tools || json_object_array_length(tools) == 0)
		return NULL;
	if (!responses_api)
		return json_object_get(tools);
	out = json_object_new_array();
	for (i = 0, n = json_object_array_length(tools); i < n; i++) {
		json_object *t = tool_convert(json_object_array_get_idx(tools, i));

		if (t)
			json_object_array_add(out, t);
	}
	if (json_object_array_length(out) == 0) {
		json_object_put(out);
		out = NULL;
	}
	return out;
}

/* --- replies -------------------------------------------------------------- */

static void reply_init(struct reply *rp)
{
	int i;

	buf_init(&rp->text, BUF_NO_CAP);
	buf_init(&rp->refusal, BUF_NO_CAP);
	buf_init(&rp->data, BUF_NO_CAP);
	for (i = 0; i < CHAT_TOOL_CALLS_MAX; i++) {
		buf_init(&rp->calls[i].id, BUF_NO_CAP);
		buf_init(&rp->calls[i].name, BUF_NO_CAP);
		buf_init(&rp->calls[i].args, BUF_NO_CAP);
	}
	rp->ncalls = 0;
}

static void reply_release(struct reply *rp)
{
	int i;

	buf_release(&rp->text);
	buf_release(&rp->refusal);
	buf_release(&rp->data);
	for (i = 0; i < rp->ncalls; i++) {
		buf_release(&rp->calls[i].id);
		buf_release(&rp->calls[i].name);
		buf_release(&rp->calls[i].args);
	}
}

static void add_str(struct buf *b, json_object *o)
{
	size_t n;
	const char *s = jstr(o, &n);

	if (s)
		buf_add(b, s, n);
}

/* The call in slot index (a stream's tool call index), or NULL. */
static struct call *call_at(struct reply *rp, json_object *index)
{
	int64_t i = index ? json_object_get_int64(index) : rp->ncalls;

	if (index && !json_object_is_type(index, json_type_int))
		return NULL;
	if (i < 0 || i >= CHAT_TOOL_CALLS_MAX)
		return NULL;
	if (i >= rp->ncalls)
		rp->ncalls = (int)i + 1;
	return &rp->calls[i];
}

/* tool_calls of a message (whole) or a delta (pieces, by index). */
static void read_tool_calls(struct reply *rp, json_object *calls, bool delta)
{
	size_t i, n;

	if (!calls || !json_object_is_type(calls, json_type_array))
		return;
	for (i = 0, n = json_object_array_length(calls); i < n; i++) {
		json_object *tc = json_object_array_get_idx(calls, i), *fn = jget(tc, "function");
		struct call *c = call_at(rp, delta ? jget(tc, "index") : NULL);

		if (!c)
			continue;
		if (jget(tc, "id")) {
			buf_reset(&c->id);
			add_str(&c->id, jget(tc, "id"));
		}
		add_str(&c->name, jget(fn, "name"));
		add_str(&c->args, jget(fn, "arguments"));
	}
}

/* The choice with index 0, or the first one when none says its index. */
static json_object *first_choice(json_object *o)
{
	json_object *choices = jarr(o, "choices"), *c, *idx;
	size_t i, n;

	for (i = 0, n = choices ? json_object_array_length(choices) : 0; i < n; i++) {
		c = json_object_array_get_idx(choices, i);
		idx = jget(c, "index");
		if (idx ? json_object_get_int64(idx) == 0 : i == 0)
			return c;
	}
	return NULL;
}

/* A chat body's message or a chunk's delta. */
static void read_choice(struct reply *rp, json_object *o)
{
	json_object *c = first_choice(o);
	json_object *m = jget(c, "message") ? jget(c, "message") : jget(c, "delta");

	add_str(&rp->text, jget(m, "content"));
	add_str(&rp->text, jget(c, "text"));
	add_str(&rp->refusal, jget(m, "refusal"));
	read_tool_calls(rp, jget(m, "tool_calls"), !jget(c, "message"));
}

/* A Responses object's output: message text and function calls. */
static void read_output(struct reply *rp, json_object *resp)
{
	json_object *out = jarr(resp, "output");
	size_t i, n;

	for (i = 0, n = out ? json_object_array_length(out) : 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(out, i), *content;
		struct call *c;

		if (jis(item, "type", "function_call") && (c = call_at(rp, NULL)) != NULL) {
			add_str(&c->id, jget(item, "call_id"));
			add_str(&c->name, jget(item, "name"));
			add_str(&c->args, jget(item, "arguments"));
		}
		content = jis(item, "type", "message") ? jarr(item, "content") : NULL;
		if (content) {
			json_object *t = parts_text(content);
			size_t len;
			const char *s = jstr(t, &len);

			buf_add(&rp->text, s, len);
			json_object_put(t);
		}
	}
}

/* The final event of a Responses stream holds the whole response: what
 * came before it is replaced. */
static void read_chunk(struct reply *rp, json_object *o)
{
	if (jis(o, "type", "response.completed") || jis(o, "type", "response.incomplete") ||
	    jis(o, "type", "response.failed")) {
		reply_release(rp);
		reply_init(rp);
		read_output(rp, jget(o, "response"));
	} else if (jget(o, "choices")) {
		read_choice(rp, o);
	}
}

static void data_piece(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
}

static void on_event(void *ctx, const char *name, size_t name_len,
		     const char *block, size_t block_len)
{
	struct reply *rp = ctx;
	json_object *o;

	(void)name;
	(void)name_len;
	buf_reset(&rp->data);
	events_data(block, block_len, data_piece, &rp->data);
	o = json_parse_bytes(rp->data.data, rp->data.len);
	read_chunk(rp, o);
	json_object_put(o);
}

static json_object *reply_tool_calls(const struct reply *rp)
{
	json_object *calls = json_object_new_array();
	int i;

	for (i = 0; i < rp->ncalls; i++) {
		const struct call *c = &rp->calls[i];
		json_object *id, *name, *args;

		if (!c->name.len && !c->args.len)
			continue;
		id = str_new(c->id.data ? c->id.data : "", c->id.len);
		name = str_new(c->name.data ? c->name.data : "", c->name.len);
		args = str_new(c->args.data ? c->args.data : "", c->args.len);
		json_object_array_add(calls, tool_call_new(id, name, args));
		json_object_put(id);
		json_object_put(name);
		json_object_put(args);
	}
	return calls;
}

/* The assistant message, NULL when the reply said nothing. A refusal is
 * what the assistant said when it said nothing else. */
static json_object *reply_message(const struct reply *rp)
{
	const struct buf *t = rp->text.len ? &rp->text : &rp->refusal;
	json_object *calls = reply_tool_calls(rp), *m;

	if (!t->len && json_object_array_length(calls) == 0) {
		json_object_put(calls);
		return NULL;
	}
	m = message_new("assistant", t->len ? str_new(t->data, t->len) : NULL);
	if (json_object_array_length(calls))
		json_object_object_add(m, "tool_calls", calls);
	else
		json_object_put(calls);
	return m;
}

json_object *chat_reply_message(const char *body, size_t n, bool sse)
{
	struct reply rp;
	json_object *o = NULL, *m;

	reply_init(&rp);
	if (sse) {
		events_split(body, n, on_event, &rp);
	} else if ((o = json_parse_bytes(body, n)) != NULL) {
		if (jis(o, "object", "response"))
			read_output(&rp, o);
		else
			read_choice(&rp, o);
	}
	m = reply_message(&rp);
	json_object_put(o);
	reply_release(&rp);
	return m;
}

json_object *chat_text_message(const char *text, size_t n)
{
	return message_new("assistant", str_new(text, n));
}
