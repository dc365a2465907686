/* fuzz_headers.c - header mapping, hop-by-hop filtering and the header JSON on hostile bytes.
 *
 * The input is a list of lines. The first line is the request's Connection
 * header; every line is also a CGI param as lighttpd would pass it
 * ("HTTP_NAME=value", the prefix added when missing). Properties:
 * hdr_from_cgi never writes past outlen and returns the value after the first
 * '='; the drop decisions agree with a plain reading of RFC 9110 7.6.1;
 * hdr_value_unsafe finds every CR, LF and NUL; and capture_headers_json, on
 * the raw lines and on the lines forward.c would record, is one valid JSON
 * array of [name, value] string pairs with no NUL, as jsonb demands; and the
 * X-Capture-User, -Session and -Tags values (every line is tried as each)
 * are kept as short text and a well-formed PostgreSQL array literal. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "capture.h"
#include "headers.h"
#include "utf8.h"
#include "fuzz.h"
#include "banned.h"

static const char *const hop_by_hop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "TE", "Trailer", "Trailers", "Transfer-Encoding",
	"Upgrade", NULL
};

static const char *const curl_owned[] = {
	"Host", "Content-Length", "Expect", "Accept-Encoding", NULL
};

static bool listed(const char *name, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && !strncasecmp(name, *list, len))
			return true;
	return false;
}

/* Reference for "the Connection header names name[0..n)": comma-separated
 * tokens, optional whitespace around them. */
static bool connection_names(const char *conn, const char *name, size_t n)
{
	size_t len;

	while (conn && *conn) {
		while (*conn == ' ' || *conn == '\t' || *conn == ',')
			conn++;
		len = strcspn(conn, " \t,");
		if (len && len == n && !strncasecmp(conn, name, n))
			return true;
		conn += len;
	}
	return false;
}

/* A response header name is bytes with a length, as forward.c passes it
 * (the rest of the line follows it, no NUL). */
static void check_response_drop(const char *name, size_t len, const char *conn)
{
	bool hop = listed(name, len, hop_by_hop) || (len == 6 && !strncasecmp(name, "Status", 6));
	bool decoded_only = (len == 14 && !strncasecmp(name, "Content-Length", 14)) ||
			    (len == 16 && !strncasecmp(name, "Content-Encoding", 16));
	bool named = connection_names(conn, name, len);

	FUZZ_CHECK(hdr_response_drop(name, len, false, NULL) == hop);
	FUZZ_CHECK(hdr_response_drop(name, len, true, NULL) == (hop || decoded_only));
	FUZZ_CHECK(hdr_response_drop(name, len, false, conn) == (hop || named));
	FUZZ_CHECK(hdr_response_drop(name, len, true, conn) == (hop || decoded_only || named));
}

static void check_request_drop(const char *name, const char *conn)
{
	size_t len = strlen(name);
	bool always = listed(name, len, hop_by_hop) || listed(name, len, curl_owned) ||
		      !strncasecmp(name, "X-Capture-", 10);

	FUZZ_CHECK(hdr_request_drop(name, conn) == (always || connection_names(conn, name, len)));
	FUZZ_CHECK(hdr_request_drop(name, NULL) == always);
	check_response_drop(name, len, conn);
}

static bool unsafe_ref(const char *v, size_t n)
{
	return memchr(v, '\r', n) || memchr(v, '\n', n) || memchr(v, '\0', n);
}

/* Attribution values are short text; tags a PostgreSQL array literal of
 * quoted, trimmed, non-empty elements: {"a","b \\"c\\""}. */
static void check_attribution(const struct capture *c)
{
	const char *p = c->tags;

	if (c->user)
		FUZZ_CHECK(strlen(c->user) <= 200 && utf8_is_text(c->user, strlen(c->user)));
	if (c->session)
		FUZZ_CHECK(strlen(c->session) <= 200 &&
			   utf8_is_text(c->session, strlen(c->session)));
	if (!p)
		return;
	FUZZ_CHECK(utf8_is_text(p, strlen(p)));
	FUZZ_CHECK(*p++ == '{');
	while (*p == '"') {
		const char *start = ++p;

		while (*p && *p != '"')
			p += *p == '\\' && p[1] ? 2 : 1;
		FUZZ_CHECK(*p == '"' && p > start);
		FUZZ_CHECK(*start != ' ' && *start != '\t');
		FUZZ_CHECK(p[-1] != ' ' && p[-1] != '\t');
		p++;
		if (*p == ',')
			FUZZ_CHECK(*++p == '"');
	}
	FUZZ_CHECK(*p == '}' && p[1] == '\0');
}

/* Maps one CGI param with an out buffer of exactly outlen bytes (so ASan
 * sees any overrun) and records the header as forward.c does. */
