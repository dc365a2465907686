/* capture.c - the capture record: allocation, post-response analysis, header JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "capture.h"
#include "jsonparse.h"
#include "jsonstr.h"
#include "searchtext.h"
#include "sse.h"
#include "utf8.h"
#include "xalloc.h"
#include "banned.h"

/* Bytes of text indexed per capture: keeps the tsvector far below 1 MB. */
#define SEARCH_TEXT_MAX (96 * 1024)
/* Largest single SSE event read for usage (OpenAI chunks are < 10 KB). */
#define SSE_EVENT_MAX (1024 * 1024)

int64_t capture_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct capture *capture_new(size_t body_max)
{
	struct capture *c = xcalloc(1, sizeof(*c));

	c->started_us = capture_now_us();
	uuid_v7(c->id, c->started_us / 1000);
	c->ttfb_ms = -1;
	c->sse_events = -1;
	buf_init(&c->req_headers, 256 * 1024);
	buf_init(&c->resp_headers, 256 * 1024);
	buf_init(&c->req_body, body_max);
	buf_init(&c->resp_body, body_max);
	buf_init(&c->resp_tail, BUF_NO_CAP);
	buf_init(&c->req_headers_json, BUF_NO_CAP);
	buf_init(&c->resp_headers_json, BUF_NO_CAP);
	usage_init(&c->usage, body_max);
	return c;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	free(c->instance);
	free(c->client_addr);
	free(c->method);
	free(c->path);
	free(c->query);
	free(c->req_content_type);
	free(c->resp_content_type);
	free(c->error);
	free(c->search_text);
	free(c->user);
	free(c->session);
	free(c->tags);
	buf_release(&c->req_headers);
	buf_release(&c->resp_headers);
	buf_release(&c->req_body);
	buf_release(&c->resp_body);
	buf_release(&c->resp_tail);
	if (c->sse_on)
		sse_release(&c->sse);
	buf_release(&c->req_headers_json);
	buf_release(&c->resp_headers_json);
	usage_release(&c->usage);
	free(c);
}

void capture_add_response(struct capture *c, const char *p, size_t len)
{
	size_t room = c->resp_body.cap - c->resp_body.len;

	buf_add(&c->resp_body, p, len);
	if (!c->streamed || len <= room)
		return;
	buf_add(&c->resp_tail, p + room, len - room);
	if (c->resp_tail.len > 2 * CAPTURE_TAIL_MAX) {
		size_t drop = c->resp_tail.len - CAPTURE_TAIL_MAX;

		memmove(c->resp_tail.data, c->resp_tail.data + drop, CAPTURE_TAIL_MAX);
		c->resp_tail.len = CAPTURE_TAIL_MAX;
		c->resp_tail.data[CAPTURE_TAIL_MAX] = '\0';
	}
}

/* Keeps an attribution value as valid UTF-8 of at most 200 bytes. */
static char *attribution(const char *value)
{
	struct buf b;

	buf_init(&b, 200);
	utf8_sanitize(value, strlen(value), &b);
	b.len = utf8_floor(b.data, b.len);
	b.data[b.len] = '\0';
	return buf_detach(&b, NULL);
}

/* Appends one tag, trimmed, as a quoted element of an array literal. */
static void add_tag(struct buf *out, const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (!n)
		return;
	if (out->len > 1)
		buf_addch(out, ',');
	buf_addch(out, '"');
	for (; n; p++, n--) {
		if (*p == '"' || *p == '\\')
			buf_addch(out, '\\');
		buf_addch(out, *p);
	}
	buf_addch(out, '"');
}

void capture_set_attribution(struct capture *c, const char *name, const char *value)
{
	char *clean = attribution(value);
	struct buf tags;
	const char *p;

	if (!strcasecmp(name, "X-Capture-User")) {
		free(c->user);
		c->user = clean;
		return;
	}
	if (!strcasecmp(name, "X-Capture-Session")) {
		free(c->session);
		c->session = clean;
		return;
	}
	if (!strcasecmp(name, "X-Capture-Tags")) {
		buf_init(&tags, BUF_NO_CAP);
		buf_addch(&tags, '{');
		for (p = clean; *p; p += *p == ',') {
			size_t n = strcspn(p, ",");

			add_tag(&tags, p, n);
			p += n;
		}
		buf_addch(&tags, '}');
		free(c->tags);
		c->tags = buf_detach(&tags, NULL);
	}
	free(clean);
}

