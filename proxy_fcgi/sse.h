/* sse.h - incremental parser for server-sent events (text/event-stream).
 *
 * Feed it bytes in chunks of any size, split anywhere (even inside a CRLF or
 * a UTF-8 character); it calls back once per complete event with the event
 * name and its data lines joined by '\n', as the WHATWG EventSource rules say.
 * Lines may end in \n, \r\n or \r. Comment lines (":") and unknown fields are
 * skipped. An event's data is capped at max_event bytes (the rest is dropped,
 * the event still dispatched) so a hostile stream cannot grow memory. */
#ifndef SSE_H
#define SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* event is "" when the stream named none ("message" by the spec). */
typedef void (*sse_event_fn)(void *ctx, const char *event, size_t event_len,
			     const char *data, size_t data_len);

struct sse_parser {
	struct buf line;   /* the current, unfinished line */
	struct buf event;  /* the "event:" field of the event being built */
	struct buf data;   /* its "data:" lines */
	bool has_data;     /* a data field was seen (an empty one counts) */
	bool after_cr;     /* last byte was \r: a following \n ends nothing */
	long events;       /* events dispatched so far */
};

void sse_init(struct sse_parser *p, size_t max_event);
/* Parses n bytes, calling fn for each event they complete. */
void sse_feed(struct sse_parser *p, const char *chunk, size_t n,
	      sse_event_fn fn, void *ctx);
/* Frees the parser's buffers; an unfinished event is dropped. */
void sse_release(struct sse_parser *p);

#endif
