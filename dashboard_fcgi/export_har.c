/* export_har.c - captures as an HTTP Archive (HAR 1.2) log, one entry per
 * capture, written entry by entry: the calls as the proxy forwarded them
 * to OPENAI_API_BASE, readable by browsers' network panels and HAR viewers. */
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "jsonparse.h"
#include "pgjson.h"
#include "query.h"
#include "reply.h"
#include "banned.h"

static const char *status_text(long long status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

static void key_string(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_cstring(w, s);
}

static void name_value(struct jw *w, const char *name, size_t nn, const char *value, size_t vn)
{
	jw_object_begin(w);
	jw_key(w, "name");
	jw_string(w, name, nn);
	jw_key(w, "value");
	jw_string(w, value, vn);
	jw_object_end(w);
}

/* Element i of a JSON array, or NULL when o is no array: json-c's own
 * accessor aborts the process on anything else. */
static json_object *array_item(json_object *o, size_t i)
{
	return json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, i) : NULL;
}

/* The stored [[name, value], ...] as [{"name", "value"}, ...]; entries of
 * another shape (a row not written by the proxy) are skipped. */
static void write_headers(struct jw *w, const PGresult *row, int col)
{
	const char *s = export_text(row, col);
	json_object *list = s ? json_parse_bytes(s, (size_t)PQgetlength(row, 0, col)) : NULL;
	size_t i, n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;

	jw_key(w, "headers");
	jw_array_begin(w);
	for (i = 0; i < n; i++) {
		json_object *h = array_item(list, i);
		json_object *name = array_item(h, 0), *value = array_item(h, 1);

		if (!name || !value)
			continue;
		name_value(w, json_object_get_string(name), (size_t)json_object_get_string_len(name),
			   json_object_get_string(value), (size_t)json_object_get_string_len(value));
	}
	jw_array_end(w);
	json_object_put(list);
}

/* Pairs split as they are, for a query that does not %-decode. */
static void write_raw_pairs(struct jw *w, const char *p)
{
	const char *amp, *eq, *value;

	while (*p) {
		amp = strchr(p, '&');
		amp = amp ? amp : p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		value = eq ? eq + 1 : amp;
		name_value(w, p, (size_t)((eq ? eq : amp) - p), value, (size_t)(amp - value));
		p = *amp ? amp + 1 : amp;
	}
}

/* The query's pairs, %-decoded. */
static void write_query_string(struct jw *w, const char *query)
{
	struct qstring qs;
	char err[128];
	int i;

	jw_key(w, "queryString");
	jw_array_begin(w);
	if (query && qs_parse(&qs, query, err, sizeof(err)) == 0) {
		for (i = 0; i < qs.n; i++)
			name_value(w, qs.p[i].name, strlen(qs.p[i].name), qs.p[i].value, qs.p[i].len);
	} else if (query) {
		write_raw_pairs(w, query);
	}
	if (query)
		qs_release(&qs);
	jw_array_end(w);
}

/* OPENAI_API_BASE + path (+ ?query), joined as proxy_fcgi joins them: a
 * base ending in /v1 takes the path without its /v1. */
static void write_url(struct jw *w, const char *base, const PGresult *row)
{
	const char *path = export_text(row, XC_PATH), *query = export_text(row, XC_QUERY);
	size_t bl = strlen(base);

	if (bl >= 3 && !strcmp(base + bl - 3, "/v1") && !strncmp(path, "/v1", 3))
		path += 3;
	jw_key(w, "url");
	jw_string_begin(w);
	jw_string_part(w, base, bl);
	jw_string_part(w, path, strlen(path));
	if (query) {
		jw_string_part(w, "?", 1);
		jw_string_part(w, query, strlen(query));
	}
	jw_string_end(w);
}

/* The body's text, or its bytes in base64 with the encoding named
 * (postData has no encoding field: "_encoding" there). */
