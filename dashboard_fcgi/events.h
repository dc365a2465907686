/* events.h - the server-sent events of a stored stream body, one by one.
 *
 * Splits a complete text/event-stream body into events as the WHATWG rules
 * say: lines end in \n, \r\n or \r; "event:" names the event, "data:" lines
 * make its data (joined with \n), comments (":") and other fields are
 * skipped, a blank line ends an event, and a last event without its blank
 * line still counts (a stream that was cut off). Events without data lines
 * are not dispatched. Everything points into the body: nothing is copied. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stddef.h>

/* name is NULL when the event named none; block[0..block_len) holds the
 * event's lines, to hand to events_data. */
typedef void (*events_fn)(void *ctx, const char *name, size_t name_len,
			  const char *block, size_t block_len);
typedef void (*events_piece_fn)(void *ctx, const char *p, size_t n);

/* Calls fn for each event in p[0..n); returns how many. */
size_t events_split(const char *p, size_t n, events_fn fn, void *ctx);
/* Passes the data of an event block to piece in order: the data lines'
 * values with "\n" pieces between them. */
void events_data(const char *block, size_t n, events_piece_fn piece, void *ctx);

#endif
