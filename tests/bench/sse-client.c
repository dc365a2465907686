/* sse-client.c - timestamps every server-sent event of streamed chat completions.
 *
 *   sse-client http://HOST:PORT/PATH CONCURRENCY STREAMS
 *
 * Runs STREAMS requests (POST, a chat request with "stream": true),
 * CONCURRENCY at a time over kept-alive connections in one epoll loop, and
 * prints one JSON line:
 *   { streams, ok, failed, events, statuses, coalesced, ttfe_p50_ms, ttfe_p99_ms,
 *     delay_p50_ms, delay_p99_ms, delay_max_ms }
 * ttfe: from writing the request to reading its first event. delay: the
 * receive time of an event minus its send time in the stub ("bench_t",
 * process.hrtime of sse-stub.mjs: CLOCK_MONOTONIC, the clock read here), i.e.
 * how long that one event spent between the stub and this client. A proxy that
 * buffers shows it there, and in "coalesced" (events that arrived in one read
 * with others). It replaces a Node client whose own event loop put 1.2-2.2 ms
 * into the p99 of every column, the stub's own stream included. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dial.h"

#define IO_MAX (256 * 1024)
#define STATUS_MAX 600

struct conn {
	int fd;
	int todo;            /* streams this connection still runs */
	long t0;             /* request written, ns */
	int first;           /* no event of this response yet */
	int status;
	int in_body;
	int chunked;
	long clen;           /* body bytes left (Content-Length), -1 unknown */
	long chunk_left;     /* bytes left of the current chunk, -1 size line next */
	int chunk_crlf;      /* the CRLF after a chunk's data is next */
	int closing;         /* the server said Connection: close */
	char raw[IO_MAX];    /* received, not yet decoded */
	size_t rlen;
	char body[IO_MAX];   /* decoded body, events not yet complete */
	size_t blen;
};

struct samples {
	double *v;
	size_t n, cap;
};

static char host[64], path[2048], request[4096];
static int port, reqlen;
static int ok_n, failed_n, events_n, coalesced_n, statuses[STATUS_MAX];
static struct samples ttfe, delay;

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			exit(2);
	}
	s->v[s->n++] = x;
}

/* Writes the request (small: one write suffices on a fresh socket buffer). */
static int start(struct conn *c)
{
	c->first = 1;
	c->status = 0;
	c->in_body = 0;
	c->chunked = 0;
	c->clen = -1;
	c->chunk_left = -1;
	c->chunk_crlf = 0;
	c->closing = 0;
	c->rlen = c->blen = 0;
	c->t0 = now_ns();
	return write(c->fd, request, (size_t)reqlen) == reqlen ? 0 : -1;
}

/* Takes the complete events out of c->body; returns how many carried a stamp. */
static int take_events(struct conn *c, long now)
{
	char *p = c->body, *end = c->body + c->blen, *e;
	int n = 0;

	while ((e = memmem(p, (size_t)(end - p), "\n\n", 2)) != NULL) {
		char *m = memmem(p, (size_t)(e - p), "\"bench_t\":\"", 11);

		if (m) {
			long sent = strtol(m + 11, NULL, 10);

			if (c->first) {
				add(&ttfe, (double)(now - c->t0) / 1e6);
				c->first = 0;
			}
			add(&delay, (double)(now - sent) / 1e6);
			n++;
		}
		p = e + 2;
	}
	c->blen = (size_t)(end - p);
	memmove(c->body, p, c->blen);
	return n;
}

static int append_body(struct conn *c, const char *s, size_t n)
{
	if (c->blen + n > sizeof(c->body))
		return -1;
	memcpy(c->body + c->blen, s, n);
	c->blen += n;
	return 0;
}

/* Parses the status line and headers once they are all in c->raw.
 * Returns 1 when parsed, 0 when more is needed, -1 on a bad response. */
static int parse_head(struct conn *c)
{
	char *end = memmem(c->raw, c->rlen, "\r\n\r\n", 4), *h;
	size_t hl;

	if (!end)
		return c->rlen == sizeof(c->raw) ? -1 : 0;
	*end = '\0';
	if (sscanf(c->raw, "HTTP/1.%*d %d", &c->status) != 1)
		return -1;
	if ((h = strcasestr(c->raw, "\r\ncontent-length:")) != NULL)
		c->clen = strtol(h + 17, NULL, 10);
	if ((h = strcasestr(c->raw, "\r\ntransfer-encoding:")) != NULL && strcasestr(h, "chunked"))
		c->chunked = 1;
	c->closing = strcasestr(c->raw, "\r\nconnection: close") != NULL;
	hl = (size_t)(end + 4 - c->raw);
	c->rlen -= hl;
	memmove(c->raw, c->raw + hl, c->rlen);
	c->in_body = 1;
	return 1;
}

/* Decodes what c->raw holds of the body. Returns 1 at the end of the
 * response, 0 when more is needed, -1 on a bad response. */
