/* usage.c - model, token counts, reply text and finish reason from OpenAI JSON. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "jsonparse.h"

#include "usage.h"
#include "utf8.h"
#include "banned.h"

/* Short fields land in indexed columns (a btree row holds ~2.7 KB at most);
 * an upstream's odd value is cut rather than failing the capture's INSERT. */
#define NAME_MAX_BYTES 200
#define ERROR_MAX_BYTES 4000

void usage_init(struct usage *u, size_t reply_max)
{
	memset(u, 0, sizeof(*u));
	u->prompt_tokens = USAGE_NONE;
	u->completion_tokens = USAGE_NONE;
	u->total_tokens = USAGE_NONE;
	u->cached_tokens = USAGE_NONE;
	u->reasoning_tokens = USAGE_NONE;
	buf_init(&u->reply, reply_max);
}

void usage_release(struct usage *u)
{
	if (!u)
		return;
	free(u->model);
	free(u->finish_reason);
	free(u->error_message);
	free(u->end_user);
	u->model = u->finish_reason = u->error_message = u->end_user = NULL;
	buf_release(&u->reply);
}


/* The string value of o and its length, or NULL when o is not a string. */
static const char *jstr(json_object *o, size_t *n)
{
	const char *s = NULL;

	*n = 0;
	if (o && json_object_is_type(o, json_type_string)) {
		s = json_object_get_string(o);
		*n = (size_t)json_object_get_string_len(o);
	}
	return s;
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return s && n == strlen(name) && !memcmp(s, name, n);
}

/* true when o[key] is the string want. */
static bool jis(json_object *o, const char *key, const char *want)
{
	size_t n;
	const char *s = jstr(jget(o, key), &n);

	return name_is(s, n, want);
}

static bool jtype_is(json_object *o, const char *type)
{
	return jis(o, "type", type);
}

/* Replaces *field with o's string, as valid UTF-8 without NUL and cut to
 * max bytes on a character boundary, when o is a non-empty string. */
static void set_str(char **field, json_object *o, size_t max)
{
	struct buf b;
	size_t n;
	const char *s = jstr(o, &n);

	if (s && n) {
		buf_init(&b, max);
		utf8_sanitize(s, n, &b);
		b.len = utf8_floor(b.data, b.len);
		b.data[b.len] = '\0';
		free(*field);
		*field = buf_detach(&b, NULL);
	}
}

static void set_count(long *field, json_object *o)
{
	if (o && json_object_is_type(o, json_type_int))
		*field = (long)json_object_get_int64(o);
}

/* Appends to the reply; once the cap is hit, nothing more is kept (a later
 * short delta would otherwise leave a gap) and the cut falls between
 * characters. */
static void reply_put(struct usage *u, const char *p, size_t n)
{
	struct buf *b = &u->reply;
	size_t room = b->cap - b->len;
	size_t take = n;

	if (b->truncated)
		take = 0;
	else if (n > room)
		take = utf8_floor(p, room);
	buf_add(b, p, take);
	b->total += n - take;
	if (take < n)
		b->truncated = true;
}

/* The reply goes to a text column: a NUL (from \u0000) or raw invalid
 * UTF-8 in a JSON string becomes U+FFFD here, once per decoded string. */
static void reply_add(struct usage *u, const char *p, size_t n)
{
	struct buf clean;

	if (utf8_is_text(p, n)) {
		reply_put(u, p, n);
	} else {
		buf_init(&clean, BUF_NO_CAP);
		utf8_sanitize(p, n, &clean);
		reply_put(u, clean.data, clean.len);
		buf_release(&clean);
	}
}

static void reply_str(struct usage *u, json_object *o)
{
	size_t n;
	const char *s = jstr(o, &n);

	if (s)
		reply_add(u, s, n);
}

/* A tool call reads "[tool_call NAME] ARGUMENTS" on a line of its own; a
 * stream sends the arguments later, in pieces, appended as they come. */
