/* latency.c - one connection, one request at a time: the latency of each.
 *
 *   latency URL BODYFILE SECONDS
 *
 * POSTs BODYFILE (one JSON document) to URL (http://host:port/path) over
 * one kept-alive connection for SECONDS and prints, like post.lua, a line
 * "BENCH_JSON {...}" with requests, non-2xx and latency percentiles in
 * microseconds. wrk's own latency figures are not usable at one connection:
 * their mean times the request count came out at 10-15 times the length of
 * the run, which one connection cannot do. Here each request is timed from
 * its first byte written to its last byte read, on CLOCK_MONOTONIC. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dial.h"

#define RESP_MAX (1 << 20)

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one response with a Content-Length (every target answers with one).
 * Returns its status, 0 when the connection closed, -1 on anything else;
 * *keep is cleared when the server said it closes. */
static int read_response(int fd, char *buf, int *keep)
{
	size_t have = 0, need = 0;
	char *end = NULL, *cl;
	int status;

	for (;;) {
		ssize_t r = read(fd, buf + have, RESP_MAX - 1 - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return have ? -1 : 0;
		have += (size_t)r;
		buf[have] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (!cl || cl > end)
				return -1;
			need = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
			*keep = !strcasestr(buf, "\r\nconnection: close");
		}
		if (end && have >= need)
			break;
		if (have >= RESP_MAX - 1)
			return -1;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static long pct(const long *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	return n ? v[i < n ? i : n - 1] : 0;
}

int main(int argc, char **argv)
{
	char host[64], path[2048], *req, *resp, *body;
	long *lat, start, stop, t, sum = 0;
	size_t n = 0, cap = 1 << 20, blen, rlen;
	int port, fd, keep = 1, status, non2xx = 0;
	FILE *f;

	if (argc != 4 || sscanf(argv[1], "http://%63[^:]:%d%2047s", host, &port, path) != 3) {
		fprintf(stderr, "usage: latency http://HOST:PORT/PATH BODYFILE SECONDS\n");
		return 2;
	}
	f = fopen(argv[2], "rb");
	body = malloc(RESP_MAX);
	if (!f || !body) {
		perror(argv[2]);
		return 2;
	}
	blen = fread(body, 1, RESP_MAX, f);
	fclose(f);
	while (blen && (body[blen - 1] == '\n' || body[blen - 1] == '\r'))
		blen--;
	req = malloc(blen + 4096);
	resp = malloc(RESP_MAX);
	lat = malloc(cap * sizeof(*lat));
	if (!req || !resp || !lat)
		return 2;
	rlen = (size_t)snprintf(req, 4096,
		"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
		"Authorization: Bearer sk-bench-0000000000000000000000000000wrk1\r\n"
		"Content-Length: %zu\r\n\r\n", path, host, port, blen);
	memcpy(req + rlen, body, blen);
	rlen += blen;

	fd = dial(host, port);
	start = now_us();
	stop = start + (long)(atof(argv[3]) * 1e6);
	while ((t = now_us()) < stop && n < cap) {
		if (!keep) {
			close(fd);
			fd = dial(host, port);
		}
		if (write_all(fd, req, rlen) < 0 || (status = read_response(fd, resp, &keep)) <= 0) {
			fprintf(stderr, "latency: connection failed after %zu requests\n", n);
			return 1;
		}
		lat[n] = now_us() - t;
		sum += lat[n++];
		non2xx += status < 200 || status > 299;
	}
	stop = now_us();
	qsort(lat, n, sizeof(*lat), cmp_long);
	printf("BENCH_JSON {\"requests\":%zu,\"duration_us\":%ld,\"bytes\":0,\"non2xx\":%d,"
	       "\"connect_errors\":0,\"read_errors\":0,\"write_errors\":0,\"timeouts\":0,"
	       "\"p50_us\":%ld,\"p90_us\":%ld,\"p99_us\":%ld,\"p999_us\":%ld,\"mean_us\":%.1f,\"max_us\":%ld}\n",
	       n, stop - start, non2xx, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
	       pct(lat, n, 99.9), n ? (double)sum / (double)n : 0.0, n ? lat[n - 1] : 0);
	return 0;
}
