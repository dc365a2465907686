/* forward.c - one proxied call: request in, curl upstream, response out, tee into a capture. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcgiio.h"
#include "forward.h"
#include "headers.h"
#include "jsonstr.h"
#include "log.h"
#include "server.h"
#include "xalloc.h"
#include "banned.h"

/* Most bytes of response headers passed on: OpenAI sends ~2 KB, and the
 * front server refuses a backend's header block much past 64 KB. */
#define HEADERS_MAX (32 * 1024)

struct forward_ctx {
	CURL *curl;
	const struct config *cfg;  /* the fixed options were set for it; NULL: not yet */
};

/* State of one call while curl runs it. */
struct exchange {
	FCGX_Request *req;
	CURL *curl;
	const struct config *cfg;
	struct capture *cap;
	long body_left;        /* request body bytes not yet read; -1: length unknown
				* (chunked under nginx), read to the end */
	size_t body_sent;      /* bytes of the held body already given to curl */
	bool too_large;        /* an unknown-length body passed MAX_REQUEST_BODY */
	bool huge_headers;     /* the upstream's header block passed HEADERS_MAX */
	int status;            /* status of the header block being read */
	bool decoded;          /* upstream sent Content-Encoding: curl decodes */
	bool headers_sent;
	bool big_out;          /* the response buffer was made 64 KB */
	bool client_gone;
	bool key_sent;         /* a key header went upstream */
	bool idle_timeout;     /* we ended a transfer the upstream left silent */
	int64_t last_byte_us;  /* when the upstream last sent or took a byte */
	curl_off_t last_dl, last_ul;
	char *connection;      /* the response's Connection header, if any */
	char errbuf[CURL_ERROR_SIZE];
};

struct forward_ctx *forward_ctx_new(void)
{
	struct forward_ctx *fx = xcalloc(1, sizeof(*fx));

	fx->curl = curl_easy_init();
	if (!fx->curl) {
		log_error("curl_easy_init failed");
		abort();
	}
	return fx;
}

void forward_ctx_free(struct forward_ctx *fx)
{
	if (!fx)
		return;
	curl_easy_cleanup(fx->curl);
	free(fx);
}

static double ms_since(int64_t start_us)
{
	return (double)(capture_now_us() - start_us) / 1000.0;
}

/* Writes a complete error response in OpenAI's shape. */
static void send_error(struct exchange *ex, int status, const char *type,
		       const char *code, const char *message)
{
	struct buf out;

	buf_init(&out, BUF_NO_CAP);
	buf_addf(&out, "Status: %d\r\nContent-Type: application/json\r\n", status);
	if (ex->cap)
		buf_addf(&out, "X-Capture-Id: %s\r\n", ex->cap->id);
	buf_adds(&out, "\r\n{\"error\":{\"message\":");
	json_add_string(&out, message, strlen(message));
	buf_addf(&out, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}\n", type, code);
	FCGX_PutStr(out.data, (int)out.len, ex->req->out);
	buf_release(&out);
	ex->headers_sent = true;
	if (ex->cap) {
		ex->cap->status = status;
		capture_set_error(ex->cap, "%s", message);
	}
}

/* Sends the upstream's status and headers, less the ones that must not pass. */
static int send_headers(struct exchange *ex)
{
	const struct buf *h = &ex->cap->resp_headers;
	const char *p = h->data, *end = p ? p + h->len : NULL;
	struct buf out;
	int rc;

	buf_init(&out, BUF_NO_CAP);
	buf_addf(&out, "Status: %d\r\n", ex->status);
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon;

		if (!nl)
			nl = end; /* a line cut by the buffer's cap */
		colon = memchr(p, ':', (size_t)(nl - p));

		if (colon && !hdr_response_drop(p, (size_t)(colon - p), ex->decoded, ex->connection) &&
		    !hdr_value_unsafe(p, (size_t)(nl - p))) {
			buf_add(&out, p, (size_t)(nl - p));
			buf_adds(&out, "\r\n");
		}
		p = nl + 1;
	}
	buf_adds(&out, "X-Capture-Id: ");
	buf_adds(&out, ex->cap->id);
	buf_adds(&out, "\r\n\r\n");
	rc = FCGX_PutStr(out.data, (int)out.len, ex->req->out);
	buf_release(&out);
	ex->headers_sent = true;
	ex->cap->status = ex->status;
	if (rc >= 0 && ex->cap->streamed)
		rc = FCGX_FFlush(ex->req->out);
	return rc < 0 ? -1 : 0;
}