static void reply_tool_call(struct usage *u, json_object *name, json_object *args)
{
	size_t n;
	const char *s = jstr(name, &n);

	if (s) {
		if (u->reply.total)
			reply_add(u, "\n", 1);
		reply_add(u, "[tool_call ", 11);
		reply_add(u, s, n);
		reply_add(u, "] ", 2);
	}
	reply_str(u, args);
}

static void read_model(struct usage *u, json_object *o)
{
	if (!u->model)
		set_str(&u->model, jget(o, "model"), NAME_MAX_BYTES);
}

/* {"error": {"message": ...}}, or a bare {"error": "text"} from some proxies. */
static void read_error(struct usage *u, json_object *o)
{
	json_object *e = jget(o, "error");

	set_str(&u->error_message, e, ERROR_MAX_BYTES);
	set_str(&u->error_message, jget(e, "message"), ERROR_MAX_BYTES);
}

/* Chat/completions names first, then the Responses API's. */
static void read_usage(struct usage *u, json_object *o)
{
	json_object *in_d, *out_d;

	if (!o || !json_object_is_type(o, json_type_object))
		return;
	in_d = jget(o, "prompt_tokens_details");
	if (!in_d)
		in_d = jget(o, "input_tokens_details");
	out_d = jget(o, "completion_tokens_details");
	if (!out_d)
		out_d = jget(o, "output_tokens_details");
	set_count(&u->prompt_tokens, jget(o, "prompt_tokens"));
	set_count(&u->prompt_tokens, jget(o, "input_tokens"));
	set_count(&u->completion_tokens, jget(o, "completion_tokens"));
	set_count(&u->completion_tokens, jget(o, "output_tokens"));
	set_count(&u->total_tokens, jget(o, "total_tokens"));
	set_count(&u->cached_tokens, jget(in_d, "cached_tokens"));
	set_count(&u->reasoning_tokens, jget(out_d, "reasoning_tokens"));
}

static void read_tool_calls(struct usage *u, json_object *calls)
{
	size_t i, n;
	json_object *fn;

	if (!calls || !json_object_is_type(calls, json_type_array))
		return;
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		fn = jget(json_object_array_get_idx(calls, i), "function");
		reply_tool_call(u, jget(fn, "name"), jget(fn, "arguments"));
	}
}

/* A choice's "message" (whole body) or "delta" (stream chunk). */
static void read_message(struct usage *u, json_object *m)
{
	json_object *fn = jget(m, "function_call");

	reply_str(u, jget(m, "content"));
	reply_str(u, jget(m, "refusal"));
	read_tool_calls(u, jget(m, "tool_calls"));
	if (fn)
		reply_tool_call(u, jget(fn, "name"), jget(fn, "arguments"));
}

/* The choice with index 0, or the first one when none says its index. */
static json_object *first_choice(json_object *choices)
{
	json_object *c, *found = NULL, *idx;
	size_t i, n;

	if (!choices || !json_object_is_type(choices, json_type_array))
		return NULL;
	n = json_object_array_length(choices);
	for (i = 0; i < n && !found; i++) {
		c = json_object_array_get_idx(choices, i);
		idx = jget(c, "index");
		if (idx ? json_object_is_type(idx, json_type_int) &&
			  json_object_get_int64(idx) == 0 : i == 0)
			found = c;
	}
	return found;
}

static void read_choices(struct usage *u, json_object *choices)
{
	json_object *c = first_choice(choices);

	if (c) {
		read_message(u, jget(c, "message"));
		read_message(u, jget(c, "delta"));
		reply_str(u, jget(c, "text"));
		set_str(&u->finish_reason, jget(c, "finish_reason"), NAME_MAX_BYTES);
	}
}

static void read_output_item(struct usage *u, json_object *item)
{
	json_object *content = jget(item, "content"), *part;
	size_t i, n;

	if (jtype_is(item, "function_call"))
		reply_tool_call(u, jget(item, "name"), jget(item, "arguments"));
	if (!content || !json_object_is_type(content, json_type_array))
		return;
	n = json_object_array_length(content);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(content, i);
		if (jtype_is(part, "output_text"))
			reply_str(u, jget(part, "text"));
		else if (jtype_is(part, "refusal"))
			reply_str(u, jget(part, "refusal"));
	}
}