static void write_body_text(struct jw *w, const PGresult *row, int text, int b64,
			    const char *encoding_key)
{
	if (!PQgetisnull(row, 0, text)) {
		pj_key_text(w, "text", row, 0, text);
	} else if (!PQgetisnull(row, 0, b64)) {
		pj_key_text(w, "text", row, 0, b64);
		key_string(w, encoding_key, "base64");
	}
}

static void write_cut_comment(struct jw *w, const PGresult *row, int truncated)
{
	if (export_text(row, truncated)[0] == 't')
		key_string(w, "comment", "body cut at CAPTURE_BODY_MAX: text holds the start only");
}

static void write_post_data(struct jw *w, const PGresult *row)
{
	const char *type = export_text(row, XC_REQ_TYPE);

	if (pj_long(row, 0, XC_REQ_SIZE, 0) == 0 && PQgetisnull(row, 0, XC_REQ_BODY))
		return;
	jw_key(w, "postData");
	jw_object_begin(w);
	key_string(w, "mimeType", type ? type : "");
	write_body_text(w, row, XC_REQ_BODY, XC_REQ_BODY_B64, "_encoding");
	if (PQgetisnull(row, 0, XC_REQ_BODY) && PQgetisnull(row, 0, XC_REQ_BODY_B64))
		key_string(w, "text", "");
	write_cut_comment(w, row, XC_REQ_TRUNCATED);
	jw_object_end(w);
}

static void write_request(struct jw *w, const PGresult *row, const char *base)
{
	jw_key(w, "request");
	jw_object_begin(w);
	pj_key_text(w, "method", row, 0, XC_METHOD);
	write_url(w, base, row);
	key_string(w, "httpVersion", "HTTP/1.1");
	jw_key(w, "cookies");
	jw_raw(w, "[]", 2);
	write_headers(w, row, XC_REQ_HEADERS);
	write_query_string(w, export_text(row, XC_QUERY));
	write_post_data(w, row);
	jw_key(w, "headersSize");
	jw_int(w, -1);
	pj_key_int(w, "bodySize", row, 0, XC_REQ_SIZE);
	jw_object_end(w);
}

static void write_content(struct jw *w, const PGresult *row)
{
	const char *type = export_text(row, XC_RESP_TYPE);

	jw_key(w, "content");
	jw_object_begin(w);
	pj_key_int(w, "size", row, 0, XC_RESP_SIZE);
	key_string(w, "mimeType", type ? type : "x-unknown");
	write_body_text(w, row, XC_RESP_BODY, XC_RESP_BODY_B64, "encoding");
	write_cut_comment(w, row, XC_RESP_TRUNCATED);
	jw_object_end(w);
}

static void write_response(struct jw *w, const PGresult *row)
{
	long long status = pj_long(row, 0, XC_STATUS, 0);

	jw_key(w, "response");
	jw_object_begin(w);
	jw_key(w, "status");
	jw_int(w, status);
	key_string(w, "statusText", status_text(status));
	key_string(w, "httpVersion", "HTTP/1.1");
	jw_key(w, "cookies");
	jw_raw(w, "[]", 2);
	write_headers(w, row, XC_RESP_HEADERS);
	write_content(w, row);
	key_string(w, "redirectURL", "");
	jw_key(w, "headersSize");
	jw_int(w, -1);
	pj_key_int(w, "bodySize", row, 0, XC_RESP_SIZE);
	jw_object_end(w);
}

/* ms to the microsecond, as measured: no float noise in the file. */
static double to_us(double ms)
{
	return (double)(long long)(ms * 1000 + 0.5) / 1000;
}

/* A duration column in ms; 0 if NULL. */
static double col_ms(const PGresult *row, int col)
{
	const char *v = export_text(row, col);
	char *end;
	double d = v ? strtod(v, &end) : 0;

	return v && !*end && d > 0 ? to_us(d) : 0;
}

/* time = wait (to the first byte) + receive (the rest); what the proxy
 * cannot see (DNS, connect, send) is -1 or 0 as HAR asks. */