static void header_status_line(struct exchange *ex, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);

	ex->status = 0;
	if (sp && (size_t)(sp - line) + 4 <= len && isdigit((unsigned char)sp[1]) &&
	    isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
		ex->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	/* a 1xx block is followed by the real one: keep only the last */
	buf_reset(&ex->cap->resp_headers);
	free(ex->connection);
	ex->connection = NULL;
	ex->decoded = false;
	ex->cap->streamed = false;
}

static void header_field(struct exchange *ex, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;

	if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
		return;
	nlen = (size_t)(colon - line);
	for (v = colon + 1; v < line + len && (*v == ' ' || *v == '\t'); v++)
		;
	vlen = (size_t)(line + len - v);
	buf_add(&ex->cap->resp_headers, line, nlen);
	buf_adds(&ex->cap->resp_headers, ": ");
	buf_add(&ex->cap->resp_headers, v, vlen);
	buf_addch(&ex->cap->resp_headers, '\n');
	if (nlen == 12 && !strncasecmp(line, "Content-Type", 12)) {
		free(ex->cap->resp_content_type);
		ex->cap->resp_content_type = xmemdupz(v, vlen);
		ex->cap->streamed = memmem(v, vlen, "text/event-stream", 17) != NULL;
	} else if (nlen == 16 && !strncasecmp(line, "Content-Encoding", 16)) {
		ex->decoded = true;
	} else if (nlen == 10 && !strncasecmp(line, "Connection", 10)) {
		free(ex->connection);
		ex->connection = xmemdupz(v, vlen);
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	size_t len = size * n, l = len;

	if (ex->cap->ttfb_ms < 0)
		ex->cap->ttfb_ms = ms_since(ex->cap->started_us);
	while (l && (data[l - 1] == '\n' || data[l - 1] == '\r'))
		l--;
	if (l >= 5 && !memcmp(data, "HTTP/", 5)) {
		header_status_line(ex, data, l);
	} else if (l == 0) {
		/* end of a block: a stream's headers go out at once */
		if (ex->status >= 200 && ex->cap->streamed && !ex->headers_sent &&
		    send_headers(ex) < 0) {
			ex->client_gone = true;
			return 0;
		}
	} else {
		header_field(ex, data, l);
		if (ex->cap->resp_headers.len > HEADERS_MAX) {
			ex->huge_headers = true;
			return 0;
		}
	}
	return len;
}

/* A response that announced its length gets its capture buffer at once. */
static void reserve_response(struct exchange *ex)
{
	curl_off_t len = -1;

	if (curl_easy_getinfo(ex->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK &&
	    len > 0)
		buf_reserve(&ex->cap->resp_body, (size_t)len);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	size_t len = size * n;

	if (!ex->headers_sent && send_headers(ex) < 0)
		goto gone;
	if (!ex->cap->resp_body.alloc)
		reserve_response(ex);
	capture_add_response(ex->cap, data, len);
	/* curl hands over at most 16 KB at a time: a full piece means a big
	 * body, worth fewer, bigger writes */
	if (len >= CURL_MAX_WRITE_SIZE && !ex->big_out) {
		ex->big_out = true;
		if (fcgiio_grow_writer(ex->req) < 0)
			goto gone;
	}
	if (FCGX_PutStr(data, (int)len, ex->req->out) < 0)
		goto gone;
	if (ex->cap->streamed && FCGX_FFlush(ex->req->out) < 0)
		goto gone;
	capture_read_events(ex->cap);
	return len;
gone:
	/* returning short makes curl stop the upstream transfer */
	ex->client_gone = true;
	return 0;
}

/* Streams a body too big to hold: first the part read_body() holds, then
 * the rest straight from the client, teed into the (full) capture buffer,
 * which still counts the true size. */
static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	struct buf *b = &ex->cap->req_body;
	size_t want = size * n;
	int got;

	if (ex->body_sent < b->len) {
		size_t k = b->len - ex->body_sent < want ? b->len - ex->body_sent : want;

		memcpy(dst, b->data + ex->body_sent, k);
		ex->body_sent += k;
		return k;
	}
	if (ex->body_left == 0)
		return 0;
	if (ex->body_left > 0 && (long)want > ex->body_left)
		want = (size_t)ex->body_left;
	got = FCGX_GetStr(dst, (int)want, ex->req->in);
	if (got <= 0 && ex->body_left < 0) {
		ex->body_left = 0;
		return 0;
	}
	if (got <= 0) {
		ex->client_gone = true;
		capture_set_error(ex->cap, "client sent %ld bytes less than its Content-Length",
				  ex->body_left);
		return CURL_READFUNC_ABORT;
	}
	buf_add(b, dst, (size_t)got);
	if (ex->body_left > 0)
		ex->body_left -= got;
	if ((long)b->total > ex->cfg->max_request_body) {
		ex->too_large = true;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

/* curl calls this at least once a second: it ends a transfer the upstream
 * has left silent for UPSTREAM_IDLE_TIMEOUT (curl's own low-speed check
 * averages over a window and fires seconds late). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct exchange *ex = arg;
	int64_t now = capture_now_us();

	(void)dltotal; (void)ultotal;
	/* lighttpd is gone once we are told to stop: nobody reads the reply */
	if (server_stopping())
		return 1;
	if (dlnow != ex->last_dl || ulnow != ex->last_ul || !ex->last_byte_us) {
		ex->last_dl = dlnow;
		ex->last_ul = ulnow;
		ex->last_byte_us = now;
		return 0;
	}
	if (now - ex->last_byte_us >= (int64_t)ex->cfg->upstream_idle_timeout * 1000000) {
		ex->idle_timeout = true;
		return 1;
	}
	return 0;
}

/* Reads the body into the capture until it ends or fills the capture's cap.
 * Returns 1 if it is all held (curl can then resend it, should a kept-alive
 * connection turn out closed), 0 if more remains to be streamed, -1 if the
 * client sent less than it announced or more than MAX_REQUEST_BODY. */
static int read_body(struct exchange *ex)
{
	struct buf *b = &ex->cap->req_body;
	char chunk[65536];

	if (ex->body_left > 0)
		buf_reserve(b, (size_t)ex->body_left);
	while (ex->body_left != 0 && b->len < b->cap) {
		size_t want = b->cap - b->len < sizeof(chunk) ? b->cap - b->len : sizeof(chunk);
		int got;

		if (ex->body_left > 0 && (long)want > ex->body_left)
			want = (size_t)ex->body_left;
		got = FCGX_GetStr(chunk, (int)want, ex->req->in);
		if (got <= 0) {
			if (ex->body_left > 0)
				return -1;
			ex->body_left = 0; /* the end of an unknown-length body */
			break;
		}
		buf_add(b, chunk, (size_t)got);
		if (ex->body_left > 0)
			ex->body_left -= got;
		if ((long)b->total > ex->cfg->max_request_body) {
			ex->too_large = true;
			return -1;
		}
	}
	return ex->body_left == 0 ? 1 : 0;
}

/* Appends one "Name: value" line to the upstream header list. An empty value
 * needs curl's "Name;" form, "Name:" would delete the header. */
static struct curl_slist *add_header(struct curl_slist *list, const char *name,
				     const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char small[512];
	char *line = nl + vl + 3 <= sizeof(small) ? small : xmalloc(nl + vl + 3);
	struct curl_slist *l;

	memcpy(line, name, nl);
	if (vl) {
		memcpy(line + nl, ": ", 2);
		memcpy(line + nl + 2, value, vl + 1);
	} else {
		memcpy(line + nl, ";", 2);
	}
	l = curl_slist_append(list, line);
	if (line != small)
		free(line);
	if (!l)
		abort();
	return l;
}

static void note_key(struct exchange *ex, const char *value)
{
	size_t n;
	const char *key = key_from_auth(value, &n);

	if (ex->cap->has_key || !n)
		return;
	key_hint(key, n, ex->cap->key_hint);
	key_fingerprint(key, n, ex->cap->key_fingerprint);
	ex->cap->has_key = true;
}

static void record_header(struct exchange *ex, const char *name, const char *value)
{
	struct buf *h = &ex->cap->req_headers;

	buf_adds(h, name);
	buf_adds(h, ": ");
	if (ex->cfg->mask_api_key && key_header(name))
		key_mask_value(value, h);
	else
		buf_adds(h, value);
	buf_addch(h, '\n');
}

/* Decides for one client header: recorded always, forwarded unless it is
 * hop-by-hop, ours, or a key that passthrough is off for. */
static struct curl_slist *map_header(struct exchange *ex, struct curl_slist *list,
				     const char *name, const char *value,
				     const char *connection)
{
	record_header(ex, name, value);
	if (!strncasecmp(name, "X-Capture-", 10))
		capture_set_attribution(ex->cap, name, value);
	if (key_header(name) && strcasecmp(name, "Proxy-Authorization")) {
		if (!ex->cfg->passthrough_api_key)
			return list;
		note_key(ex, value);
		ex->key_sent = true;
	} else if (hdr_request_drop(name, connection)) {
		return list;
	}
	return add_header(list, name, value);
}

static struct curl_slist *build_headers(struct exchange *ex)
{
	const char *connection = FCGX_GetParam("HTTP_CONNECTION", ex->req->envp);
	const char *ctype = FCGX_GetParam("CONTENT_TYPE", ex->req->envp);
	struct curl_slist *list = NULL;
	char name[256];
	char **e;

	if (ctype) {
		ex->cap->req_content_type = xstrdup(ctype);
		record_header(ex, "Content-Type", ctype);
	}
	/* curl would add its own Content-Type to a POST without one */
	list = ctype ? add_header(list, "Content-Type", ctype) :
		       curl_slist_append(list, "Content-Type:");
	for (e = ex->req->envp; *e; e++) {
		const char *value = hdr_from_cgi(*e, name, sizeof(name));

		if (value)
			list = map_header(ex, list, name, value, connection);
	}
	if (!ex->key_sent && *ex->cfg->default_api_key) {
		struct buf auth;

		buf_init(&auth, BUF_NO_CAP);
		buf_addf(&auth, "Bearer %s", ex->cfg->default_api_key);
		list = add_header(list, "Authorization", auth.data);
		note_key(ex, auth.data);
		buf_release(&auth);
	}
	list = curl_slist_append(list, "Expect:");
	return list;
}

/* OPENAI_API_BASE + the request URI; a base ending in /v1 takes the URI
 * without its /v1. */
static char *upstream_url(const char *base, const char *uri)
{
	size_t bl = strlen(base);
	struct buf url;

	if (bl >= 3 && !strcmp(base + bl - 3, "/v1") && !strncmp(uri, "/v1", 3))
		uri += 3;
	buf_init(&url, BUF_NO_CAP);
	buf_adds(&url, base);
	buf_adds(&url, uri);
	return buf_detach(&url, NULL);
}

static void set_method(CURL *h, struct exchange *ex, const char *method, bool in_memory)
{
	const struct buf *body = &ex->cap->req_body;
	bool has_body = body->total > 0 || ex->body_left != 0 ||
			!strcmp(method, "POST") || !strcmp(method, "PUT") ||
			!strcmp(method, "PATCH");

	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (!has_body) {
		if (strcmp(method, "GET"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		return;
	}
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (in_memory) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data ? body->data : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	} else {
		/* too big to hold: streamed once, on a fresh connection so curl
		 * never needs to rewind it; chunked when its length is unknown */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, ex->body_left < 0 ? (curl_off_t)-1 :
				 (curl_off_t)(body->len + (size_t)ex->body_left));
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, ex);
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	}
	if (strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/* Options that are the same for every call are set once per handle:
 * curl_easy_reset and ~20 options again on every call were wasted work
 * (and made curl reallocate its two 64 KB buffers each time). */
static void set_fixed_options(struct forward_ctx *fx, const struct config *cfg)
{
	CURL *h = fx->curl;

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)cfg->upstream_connect_timeout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->upstream_timeout);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 65536L);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 65536L);
	fx->cfg = cfg;
}