const char *capture_outcome_name(enum outcome o)
{
	static const char *const names[] = {
		"completed", "upstream_error", "unreachable", "timeout",
		"client_aborted", "rejected", "proxy_error",
	};

	return (size_t)o < sizeof(names) / sizeof(names[0]) ? names[o] : "proxy_error";
}

void capture_set_error(struct capture *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->error)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->error = xstrdup(msg);
}

static void on_event(void *ctx, const char *event, size_t event_len,
		     const char *data, size_t n)
{
	usage_from_event(ctx, event, event_len, data, n);
}

/* The tail starts mid-event: skip to the first event boundary. */
static const char *tail_resync(const struct buf *t, size_t *n)
{
	const char *p = memmem(t->data, t->len, "\n\n", 2);
	const char *q = memmem(t->data, t->len, "\r\n\r\n", 4);

	if (q && (!p || q < p))
		p = q + 2;
	if (!p)
		return *n = 0, t->data;
	p += 2;
	*n = t->len - (size_t)(p - t->data);
	return p;
}

void capture_read_events(struct capture *c)
{
	if (!c->streamed)
		return;
	if (!c->sse_on) {
		sse_init(&c->sse, SSE_EVENT_MAX);
		c->sse_on = true;
	}
	/* capture_finish may have cut a partial character off the end */
	if (c->resp_body.len > c->sse_fed)
		sse_feed(&c->sse, c->resp_body.data + c->sse_fed,
			 c->resp_body.len - c->sse_fed, on_event, &c->usage);
	c->sse_fed = c->resp_body.len;
}

/* The head of the stream (what capture_read_events has not read yet) and,
 * when it was cut, its tail. */
static void read_stream(struct capture *c)
{
	struct sse_parser p;

	capture_read_events(c);
	c->sse_events = c->sse.events;
	sse_release(&c->sse);
	c->sse_on = false;
	if (c->resp_body.truncated && c->resp_tail.len) {
		size_t n;
		const char *s = tail_resync(&c->resp_tail, &n);

		sse_init(&p, SSE_EVENT_MAX);
		sse_feed(&p, s, n, on_event, &c->usage);
		sse_release(&p);
	}
}

/* A body cut at the cap may end inside a character: drop that partial
 * character so cut text is still stored as text. */
static bool body_is_text(struct buf *b)
{
	size_t n = b->truncated ? utf8_floor(b->data, b->len) : b->len;

	if (!utf8_is_text(b->data, n))
		return false;
	b->len = n;
	if (b->data)
		b->data[n] = '\0';
	return true;
}

void capture_finish(struct capture *c)
{
	const struct buf *reply = &c->usage.reply;
	json_object *request;

	capture_headers_json(&c->req_headers, &c->req_headers_json);
	capture_headers_json(&c->resp_headers, &c->resp_headers_json);
	c->req_body_text = body_is_text(&c->req_body);
	c->resp_body_text = body_is_text(&c->resp_body);

	if (c->streamed)
		read_stream(c);
	else if (c->resp_body.len)
		usage_from_body(&c->usage, c->resp_body.data, c->resp_body.len);
	/* parsed once for both: the request is often the biggest JSON here */
	request = json_parse_bytes(c->req_body.data, c->req_body.len);
	usage_from_request_json(&c->usage, request);
	if (c->outcome == OUTCOME_UPSTREAM_ERROR && !c->error)
		capture_set_error(c, "upstream answered %d%s%s", c->status,
				  c->usage.error_message ? ": " : "",
				  c->usage.error_message ? c->usage.error_message : "");
	if (!reply->len && c->usage.error_message)
		c->search_text = searchtext_build_json(request, c->usage.error_message,
						       strlen(c->usage.error_message),
						       SEARCH_TEXT_MAX);
	else
		c->search_text = searchtext_build_json(request, reply->data, reply->len,
						       SEARCH_TEXT_MAX);
	json_object_put(request);
}

void capture_headers_json(const struct buf *lines, struct buf *out)
{
	const char *p = lines->data, *end = p ? p + lines->len : NULL;
	bool first = true;

	buf_addch(out, '[');
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon;

		if (!nl)
			nl = end;
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon) {
			const char *v = colon + 1;

			while (v < nl && *v == ' ')
				v++;
			buf_adds(out, first ? "[" : ",[");
			json_add_string(out, p, (size_t)(colon - p));
			buf_addch(out, ',');
			json_add_string(out, v, (size_t)(nl - v));
			buf_addch(out, ']');
			first = false;
		}
		p = nl + 1;
	}
	buf_addch(out, ']');
}