static void write_timings(struct jw *w, const PGresult *row)
{
	double total = col_ms(row, XC_DURATION), wait = col_ms(row, XC_TTFB);

	if (PQgetisnull(row, 0, XC_TTFB) || wait > total)
		wait = total;
	jw_key(w, "time");
	jw_double(w, total);
	jw_key(w, "cache");
	jw_raw(w, "{}", 2);
	jw_key(w, "timings");
	jw_object_begin(w);
	jw_key(w, "blocked");
	jw_int(w, -1);
	jw_key(w, "dns");
	jw_int(w, -1);
	jw_key(w, "connect");
	jw_int(w, -1);
	jw_key(w, "send");
	jw_int(w, 0);
	jw_key(w, "wait");
	jw_double(w, wait);
	jw_key(w, "receive");
	jw_double(w, to_us(total - wait));
	jw_key(w, "ssl");
	jw_int(w, -1);
	jw_object_end(w);
}

/* What HAR has no field for. */
static void write_capture(struct jw *w, const PGresult *row)
{
	const char *tags = export_text(row, XC_TAGS);
	json_object *t = tags ? json_parse_bytes(tags, strlen(tags)) : NULL;

	jw_key(w, "_capture");
	jw_object_begin(w);
	pj_key_text(w, "id", row, 0, XC_ID);
	pj_key_text(w, "instance", row, 0, XC_INSTANCE);
	pj_key_text(w, "outcome", row, 0, XC_OUTCOME);
	pj_key_text(w, "error", row, 0, XC_ERROR);
	pj_key_text(w, "model", row, 0, XC_MODEL);
	pj_key_bool(w, "streamed", row, 0, XC_STREAMED);
	pj_key_int(w, "prompt_tokens", row, 0, XC_PROMPT_TOKENS);
	pj_key_int(w, "completion_tokens", row, 0, XC_COMPLETION_TOKENS);
	pj_key_float(w, "cost_usd", row, 0, XC_COST);
	pj_key_float(w, "ttfb_ms", row, 0, XC_TTFB);
	pj_key_text(w, "key_hint", row, 0, XC_KEY_HINT);
	pj_key_text(w, "user", row, 0, XC_USER);
	pj_key_text(w, "session", row, 0, XC_SESSION);
	jw_key(w, "tags");
	export_json_value(w, t);
	pj_key_text(w, "end_user", row, 0, XC_END_USER);
	jw_object_end(w);
	json_object_put(t);
}

static bool har_row(struct export_out *o, const PGresult *row)
{
	struct jw *w = &o->w;

	jw_object_begin(w);
	pj_key_text(w, "startedDateTime", row, 0, XC_STARTED_MS);
	write_timings(w, row);
	write_request(w, row, o->r->app->cfg.openai_api_base);
	write_response(w, row);
	write_capture(w, row);
	jw_object_end(w);
	reply_write(o->r, "\n", 1);
	return true;
}

static void har_begin(struct export_out *o)
{
	struct jw *w = &o->w;

	jw_init(w, reply_sink, o->r);
	jw_object_begin(w);
	jw_key(w, "log");
	jw_object_begin(w);
	key_string(w, "version", "1.2");
	jw_key(w, "creator");
	jw_object_begin(w);
	key_string(w, "name", "openai-capture-proxy");
	key_string(w, "version", "1.0");
	jw_object_end(w);
	jw_key(w, "pages");
	jw_raw(w, "[]", 2);
	jw_key(w, "entries");
	jw_array_begin(w);
	reply_write(o->r, "\n", 1);
}

static void har_end(struct export_out *o)
{
	jw_array_end(&o->w);
	jw_object_end(&o->w);
	jw_object_end(&o->w);
	reply_write(o->r, "\n", 1);
}

const struct export_format export_har = {
	.name = "har", .ext = "har", .content_type = "application/json; charset=utf-8",
	.headers = true, .bodies = true, .bodies_b64 = true,
	.begin = har_begin, .row = har_row, .end = har_end,
};