static int decode(struct conn *c)
{
	size_t i = 0;
	int done = !c->chunked && c->clen == 0;

	while (i < c->rlen && !done) {
		char *p = c->raw + i, *nl;
		size_t avail = c->rlen - i, n;

		if (!c->chunked) {
			n = c->clen >= 0 && (long)avail > c->clen ? (size_t)c->clen : avail;
			if (append_body(c, p, n) < 0)
				return -1;
			i += n;
			if (c->clen >= 0 && (c->clen -= (long)n) == 0)
				done = 1;
		} else if (c->chunk_crlf) {
			if (avail < 2)
				break;
			i += 2;
			c->chunk_crlf = 0;
		} else if (c->chunk_left < 0) {
			if (!(nl = memmem(p, avail, "\r\n", 2)))
				break;
			c->chunk_left = strtol(p, NULL, 16);
			i += (size_t)(nl + 2 - p);
			if (c->chunk_left == 0) {
				if (c->rlen - i < 2) { /* the empty trailer line */
					i -= (size_t)(nl + 2 - p);
					c->chunk_left = -1;
					break;
				}
				i += 2;
				done = 1;
			}
		} else {
			n = (long)avail > c->chunk_left ? (size_t)c->chunk_left : avail;
			if (append_body(c, p, n) < 0)
				return -1;
			i += n;
			if ((c->chunk_left -= (long)n) == 0) {
				c->chunk_left = -1;
				c->chunk_crlf = 1;
			}
		}
	}
	c->rlen -= i;
	memmove(c->raw, c->raw + i, c->rlen);
	return done;
}

static void finish(struct conn *c, int good)
{
	if (c->status > 0 && c->status < STATUS_MAX)
		statuses[c->status]++;
	if (good && c->status == 200 && !c->first)
		ok_n++;
	else
		failed_n++;
}

/* Reads what arrived and takes its events; returns 1 at the end of the
 * response, 0 when more is to come, -1 when the connection failed or closed
 * (a close-delimited body then ends well: *good). */
static int receive(struct conn *c, int *good)
{
	ssize_t r = read(c->fd, c->raw + c->rlen, sizeof(c->raw) - c->rlen);
	long now = now_ns();
	int st = 0, n;

	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0) {
		*good = r == 0 && c->in_body && !c->chunked && c->clen < 0;
		st = -1;
	} else {
		c->rlen += (size_t)r;
		if (!c->in_body)
			st = parse_head(c);
		if (c->in_body && st >= 0)
			st = decode(c);
		*good = st == 1;
	}
	n = take_events(c, now);
	events_n += n;
	if (n > 1)
		coalesced_n += n - 1;
	return st;
}

/* Handles a readable connection; returns 1 once it has no stream left. */
static int on_read(struct conn *c, int ep)
{
	int good = 0, st = receive(c, &good);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (st == 0)
		return 0;
	finish(c, good);
	if (--c->todo == 0 || st < 0 || c->closing) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		if (c->todo == 0)
			return 1;
		c->fd = dial(host, port);
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	if (start(c) < 0) {
		failed_n += c->todo;
		c->todo = 0;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		return 1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The same rank as the Node client had: the ceil(p% * n)-th smallest. */
static void put_pct(const char *name, struct samples *s, double p)
{
	size_t i;

	if (!s->n) {
		printf(",\"%s\":null", name);
		return;
	}
	i = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	i = i ? i - 1 : 0;
	printf(",\"%s\":%.3f", name, s->v[i < s->n ? i : s->n - 1]);
}

int main(int argc, char **argv)
{
	static const char body[] =
		"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
		"\"messages\":[{\"role\":\"user\",\"content\":\"Stream a short sentence, one word per event.\"}]}";
	struct epoll_event ev, evs[64];
	struct conn *conns;
	int conc, total, ep, live, i, first_status = 1;

	if (argc != 4 || sscanf(argv[1], "http://%63[^:]:%d%2047s", host, &port, path) != 3 ||
	    (conc = atoi(argv[2])) <= 0 || (total = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: sse-client http://HOST:PORT/PATH CONCURRENCY STREAMS\n");
		return 2;
	}
	if (conc > total)
		conc = total;
	signal(SIGPIPE, SIG_IGN); /* a reset connection is a failed stream, not our end */
	reqlen = snprintf(request, sizeof(request),
		"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
		"Authorization: Bearer sk-bench-0000000000000000000000000000stream\r\n"
		"Accept: text/event-stream\r\nContent-Length: %zu\r\n\r\n%s",
		path, host, port, sizeof(body) - 1, body);
	conns = calloc((size_t)conc, sizeof(*conns));
	ep = epoll_create1(0);
	if (!conns || ep < 0)
		return 2;
	for (i = 0; i < conc; i++) {
		struct conn *c = &conns[i];

		c->todo = total / conc + (i < total % conc);
		c->fd = dial(host, port);
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		if (start(c) < 0) {
			perror("sse-client: write");
			return 2;
		}
	}
	for (live = conc; live > 0;) {
		int n = epoll_wait(ep, evs, 64, 60000);

		if (n == 0) {
			fprintf(stderr, "sse-client: nothing for 60 s, %d connections left\n", live);
			for (i = 0; i < conc; i++)
				failed_n += conns[i].todo;
			break;
		}
		for (i = 0; i < n; i++)
			live -= on_read(evs[i].data.ptr, ep);
	}
	qsort(ttfe.v, ttfe.n, sizeof(double), cmp_double);
	qsort(delay.v, delay.n, sizeof(double), cmp_double);
	printf("{\"streams\":%d,\"ok\":%d,\"failed\":%d,\"events\":%d,\"coalesced\":%d,\"statuses\":{",
	       total, ok_n, failed_n, events_n, coalesced_n);
	for (i = 0; i < STATUS_MAX; i++)
		if (statuses[i]) {
			printf("%s\"%d\":%d", first_status ? "" : ",", i, statuses[i]);
			first_status = 0;
		}
	printf("}");
	put_pct("ttfe_p50_ms", &ttfe, 50);
	put_pct("ttfe_p99_ms", &ttfe, 99);
	put_pct("delay_p50_ms", &delay, 50);
	put_pct("delay_p99_ms", &delay, 99);
	if (delay.n)
		printf(",\"delay_max_ms\":%.3f}\n", delay.v[delay.n - 1]);
	else
		printf(",\"delay_max_ms\":null}\n");
	return 0;
}
