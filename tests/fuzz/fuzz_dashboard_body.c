/* fuzz_dashboard_body.c - how the dashboard shows a captured body: jsonv, events, jsonw.
 *
 * The input is a stored body. Properties: jsonv_valid accepts only what
 * json-c parses strictly (the body then goes into the API's JSON unescaped,
 * so a false "valid" would break every response that holds it; the other
 * way round json-c is no judge: it takes raw control characters in strings
 * and leading zeros); events_split and events_data find the same events as
 * the proxy's SSE parser (the two must agree about what a stream held); and
 * the JSON the writer makes of those events and of the whole body parses
 * back to the same text, with no raw < > & ' or U+2028/9 in it. */
#include <stdbool.h>
#include <string.h>

#include "events.h"
#include "jsonv.h"
#include "jsonw.h"
#include "sse.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

/* sse.c cuts event names here (SSE_EVENT_NAME_MAX). */
#define EVENT_NAME_MAX 256

static void check_jsonv(const char *p, size_t n)
{
	bool valid = jsonv_valid(p, n);
	json_tokener *tok = json_tokener_new_ex(JSONV_MAX_DEPTH + 8);
	/* a trailing space ends a top-level number for json-c */
	char *copy = malloc(n + 1);
	json_object *o;
	size_t end;
	bool parsed;

	FUZZ_CHECK(tok != NULL && copy != NULL);
	memcpy(copy, p, n);
	copy[n] = ' ';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, copy, (int)n + 1);
	/* JSON null parses to NULL: the error code tells */
	parsed = json_tokener_get_error(tok) == json_tokener_success;
	if (parsed) {
		for (end = json_tokener_get_parse_end(tok); end < n; end++)
			if (!memchr(" \t\r\n", p[end], 4))
				parsed = false;
	}
	json_object_put(o);
	json_tokener_free(tok);
	free(copy);
	if (valid && !parsed) {
		fprintf(stderr, "jsonv_valid accepts what json-c refuses: %.*s\n", (int)n, p);
		FUZZ_CHECK(!"jsonv_valid accepts invalid JSON");
	}
}

/* Events, length-prefixed into one buffer, to compare two parsers. */
struct log {
	struct buf b;
	size_t events;
	struct jw w;            /* events_split's events also go to JSON */
	struct buf json;
};

static void on_sse(void *ctx, const char *event, size_t event_len,
		   const char *data, size_t data_len)
{
	struct log *l = ctx;

	buf_addf(&l->b, "%zu:%zu:", event_len, data_len);
	buf_add(&l->b, event, event_len);
	buf_add(&l->b, data, data_len);
	l->events++;
}

static void on_piece(void *ctx, const char *p, size_t n)
{
	struct buf *data = ctx;

	buf_add(data, p, n);
}

static void on_json_piece(void *ctx, const char *p, size_t n)
{
	jw_string_part(ctx, p, n);
}

static void on_event(void *ctx, const char *name, size_t name_len,
		     const char *block, size_t block_len)
{
	struct log *l = ctx;
	struct buf data;

	if (!name)
		name = "", name_len = 0;
	if (name_len > EVENT_NAME_MAX)
		name_len = EVENT_NAME_MAX;
	buf_init(&data, BUF_NO_CAP);
	events_data(block, block_len, on_piece, &data);
	buf_addf(&l->b, "%zu:%zu:", name_len, data.len);
	buf_add(&l->b, name, name_len);
	buf_add(&l->b, data.data, data.len);
	buf_release(&data);
	l->events++;

	/* as request.c writes it */
	jw_object_begin(&l->w);
	jw_key(&l->w, "event");
	jw_string(&l->w, name, name_len);
	jw_key(&l->w, "data");
	jw_string_begin(&l->w);
	events_data(block, block_len, on_json_piece, &l->w);
	jw_string_end(&l->w);
	jw_object_end(&l->w);
}

static void sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
}

/* Nothing in writer output that HTML or a script could take as markup. */
static void check_inert(const struct buf *b)
{
	FUZZ_CHECK(!memchr(b->data, '<', b->len) && !memchr(b->data, '>', b->len));
	FUZZ_CHECK(!memchr(b->data, '&', b->len) && !memchr(b->data, '\'', b->len));
	FUZZ_CHECK(!memmem(b->data, b->len, "\xe2\x80\xa8", 3));
	FUZZ_CHECK(!memmem(b->data, b->len, "\xe2\x80\xa9", 3));
	FUZZ_CHECK(utf8_is_text(b->data, b->len));
}

static void check_events(const char *p, size_t n)
{
	struct log a = { .events = 0 }, b = { .events = 0 };
	struct sse_parser sp;
	size_t count;
	json_object *o;

	buf_init(&a.b, BUF_NO_CAP);
	buf_init(&b.b, BUF_NO_CAP);
	buf_init(&a.json, BUF_NO_CAP);
	jw_init(&a.w, sink, &a.json);
	jw_array_begin(&a.w);
	count = events_split(p, n, on_event, &a);
	jw_array_end(&a.w);
	FUZZ_CHECK(count == a.events);

	/* a cut stream's last event counts in events.c: end it for sse.c */
	sse_init(&sp, BUF_NO_CAP);
	sse_feed(&sp, p, n, on_sse, &b);
	sse_feed(&sp, "\n\n", 2, on_sse, &b);
	sse_release(&sp);
	FUZZ_CHECK(a.events == b.events);
	FUZZ_CHECK(a.b.len == b.b.len && (!a.b.len || !memcmp(a.b.data, b.b.data, a.b.len)));

	check_inert(&a.json);
	o = fuzz_json_parse(a.json.data, a.json.len);
	FUZZ_CHECK(o && json_object_is_type(o, json_type_array));
	FUZZ_CHECK(json_object_array_length(o) == count);
	json_object_put(o);
	buf_release(&a.b);
	buf_release(&b.b);
	buf_release(&a.json);
}

/* The whole body as one string: it decodes to the body, each invalid byte
 * as U+FFFD (NUL is a \u0000 here: the browser, not jsonb, reads it). */
static void check_string(const char *p, size_t n)
{
	struct buf out, clean;
	struct jw w;
	json_object *o;

	buf_init(&out, BUF_NO_CAP);
	jw_init(&w, sink, &out);
	jw_string(&w, p, n);
	check_inert(&out);
	o = fuzz_json_parse(out.data, out.len);
	FUZZ_CHECK(o && json_object_is_type(o, json_type_string));
	if (!memchr(p, '\0', n)) {
		buf_init(&clean, BUF_NO_CAP);
		utf8_sanitize(p, n, &clean);
		FUZZ_CHECK((size_t)json_object_get_string_len(o) == clean.len);
		FUZZ_CHECK(!clean.len || !memcmp(json_object_get_string(o), clean.data, clean.len));
		buf_release(&clean);
	}
	json_object_put(o);
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	check_jsonv(p, size);
	check_events(p, size);
	check_string(p, size);
	return 0;
}