/* A Responses API object: output items, status, usage, error. */
static void read_response(struct usage *u, json_object *r, bool with_output)
{
	json_object *output = jget(r, "output");
	size_t i, n;

	read_model(u, r);
	read_error(u, r);
	read_usage(u, jget(r, "usage"));
	set_str(&u->finish_reason, jget(r, "status"), NAME_MAX_BYTES);
	if (!with_output || !output || !json_object_is_type(output, json_type_array))
		return;
	n = json_object_array_length(output);
	for (i = 0; i < n; i++)
		read_output_item(u, json_object_array_get_idx(output, i));
}

void usage_from_body(struct usage *u, const char *body, size_t n)
{
	json_object *o = json_parse_bytes(body, n);

	if (!o)
		return;
	if (jis(o, "object", "response")) {
		read_response(u, o, true);
	} else {
		read_model(u, o);
		read_error(u, o);
		read_usage(u, jget(o, "usage"));
		read_choices(u, jget(o, "choices"));
	}
	json_object_put(o);
}

/* The Responses API's typed events; deltas carry the reply, the final
 * event the whole response with usage and status. */
static void read_response_event(struct usage *u, const char *t, size_t n,
				json_object *o)
{
	if (name_is(t, n, "response.output_text.delta") ||
	    name_is(t, n, "response.refusal.delta") ||
	    name_is(t, n, "response.function_call_arguments.delta")) {
		reply_str(u, jget(o, "delta"));
	} else if (name_is(t, n, "response.output_item.added")) {
		json_object *item = jget(o, "item");

		if (jtype_is(item, "function_call"))
			reply_tool_call(u, jget(item, "name"), NULL);
	} else if (name_is(t, n, "response.completed") ||
		   name_is(t, n, "response.incomplete") ||
		   name_is(t, n, "response.failed")) {
		/* the output again, in full: read it only if no delta came */
		read_response(u, jget(o, "response"), u->reply.total == 0);
	} else if (name_is(t, n, "response.created") ||
		   name_is(t, n, "response.in_progress")) {
		read_model(u, jget(o, "response"));
	}
}

/* A chat or completions chunk, a Responses "error" event ({"message"} at the
 * top), or an {"error": {...}} sent in the middle of a stream. */
static void read_chunk(struct usage *u, json_object *o)
{
	read_model(u, o);
	read_error(u, o);
	if (jtype_is(o, "error"))
		set_str(&u->error_message, jget(o, "message"),
			ERROR_MAX_BYTES);
	read_usage(u, jget(o, "usage"));
	read_choices(u, jget(o, "choices"));
}

static bool is_done(const char *data, size_t n)
{
	while (n && json_ws(*data))
		data++, n--;
	while (n && json_ws(data[n - 1]))
		n--;
	return name_is(data, n, "[DONE]");
}

void usage_from_event(struct usage *u, const char *event, size_t event_len,
		      const char *data, size_t n)
{
	json_object *o = NULL;
	const char *type = event;
	size_t type_len = event ? event_len : 0;

	if (!data || is_done(data, n))
		goto out;
	o = json_parse_bytes(data, n);
	if (!o)
		goto out;
	if (!type_len || name_is(type, type_len, "message"))
		type = jstr(jget(o, "type"), &type_len);
	if (type && type_len > 9 && !memcmp(type, "response.", 9))
		read_response_event(u, type, type_len, o);
	else
		read_chunk(u, o);
out:
	json_object_put(o);
}

void usage_from_request_json(struct usage *u, json_object *o)
{
	if (!u->model)
		read_model(u, o);
	set_str(&u->end_user, jget(o, "user"), NAME_MAX_BYTES);
}

void usage_from_request(struct usage *u, const char *body, size_t n)
{
	json_object *o = json_parse_bytes(body, n);

	usage_from_request_json(u, o);
	json_object_put(o);
}