/* The options of one call. Every option set_method() may change is first
 * set back to its default: the previous call on this handle may have used
 * it (HTTPGET also clears NOBODY; POSTFIELDS goes first as it sets POST). */
static void set_options(struct forward_ctx *fx, struct exchange *ex, const char *url,
			struct curl_slist *headers)
{
	CURL *h = fx->curl;

	if (fx->cfg != ex->cfg)
		set_fixed_options(fx, ex->cfg);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_READDATA, NULL);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 0L);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, ex);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ex);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, ex);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ex->errbuf);
}

/* Maps a failed transfer to what the client is told and the capture says. */
static void classify_failure(struct exchange *ex, CURLcode rc)
{
	struct capture *c = ex->cap;
	const char *why = ex->errbuf[0] ? ex->errbuf : curl_easy_strerror(rc);
	char msg[CURL_ERROR_SIZE + 128];

	if (ex->too_large) {
		c->outcome = OUTCOME_REJECTED;
		send_error(ex, 413, "invalid_request_error", "request_too_large",
			   "capture proxy: request body is larger than MAX_REQUEST_BODY");
		return;
	}
	if (ex->huge_headers) {
		snprintf(ex->errbuf, sizeof(ex->errbuf), "more than %d KB of response headers",
			 HEADERS_MAX / 1024);
		why = ex->errbuf;
		rc = CURLE_WEIRD_SERVER_REPLY;
	} else if (ex->idle_timeout) {
		rc = CURLE_OPERATION_TIMEDOUT;
		snprintf(ex->errbuf, sizeof(ex->errbuf), "no byte for %d s (UPSTREAM_IDLE_TIMEOUT)",
			 ex->cfg->upstream_idle_timeout);
		why = ex->errbuf;
	} else if (ex->client_gone || rc == CURLE_ABORTED_BY_CALLBACK) {
		c->outcome = OUTCOME_CLIENT_ABORTED;
		capture_set_error(c, "%s", server_stopping() ? "proxy shutting down" :
				  "client closed the connection");
		return;
	}
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
		c->outcome = OUTCOME_UNREACHABLE;
		snprintf(msg, sizeof(msg), "capture proxy: cannot reach the upstream API: %s", why);
		if (!ex->headers_sent)
			send_error(ex, 502, "server_error", "upstream_unreachable", msg);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		c->outcome = OUTCOME_TIMEOUT;
		snprintf(msg, sizeof(msg), "capture proxy: the upstream API timed out: %s", why);
		if (!ex->headers_sent)
			send_error(ex, 504, "server_error", "upstream_timeout", msg);
		break;
	default:
		c->outcome = OUTCOME_UPSTREAM_ERROR;
		snprintf(msg, sizeof(msg), "capture proxy: bad response from the upstream API: %s", why);
		if (!ex->headers_sent)
			send_error(ex, 502, "server_error", "upstream_bad_response", msg);
	}
	capture_set_error(c, "%s", msg);
}

