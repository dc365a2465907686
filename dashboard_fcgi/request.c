/* request.c - GET /api/request/{id} and the raw body downloads. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "events.h"
#include "jsonv.h"
#include "jsonw.h"
#include "pg.h"
#include "pgjson.h"
#include "queries.h"
#include "reply.h"
#include "uuid.h"
#include "banned.h"

/* The columns that describe one body in a detail row. */
struct body_cols {
	int headers, type, text, bin_size, size, truncated;
	bool response;
};

static const struct body_cols request_cols = {
	DC_REQ_HEADERS, DC_REQ_TYPE, DC_REQ_BODY, DC_REQ_BIN_SIZE, DC_REQ_SIZE,
	DC_REQ_TRUNCATED, false
};
static const struct body_cols response_cols = {
	DC_RESP_HEADERS, DC_RESP_TYPE, DC_RESP_BODY, DC_RESP_BIN_SIZE, DC_RESP_SIZE,
	DC_RESP_TRUNCATED, true
};

/* Builds the detail or a body query for id (queries_detail, queries_body). */
typedef void (*id_query_fn)(struct sqlq *q, const char *id, int64_t around_ms, bool response);

/* Runs build's query with the id's time as a partition bound, then, if
 * nothing was found, once more over every partition. Returns the row, or
 * NULL after answering r (404 when there is no such capture). */
static PGresult *find(struct req *r, const char *id, id_query_fn build, bool response,
		      bool binary)
{
	int64_t ms = uuid_v7_time(id);
	PGresult *res = NULL;
	struct sqlq q;

	sqlq_init(&q);
	build(&q, id, ms, response);
	res = pg_run(r, &q, binary);
	sqlq_release(&q);
	if (res && PQntuples(res) == 0 && ms >= 0) {
		PQclear(res);
		sqlq_init(&q);
		build(&q, id, -1, response);
		res = pg_run(r, &q, binary);
		sqlq_release(&q);
	}
	if (res && PQntuples(res) == 0) {
		PQclear(res);
		res = NULL;
		reply_not_found(r, "no capture with this id");
	}
	return res;
}

static void build_detail(struct sqlq *q, const char *id, int64_t around_ms, bool response)
{
	(void)response;
	queries_detail(q, id, around_ms);
}

static void event_piece(void *ctx, const char *p, size_t n)
{
	jw_string_part(ctx, p, n);
}

static void write_event(void *ctx, const char *name, size_t name_len,
			const char *block, size_t block_len)
{
	struct jw *w = ctx;

	jw_object_begin(w);
	jw_key(w, "event");
	if (name)
		jw_string(w, name, name_len);
	else
		jw_null(w);
	jw_key(w, "data");
	jw_string_begin(w);
	events_data(block, block_len, event_piece, w);
	jw_string_end(w);
	jw_object_end(w);
}

static bool is_sse(const PGresult *res, const struct body_cols *c)
{
	const char *type = PQgetvalue(res, 0, c->type);

	return c->response && (PQgetvalue(res, 0, DC_STREAMED)[0] == 't' ||
			       !strncasecmp(type, "text/event-stream", 17));
}

/* "format" and "body": json as JSON, sse and text as a string, binary as
 * nothing here (its size and download link say the rest). */
static void write_body_value(struct jw *w, const PGresult *res, const struct body_cols *c)
{
	const char *text = PQgetvalue(res, 0, c->text);
	size_t n = (size_t)PQgetlength(res, 0, c->text);
	const char *format = "text";

	if (!PQgetisnull(res, 0, c->bin_size))
		format = "binary";
	else if (PQgetisnull(res, 0, c->text))
		format = pj_long(res, 0, c->size, 0) > 0 ? "omitted" : "empty";
	else if (is_sse(res, c))
		format = "sse";
	else if (jsonv_valid(text, n))
		format = "json";
	jw_key(w, "format");
	jw_cstring(w, format);
	jw_key(w, "body");
	if (!strcmp(format, "json"))
		jw_raw(w, text, n);
	else if (!strcmp(format, "text") || !strcmp(format, "sse"))
		jw_string(w, text, n);
	else
		jw_null(w);
	if (!strcmp(format, "sse")) {
		jw_key(w, "events");
		jw_array_begin(w);
		events_split(text, n, write_event, w);
		jw_array_end(w);
	}
}

static void write_body(struct jw *w, const PGresult *res, const struct body_cols *c,
		       const char *id)
{
	bool stored = !PQgetisnull(res, 0, c->text) || !PQgetisnull(res, 0, c->bin_size);
	char url[128];

	jw_object_begin(w);
	jw_key(w, "headers");
	jw_raw(w, PQgetvalue(res, 0, c->headers), (size_t)PQgetlength(res, 0, c->headers));
	pj_key_text(w, "content_type", res, 0, c->type);
	pj_key_int(w, "size", res, 0, c->size);
	jw_key(w, "stored_size");
	jw_int(w, !PQgetisnull(res, 0, c->bin_size) ? pj_long(res, 0, c->bin_size, 0) :
		  (long long)PQgetlength(res, 0, c->text));
	pj_key_bool(w, "truncated", res, 0, c->truncated);
	write_body_value(w, res, c);
	jw_key(w, "download_url");
	snprintf(url, sizeof(url), "/api/request/%s/body/%s", id,
		 c->response ? "response" : "request");
	jw_cstring(w, stored ? url : NULL);
	jw_object_end(w);
}

