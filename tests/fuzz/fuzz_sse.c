/* fuzz_sse.c - the SSE parser and the stream half of capture_finish on hostile bytes.
 *
 * The input is a response body as an upstream might stream it. Properties:
 * the events are the same however the bytes are cut into chunks (the whole
 * body at once versus pseudo-random split points, down to single bytes and
 * empty chunks); no event is larger than max_event; every event read by
 * usage_from_event (as capture.c does) leaves the usage fields storable as
 * text; and a capture of the stream, cut at a small body cap so its tail is
 * read too, finishes with valid text everywhere. */
#include <stdbool.h>
#include <string.h>

#include "capture.h"
#include "sse.h"
#include "usage.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

/* sse.c cuts event names here (SSE_EVENT_NAME_MAX). */
#define EVENT_NAME_MAX 256
/* An indexed column holds ~2.7 KB at most (usage.c cuts names well below). */
#define INDEXED_MAX 2700

struct sink {
	struct buf log;      /* every event, length-prefixed, for comparison */
	struct usage *usage; /* NULL: only log */
	size_t max_event;
	long events;
};

static void on_event(void *ctx, const char *event, size_t event_len,
		     const char *data, size_t data_len)
{
	struct sink *s = ctx;

	FUZZ_CHECK(event != NULL && data != NULL);
	FUZZ_CHECK(event_len <= EVENT_NAME_MAX);
	FUZZ_CHECK(data_len <= s->max_event);
	buf_addf(&s->log, "%zu:%zu:", event_len, data_len);
	buf_add(&s->log, event, event_len);
	buf_add(&s->log, data, data_len);
	s->events++;
	if (s->usage)
		usage_from_event(s->usage, event, event_len, data, data_len);
}

/* NULL or valid UTF-8 without NUL, at most max bytes. */
static void check_field(const char *s, size_t max)
{
	if (s) {
		FUZZ_CHECK(strlen(s) <= max);
		FUZZ_CHECK(utf8_is_text(s, strlen(s)));
	}
}

static void check_usage(const struct usage *u)
{
	check_field(u->model, INDEXED_MAX);
	check_field(u->finish_reason, INDEXED_MAX);
	check_field(u->error_message, 64 * 1024);
	fuzz_check_buf(&u->reply);
	FUZZ_CHECK(utf8_is_text(u->reply.data, u->reply.len));
}

/* Feeds p[0..n) in chunks of pseudo-random sizes, empty ones included. */
static void feed_split(struct sse_parser *p, const char *s, size_t n,
		       uint64_t *rng, struct sink *sink)
{
	static const size_t sizes[] = { 0, 1, 1, 2, 3, 5, 8, 13, 64, 1000 };
	size_t i = 0, len;

	while (i < n) {
		len = fuzz_pick(rng, sizes, sizeof(sizes) / sizeof(sizes[0]));
		if (len > n - i)
			len = n - i;
		sse_feed(p, s + i, len, on_event, sink);
		i += len;
	}
}

/* Whole versus split: the same events, the same count. */
static void check_split_invariance(const char *s, size_t n, size_t max_event,
				   uint64_t *rng)
{
	struct sse_parser whole, split;
	struct sink a = { .max_event = max_event }, b = { .max_event = max_event };
	struct usage u;

	buf_init(&a.log, BUF_NO_CAP);
	buf_init(&b.log, BUF_NO_CAP);
	usage_init(&u, 1 + fuzz_next(rng) % 4096);
	b.usage = &u;

	sse_init(&whole, max_event);
	sse_feed(&whole, s, n, on_event, &a);
	sse_init(&split, max_event);
	feed_split(&split, s, n, rng, &b);

	FUZZ_CHECK(whole.events == a.events && split.events == b.events);
	FUZZ_CHECK(a.events == b.events);
	FUZZ_CHECK(a.log.len == b.log.len);
	FUZZ_CHECK(a.log.len == 0 || !memcmp(a.log.data, b.log.data, a.log.len));
	check_usage(&u);

	sse_release(&whole);
	sse_release(&split);
	usage_release(&u);
	buf_release(&a.log);
	buf_release(&b.log);
}

/* The capture path: body cut at a small cap, the tail kept, then finished.
 * Now and then the input is repeated past the tail's trim point. */
static void check_capture(const char *s, size_t n, uint64_t *rng)
{
	static const size_t caps[] = { 0, 1, 17, 100, 512, 4096, 1 << 20 };
	struct capture *c = capture_new(fuzz_pick(rng, caps, sizeof(caps) / sizeof(caps[0])));
	size_t rounds = (fuzz_next(rng) % 64 == 0 && n) ? 2 * CAPTURE_TAIL_MAX / n + 2 : 1;
	size_t i, at, len;

	/* a real capture has headers (an empty list is fuzz_headers' case) */
	buf_adds(&c->req_headers, "Content-Type: application/json\nAuthorization: Bearer sk-…abcd\n");
	buf_adds(&c->resp_headers, "Content-Type: text/event-stream; charset=utf-8\n");
	c->streamed = true;
	for (i = 0; i < rounds; i++) {
		for (at = 0; at < n; at += len) {
			len = 1 + fuzz_next(rng) % 512;
			if (len > n - at)
				len = n - at;
			capture_add_response(c, s + at, len);
		}
	}
	FUZZ_CHECK(c->resp_tail.len <= 2 * CAPTURE_TAIL_MAX);
	capture_finish(c);

	check_usage(&c->usage);
	FUZZ_CHECK(c->sse_events >= 0);
	FUZZ_CHECK(c->search_text != NULL);
	FUZZ_CHECK(utf8_is_text(c->search_text, strlen(c->search_text)));
	fuzz_check_buf(&c->resp_body);
	if (c->resp_body_text)
		FUZZ_CHECK(utf8_is_text(c->resp_body.data, c->resp_body.len));
	capture_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_events[] = { 0, 1, 7, 64, 4096, 1024 * 1024 };
	uint64_t rng = fuzz_hash(data, size);
	const char *s = (const char *)data;

	check_split_invariance(s, size,
			       fuzz_pick(&rng, max_events, sizeof(max_events) / sizeof(max_events[0])),
			       &rng);
	check_capture(s, size, &rng);
	return 0;
}