static void fill_request_info(struct exchange *ex, const char *uri)
{
	struct capture *c = ex->cap;
	const char *q = strchr(uri, '?');
	const char *addr = FCGX_GetParam("REMOTE_ADDR", ex->req->envp);
	const char *method = FCGX_GetParam("REQUEST_METHOD", ex->req->envp);

	c->method = xstrdup(method ? method : "GET");
	c->client_addr = xstrdup(addr);
	c->path = q ? xmemdupz(uri, (size_t)(q - uri)) : xstrdup(uri);
	if (q && q[1]) {
		struct buf b;

		buf_init(&b, BUF_NO_CAP);
		if (ex->cfg->mask_api_key)
			key_mask_query(q + 1, &b);
		else
			buf_adds(&b, q + 1);
		c->query = buf_detach(&b, NULL);
	}
}

static long content_length(FCGX_Request *req)
{
	const char *s = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	char *end;
	long n;

	if (!s || !*s)
		return -1; /* nginx passes a chunked body with an empty CONTENT_LENGTH */
	errno = 0;
	n = strtol(s, &end, 10);
	return (errno || *end || n < 0) ? -1 : n;
}

static bool proxied_path(const char *uri)
{
	return !strncmp(uri, "/v1", 3) && (uri[3] == '/' || uri[3] == '?' || !uri[3]);
}