static void map_param(const char *param, size_t outlen, const char *conn,
		      struct buf *lines, struct capture *c)
{
	char *out = malloc(outlen);
	const char *value, *eq;

	FUZZ_CHECK(out != NULL);
	value = hdr_from_cgi(param, out, outlen);
	eq = strncmp(param, "HTTP_", 5) ? NULL : strchr(param + 5, '=');
	if (!eq || eq == param + 5 || (size_t)(eq - param - 5) + 1 > outlen) {
		FUZZ_CHECK(value == NULL);
		goto out;
	}
	FUZZ_CHECK(value == eq + 1);
	FUZZ_CHECK(strlen(out) == (size_t)(eq - param - 5));
	FUZZ_CHECK(!strchr(out, '_') && !strchr(out, '='));
	FUZZ_CHECK(hdr_value_unsafe(value, strlen(value)) == unsafe_ref(value, strlen(value)));
	check_request_drop(out, conn);
	capture_set_attribution(c, out, value);
	check_attribution(c);
	buf_adds(lines, out);
	buf_adds(lines, ": ");
	buf_adds(lines, value);
	buf_addch(lines, '\n');
out:
	free(out);
}

/* Lines of lines[0..n) that capture_headers_json turns into a pair; each
 * one's name also goes through the response filter (conn may be NULL). */
static size_t pairs_ref(const char *p, size_t n, const char *conn)
{
	size_t count = 0, len;
	const char *nl, *colon;

	while (n) {
		nl = memchr(p, '\n', n);
		len = nl ? (size_t)(nl - p) : n;
		colon = memchr(p, ':', len);
		if (colon) {
			count++;
			/* forward.c records no header with an empty name */
			if (conn && colon > p)
				check_response_drop(p, (size_t)(colon - p), conn);
		}
		if (!nl)
			break;
		p += len + 1;
		n -= len + 1;
	}
	return count;
}

static void check_headers_json(const struct buf *lines, const char *conn)
{
	struct buf out;
	json_object *o, *pair;
	size_t i, n;

	buf_init(&out, BUF_NO_CAP);
	capture_headers_json(lines, &out);
	fuzz_check_buf(&out);
	FUZZ_CHECK(utf8_is_text(out.data, out.len));
	fuzz_check_json_escapes(out.data, out.len);
	o = fuzz_json_parse(out.data, out.len);
	FUZZ_CHECK(o && json_object_is_type(o, json_type_array));
	n = json_object_array_length(o);
	FUZZ_CHECK(n == pairs_ref(lines->data, lines->len, conn));
	for (i = 0; i < n; i++) {
		pair = json_object_array_get_idx(o, i);
		FUZZ_CHECK(json_object_is_type(pair, json_type_array));
		FUZZ_CHECK(json_object_array_length(pair) == 2);
		fuzz_check_json_string(json_object_array_get_idx(pair, 0));
		fuzz_check_json_string(json_object_array_get_idx(pair, 1));
	}
	json_object_put(o);
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t outlens[] = { 1, 2, 3, 6, 7, 11, 16, 256 };
	static const char *const attribution[] = {
		"X-Capture-User", "X-Capture-Session", "X-Capture-Tags"
	};
	struct capture *c = capture_new(0);
	uint64_t rng = fuzz_hash(data, size);
	const char *s = (const char *)data, *end = s + size, *nl;
	char *conn = NULL, *line;
	struct buf raw, mapped, param;
	size_t len;

	/* as capture_new leaves them: nothing allocated until a header comes */
	buf_init(&raw, 256 * 1024);
	buf_init(&mapped, 256 * 1024);
	buf_init(&param, BUF_NO_CAP);
	if (size)
		buf_add(&raw, data, size);
	for (; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		len = (size_t)(nl - s);
		/* a CGI param is a C string: it ends at a NUL */
		line = strndup(s, len);
		FUZZ_CHECK(line != NULL);
		FUZZ_CHECK(hdr_value_unsafe(s, len) == unsafe_ref(s, len));
		if (!conn) {
			conn = line;
			continue;
		}
		map_param(line, fuzz_pick(&rng, outlens, sizeof(outlens) / sizeof(outlens[0])),
			  conn, &mapped, c);
		buf_reset(&param);
		buf_adds(&param, "HTTP_");
		buf_adds(&param, line);
		map_param(param.data, fuzz_pick(&rng, outlens, sizeof(outlens) / sizeof(outlens[0])),
			  conn, &mapped, c);
		capture_set_attribution(c, attribution[fuzz_next(&rng) % 3], line);
		check_attribution(c);
		free(line);
	}
	check_headers_json(&raw, conn);
	check_headers_json(&mapped, NULL);
	free(conn);
	capture_free(c);
	buf_release(&raw);
	buf_release(&mapped);
	buf_release(&param);
	return 0;
}
