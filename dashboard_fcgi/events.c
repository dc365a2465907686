/* events.c - splitting a stored text/event-stream body into its events. */
#include <stdbool.h>
#include <string.h>

#include "events.h"
#include "banned.h"

/* Length of the line at p (without its end) and, in *next, where the next
 * line starts. */
static size_t line_at(const char *p, const char *end, const char **next)
{
	const char *e = p;

	while (e < end && *e != '\n' && *e != '\r')
		e++;
	*next = e < end ? e + 1 : end;
	if (e < end && *e == '\r' && *next < end && **next == '\n')
		(*next)++;
	return (size_t)(e - p);
}

/* Splits a line into its field name and value ("data: x" -> "data", "x"). */
static void field(const char *line, size_t len, size_t *name_len,
		  const char **value, size_t *value_len)
{
	const char *colon = memchr(line, ':', len);

	if (!colon) {
		*name_len = len;
		*value = line + len;
		*value_len = 0;
		return;
	}
	*name_len = (size_t)(colon - line);
	*value = colon + 1;
	if (*value < line + len && **value == ' ')
		(*value)++;
	*value_len = (size_t)(line + len - *value);
}

struct event_state {
	const char *start;        /* first line of the event, NULL if none yet */
	const char *name;
	size_t name_len;
	bool has_data;
};

static size_t dispatch(struct event_state *ev, const char *end, events_fn fn, void *ctx)
{
	size_t n = 0;

	if (ev->start && ev->has_data) {
		fn(ctx, ev->name, ev->name_len, ev->start, (size_t)(end - ev->start));
		n = 1;
	}
	memset(ev, 0, sizeof(*ev));
	return n;
}

size_t events_split(const char *p, size_t n, events_fn fn, void *ctx)
{
	const char *end = p + n, *line = p;
	struct event_state ev = { 0 };
	size_t count = 0;

	while (line < end) {
		const char *next, *value;
		size_t len = line_at(line, end, &next), name_len, value_len;

		if (len == 0) {
			count += dispatch(&ev, line, fn, ctx);
			line = next;
			continue;
		}
		if (!ev.start)
			ev.start = line;
		field(line, len, &name_len, &value, &value_len);
		if (name_len == 4 && !memcmp(line, "data", 4)) {
			ev.has_data = true;
		} else if (name_len == 5 && !memcmp(line, "event", 5)) {
			ev.name = value;
			ev.name_len = value_len;
		}
		line = next;
	}
	count += dispatch(&ev, end, fn, ctx);
	return count;
}

void events_data(const char *block, size_t n, events_piece_fn piece, void *ctx)
{
	const char *end = block + n, *line = block;
	bool first = true;

	while (line < end) {
		const char *next, *value;
		size_t len = line_at(line, end, &next), name_len, value_len;

		if (len) {
			field(line, len, &name_len, &value, &value_len);
			if (name_len == 4 && !memcmp(line, "data", 4)) {
				if (!first)
					piece(ctx, "\n", 1);
				piece(ctx, value, value_len);
				first = false;
			}
		}
		line = next;
	}
}