/* Runs the transfer and settles what the client got and the capture says. */
static void relay(struct forward_ctx *fx, struct exchange *ex, const char *uri,
		  struct curl_slist *headers)
{
	struct capture *c = ex->cap;
	int held = read_body(ex);
	bool was_sent;
	char *url = upstream_url(ex->cfg->openai_api_base, uri);
	CURLcode rc;

	if (held < 0 && ex->too_large) {
		classify_failure(ex, CURLE_OK);
		goto out;
	}
	if (held < 0) {
		c->outcome = OUTCOME_CLIENT_ABORTED;
		capture_set_error(c, "client sent less than its Content-Length");
		goto out;
	}
	if (!held && ex->body_left < 0)
		headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
	set_options(fx, ex, url, headers);
	set_method(fx->curl, ex, c->method, held == 1);
	rc = curl_easy_perform(fx->curl);
	if (rc == CURLE_OK) {
		if (!ex->headers_sent && send_headers(ex) < 0)
			ex->client_gone = true;
		c->outcome = ex->status >= 400 ? OUTCOME_UPSTREAM_ERROR : OUTCOME_COMPLETED;
		if (ex->client_gone)
			c->outcome = OUTCOME_CLIENT_ABORTED;
	} else {
		was_sent = ex->headers_sent;
		classify_failure(ex, rc);
		if (was_sent && c->outcome != OUTCOME_CLIENT_ABORTED) {
			/* the response is cut: close without END_REQUEST so lighttpd
			 * cuts the client's connection too instead of ending cleanly */
			FCGX_FFlush(ex->req->out);
			FCGX_Free(ex->req, 1);
		}
	}
out:
	free(url);
}

