/* sse.c - incremental server-sent events parser (WHATWG EventSource rules). */
#include <stdint.h>
#include <string.h>

#include "sse.h"
#include "banned.h"

/* Event names are short words; a longer one is cut, not grown. */
#define SSE_EVENT_NAME_MAX 256
/* Room for a field name ("data: ") in front of max_event bytes of value. */
#define SSE_LINE_SLACK 64

void sse_init(struct sse_parser *p, size_t max_event)
{
	size_t line_cap = max_event > SIZE_MAX - SSE_LINE_SLACK ?
			  SIZE_MAX : max_event + SSE_LINE_SLACK;

	memset(p, 0, sizeof(*p));
	buf_init(&p->line, line_cap);
	buf_init(&p->event, SSE_EVENT_NAME_MAX);
	buf_init(&p->data, max_event);
}

void sse_release(struct sse_parser *p)
{
	if (!p)
		return;
	buf_release(&p->line);
	buf_release(&p->event);
	buf_release(&p->data);
	p->has_data = false;
	p->after_cr = false;
}

static const char *buf_text(const struct buf *b)
{
	return b->data ? b->data : "";
}

/* A blank line ends the event; one without any data field is dropped. */
static void sse_dispatch(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	if (p->has_data) {
		fn(ctx, buf_text(&p->event), p->event.len,
		   buf_text(&p->data), p->data.len);
		p->events++;
	}
	buf_reset(&p->event);
	buf_reset(&p->data);
	p->has_data = false;
}

static void sse_field(struct sse_parser *p, const char *name, size_t name_len,
		      const char *value, size_t value_len)
{
	if (name_len == 4 && !memcmp(name, "data", 4)) {
		if (p->has_data)
			buf_addch(&p->data, '\n');
		buf_add(&p->data, value, value_len);
		p->has_data = true;
	} else if (name_len == 5 && !memcmp(name, "event", 5)) {
		buf_reset(&p->event);
		buf_add(&p->event, value, value_len);
	}
	/* id, retry and unknown fields mean nothing to a capture */
}

/* Handles the complete line in p->line, then empties it. */
static void sse_line(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	const char *s = buf_text(&p->line);
	size_t n = p->line.len;
	const char *colon = memchr(s, ':', n);

	if (n == 0) {
		sse_dispatch(p, fn, ctx);
	} else if (colon == NULL) {
		sse_field(p, s, n, "", 0);
	} else if (colon != s) {
		size_t name_len = (size_t)(colon - s);
		const char *v = colon + 1;
		size_t v_len = n - name_len - 1;

		if (v_len && *v == ' ')
			v++, v_len--;
		sse_field(p, s, name_len, v, v_len);
	}
	buf_reset(&p->line);
}

/* Bytes up to the first \r or \n (or n if there is none). */
static size_t sse_line_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

void sse_feed(struct sse_parser *p, const char *chunk, size_t n,
	      sse_event_fn fn, void *ctx)
{
	size_t i = 0, len;

	while (i < n) {
		if (p->after_cr) {
			p->after_cr = false;
			if (chunk[i] == '\n') {
				i++;
				continue;
			}
		}
		len = sse_line_len(chunk + i, n - i);
		buf_add(&p->line, chunk + i, len);
		i += len;
		if (i < n) {
			p->after_cr = chunk[i] == '\r';
			i++;
			sse_line(p, fn, ctx);
		}
	}
}