static void write_detail(struct jw *w, const PGresult *res)
{
	const char *id = PQgetvalue(res, 0, DC_ID);

	jw_object_begin(w);
	pj_key_text(w, "id", res, 0, DC_ID);
	pj_key_text(w, "timestamp", res, 0, DC_TIMESTAMP);
	pj_key_text(w, "ended_at", res, 0, DC_ENDED);
	pj_key_text(w, "method", res, 0, DC_METHOD);
	pj_key_text(w, "path", res, 0, DC_PATH);
	pj_key_text(w, "query", res, 0, DC_QUERY);
	pj_key_int(w, "status", res, 0, DC_STATUS);
	pj_key_text(w, "outcome", res, 0, DC_OUTCOME);
	pj_key_text(w, "error", res, 0, DC_ERROR);
	pj_key_float(w, "ttfb_ms", res, 0, DC_TTFB);
	pj_key_float(w, "duration_ms", res, 0, DC_DURATION);
	pj_key_text(w, "model", res, 0, DC_MODEL);
	pj_key_bool(w, "streamed", res, 0, DC_STREAMED);
	pj_key_int(w, "sse_events", res, 0, DC_SSE_EVENTS);
	pj_key_text(w, "finish_reason", res, 0, DC_FINISH_REASON);
	pj_key_usage(w, res, 0, DC_PROMPT_TOKENS);
	pj_key_text(w, "reply_text", res, 0, DC_REPLY);
	pj_key_text(w, "key_hint", res, 0, DC_KEY_HINT);
	pj_key_text(w, "key_fingerprint", res, 0, DC_KEY_FINGERPRINT);
	pj_key_text(w, "client_addr", res, 0, DC_CLIENT_ADDR);
	pj_key_text(w, "instance", res, 0, DC_INSTANCE);
	pj_key_text(w, "user", res, 0, DC_USER);
	pj_key_text(w, "session", res, 0, DC_SESSION);
	pj_key_text_array(w, "tags", res, 0, DC_TAGS);
	pj_key_text(w, "end_user", res, 0, DC_END_USER);
	pj_key_float(w, "cost_usd", res, 0, DC_COST_USD);
	jw_key(w, "request");
	write_body(w, res, &request_cols, id);
	jw_key(w, "response");
	write_body(w, res, &response_cols, id);
	jw_object_end(w);
}

void api_request(struct req *r, const char *id)
{
	PGresult *res = NULL;
	struct jw w;

	if (!uuid_valid(id)) {
		reply_not_found(r, "no capture with this id (ids are UUIDs)");
		goto out;
	}
	res = find(r, id, build_detail, false, false);
	if (!res)
		goto out;
	reply_start(r, 200, "application/json; charset=utf-8", REPLY_NO_STORE, NULL);
	jw_init(&w, reply_sink, r);
	write_detail(&w, res);
	reply_write(r, "\n", 1);
out:
	PQclear(res);
}

/* A content type safe to send back: printable, one line, and never a type a
 * browser would run (HTML, SVG, XML, scripts) - those go as octet-stream. */
static void safe_content_type(const char *type, int n, char *out, size_t outlen)
{
	static const char *const active[] = { "html", "xml", "svg", "script", NULL };
	bool ok = n > 0 && (size_t)n < outlen;
	int i;

	for (i = 0; ok && i < n; i++)
		if (!isprint((unsigned char)type[i]))
			ok = false;
	if (ok)
		snprintf(out, outlen, "%.*s", n, type);
	for (i = 0; ok && active[i]; i++)
		if (strcasestr(out, active[i]))
			ok = false;
	if (!ok)
		snprintf(out, outlen, "application/octet-stream");
}

static const char *extension(const char *type)
{
	if (strcasestr(type, "json"))
		return "json";
	if (strcasestr(type, "event-stream"))
		return "sse.txt";
	if (!strncasecmp(type, "text/", 5))
		return "txt";
	if (!strncasecmp(type, "audio/mpeg", 10))
		return "mp3";
	if (!strncasecmp(type, "audio/wav", 9) || !strncasecmp(type, "audio/x-wav", 11))
		return "wav";
	if (!strncasecmp(type, "image/png", 9))
		return "png";
	if (!strncasecmp(type, "image/jpeg", 10))
		return "jpg";
	return "bin";
}

static void build_body(struct sqlq *q, const char *id, int64_t around_ms, bool response)
{
	queries_body(q, id, around_ms, response);
}

/* Sends the bytes as an attachment under a sandboxing policy: a captured
 * HTML page must never render on the dashboard's origin. */
static void send_body(struct req *r, const PGresult *res, const char *id, bool response)
{
	char type[256], headers[512];
	int len = PQgetlength(res, 0, BC_BYTES);

	safe_content_type(PQgetvalue(res, 0, BC_CONTENT_TYPE),
			  PQgetisnull(res, 0, BC_CONTENT_TYPE) ? 0 :
			  PQgetlength(res, 0, BC_CONTENT_TYPE), type, sizeof(type));
	snprintf(headers, sizeof(headers),
		 "Content-Disposition: attachment; filename=\"capture-%.36s-%s.%s\"\r\n"
		 "Content-Security-Policy: default-src 'none'; sandbox\r\n"
		 "Content-Length: %d\r\n",
		 id, response ? "response" : "request", extension(type), len);
	reply_start(r, 200, type, REPLY_NO_STORE, headers);
	reply_write(r, PQgetvalue(res, 0, BC_BYTES), (size_t)len);
}

void api_request_body(struct req *r, const char *id, bool response)
{
	PGresult *res = NULL;

	if (!uuid_valid(id)) {
		reply_not_found(r, "no capture with this id (ids are UUIDs)");
		goto out;
	}
	res = find(r, id, build_body, response, true);
	if (!res)
		goto out;
	if (PQgetisnull(res, 0, BC_BYTES)) {
		reply_not_found(r, response ? "this capture stored no response body" :
				"this capture stored no request body");
		goto out;
	}
	send_body(r, res, id, response);
out:
	PQclear(res);
}