struct capture *forward_request(struct forward_ctx *fx, FCGX_Request *req,
				const struct config *cfg)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
	struct curl_slist *headers;
	struct exchange ex;

	memset(&ex, 0, sizeof(ex));
	ex.req = req;
	ex.curl = fx->curl;
	ex.cfg = cfg;
	if (!uri || !proxied_path(uri)) {
		send_error(&ex, 404, "invalid_request_error", "unknown_url",
			   "capture proxy: only /v1/... is forwarded to the OpenAI API");
		return NULL;
	}
	ex.cap = capture_new((size_t)cfg->capture_body_max);
	ex.body_left = content_length(req);
	fill_request_info(&ex, uri);
	headers = build_headers(&ex);
	if (ex.body_left > cfg->max_request_body) {
		ex.cap->req_body.total = (size_t)ex.body_left;
		ex.cap->req_body.truncated = true;
		ex.cap->outcome = OUTCOME_REJECTED;
		send_error(&ex, 413, "invalid_request_error", "request_too_large",
			   "capture proxy: request body is larger than MAX_REQUEST_BODY");
	} else {
		relay(fx, &ex, uri, headers);
	}
	curl_slist_free_all(headers);
	free(ex.connection);
	/* the client has every byte now; only the end of the response waits */
	if (ex.req->out)
		FCGX_FFlush(ex.req->out);
	/* having read the body's end mark lets server_finish close at once */
	if (ex.body_left == 0)
		fcgiio_read_end(req);
	ex.cap->duration_ms = ms_since(ex.cap->started_us);
	return ex.cap;
}
