/* test_dashboard_query.c - what the dashboard reads from a URL (query string, filters,
 * cursor, times, Host) and what it writes (JSON strings, JSON validity, SSE events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../dashboard_fcgi/query.c"
#include "../../dashboard_fcgi/jsonw.c"
#include "../../dashboard_fcgi/jsonv.c"
#include "../../dashboard_fcgi/events.c"
#include "../../dashboard_fcgi/hostcheck.c"
#include "../../dashboard_fcgi/pgjson.c"
#include "pg.h"

/* --- helpers -------------------------------------------------------------- */

static void buf_sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
}

/* Parses raw as a query string and its filters; returns 0/-1 and the error. */
static int parse_filters(const char *raw, struct filters *f, char *err, size_t errlen)
{
	struct qstring qs;
	int rc = qs_parse(&qs, raw, err, errlen);

	memset(f, 0, sizeof(*f));
	if (rc == 0)
		rc = filters_parse(&qs, f, err, errlen);
	qs_release(&qs);
	return rc;
}

static int filters_ok(const char *raw)
{
	struct filters f;
	char err[256];
	int rc = parse_filters(raw, &f, err, sizeof(err));

	filters_release(&f);
	return rc == 0;
}

/* --- query string --------------------------------------------------------- */

static void test_qs(void)
{
	struct qstring qs;
	char err[128];
	const struct qparam *p;

	CHECK(qs_parse(&qs, "page=2&search=hello+w%C3%B6rld&empty=&flag&page=3", err, sizeof(err)) == 0);
	CHECK(qs.n == 5);
	p = qs_get(&qs, "search");
	CHECK(p && !strcmp(p->value, "hello w\xc3\xb6rld"));
	CHECK_STR(qs_get(&qs, "page")->value, "3");     /* the last one wins */
	CHECK(qs_get(&qs, "empty")->len == 0);
	CHECK(qs_get(&qs, "flag") && qs_get(&qs, "flag")->len == 0);
	CHECK(qs_get(&qs, "missing") == NULL);
	qs_release(&qs);

	CHECK(qs_parse(&qs, "a=%00b", err, sizeof(err)) == 0);
	CHECK(qs_get(&qs, "a")->len == 2 && qs_get(&qs, "a")->value[0] == '\0');
	qs_release(&qs);

	CHECK(qs_parse(&qs, "a=%zz", err, sizeof(err)) < 0);
	qs_release(&qs);
	CHECK(qs_parse(&qs, "a=%4", err, sizeof(err)) < 0);
	qs_release(&qs);
	CHECK(qs_parse(&qs, "a=%", err, sizeof(err)) < 0);
	qs_release(&qs);
	CHECK(qs_parse(&qs, NULL, err, sizeof(err)) == 0 && qs.n == 0);
	qs_release(&qs);
	CHECK(qs_parse(&qs, "&&&", err, sizeof(err)) == 0 && qs.n == 0);
	qs_release(&qs);
	{
		struct buf many;
		int i;

		buf_init(&many, BUF_NO_CAP);
		for (i = 0; i < QUERY_MAX_PARAMS + 1; i++)
			buf_addf(&many, "p%d=1&", i);
		CHECK(qs_parse(&qs, many.data, err, sizeof(err)) < 0);
		CHECK(strstr(err, "too many") != NULL);
		qs_release(&qs);
		buf_release(&many);
	}
}

/* --- filters -------------------------------------------------------------- */

static void test_search(void)
{
	struct filters f;
	char err[256], big[QUERY_SEARCH_MAX + 9];

	CHECK(parse_filters("search=++zebra+", &f, err, sizeof(err)) == 0);
	CHECK_STR(f.search, "zebra");
	CHECK_STR(f.search_like, "%zebra%");
	CHECK(f.search_method == NULL);
	CHECK(filters_any(&f));
	filters_release(&f);

	CHECK(parse_filters("search=ab", &f, err, sizeof(err)) == 0);
	CHECK(f.search_like == NULL);     /* too short for trigrams */
	filters_release(&f);

	CHECK(parse_filters("search=post", &f, err, sizeof(err)) == 0);
	CHECK_STR(f.search_method, "POST");
	filters_release(&f);

	CHECK(parse_filters("search=100%25_a%5Cb", &f, err, sizeof(err)) == 0);
	CHECK_STR(f.search_like, "%100\\%\\_a\\\\b%");
	filters_release(&f);

	CHECK(parse_filters("search=+++", &f, err, sizeof(err)) == 0);
	CHECK(f.search == NULL && !filters_any(&f));
	filters_release(&f);

	CHECK(parse_filters("search=a%00b", &f, err, sizeof(err)) < 0);
	CHECK(strstr(err, "search") != NULL);
	filters_release(&f);
	CHECK(!filters_ok("search=%FF"));
	CHECK(!filters_ok("search=%C3%28"));
	CHECK(!filters_ok("search=%ED%A0%80"));     /* a UTF-16 surrogate */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "search=", 7);
	CHECK(!filters_ok(big));
	big[QUERY_SEARCH_MAX + 7] = '\0';
	CHECK(filters_ok(big));
}

static void test_other_filters(void)
{
	struct filters f;
	char err[256];

	CHECK(parse_filters("status=4xx&method=post&streamed=true&key=ABCdef0123456789"
			    "&model=gpt-4o&path=%2Fv1%2Fchat&outcome=timeout", &f, err, sizeof(err)) == 0);
	CHECK(f.status_lo == 400 && f.status_hi == 499);
	CHECK_STR(f.method, "POST");
	CHECK(f.streamed == 1);
	CHECK_STR(f.key, "abcdef0123456789");
	CHECK_STR(f.model, "gpt-4o");
	CHECK_STR(f.path_like, "%/v1/chat%");
	CHECK_STR(f.outcome, "timeout");
	filters_release(&f);

	CHECK(parse_filters("status=429&streamed=0", &f, err, sizeof(err)) == 0);
	CHECK(f.status_lo == 429 && f.status_hi == 429 && f.streamed == 0);
	filters_release(&f);
	CHECK(parse_filters("status=error", &f, err, sizeof(err)) == 0 && f.failed);
	filters_release(&f);
	CHECK(parse_filters("", &f, err, sizeof(err)) == 0 && !filters_any(&f) && f.streamed == -1);
	filters_release(&f);

	CHECK(!filters_ok("status=6xx"));
	CHECK(!filters_ok("status=20"));
	CHECK(!filters_ok("status=099"));
	CHECK(!filters_ok("method=P0ST"));
	CHECK(!filters_ok("method=GET%27"));
	CHECK(!filters_ok("key=xyz"));
	CHECK(!filters_ok("streamed=perhaps"));
	CHECK(!filters_ok("outcome=fine"));
	CHECK(!filters_ok("from=2025-01-02&to=2025-01-01"));
}

static void test_attribution_filters(void)
{
	struct filters f;
	char err[256], big[QUERY_VALUE_MAX + 16];

	CHECK(parse_filters("instance=proxy-a&user=alice%40acme&end_user=end-7&session=conv-42"
			    "&tag=eval+run", &f, err, sizeof(err)) == 0);
	CHECK_STR(f.instance, "proxy-a");
	CHECK_STR(f.user, "alice@acme");
	CHECK_STR(f.end_user, "end-7");
	CHECK_STR(f.session, "conv-42");
	CHECK_STR(f.tag, "eval run");           /* exact: spaces kept */
	CHECK(filters_any(&f));
	filters_release(&f);

	/* each alone counts as a filter; an empty value is no filter */
	CHECK(parse_filters("tag=x", &f, err, sizeof(err)) == 0 && filters_any(&f));
	filters_release(&f);
	CHECK(parse_filters("session=s", &f, err, sizeof(err)) == 0 && filters_any(&f));
	filters_release(&f);
	CHECK(parse_filters("user=&instance=&tag=", &f, err, sizeof(err)) == 0);
	CHECK(!filters_any(&f) && !f.user && !f.instance && !f.tag);
	filters_release(&f);

	CHECK(parse_filters("user=a%00b", &f, err, sizeof(err)) < 0);
	CHECK(strstr(err, "user") != NULL);
	filters_release(&f);
	CHECK(parse_filters("tag=%FF", &f, err, sizeof(err)) < 0);
	CHECK(strstr(err, "tag: must be UTF-8") != NULL);
	filters_release(&f);
	CHECK(!filters_ok("end_user=%C3%28"));
	CHECK(!filters_ok("instance=%ED%A0%80"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "session=", 8);
	CHECK(parse_filters(big, &f, err, sizeof(err)) < 0);
	CHECK(strstr(err, "session: at most") != NULL);
	filters_release(&f);
	big[QUERY_VALUE_MAX + 8] = '\0';
	CHECK(filters_ok(big));
}

/* group_by=raw: 0 and the grouping, or -1 and the message. */
static int parse_group(const char *raw, enum group_by *g, char *err, size_t errlen)
{
	struct qstring qs;
	int rc = qs_parse(&qs, raw, err, errlen);

	if (rc == 0)
		rc = group_by_parse(&qs, g, err, errlen);
	qs_release(&qs);
	return rc;
}

static void test_group_by(void)
{
	static const char *const names[] = {
		"model", "instance", "user", "end_user", "session", "tag", "key", "status", "path", NULL
	};
	enum group_by g = GROUP_MODEL;
	char err[256], raw[64];
	int i;

	CHECK(parse_group("", &g, err, sizeof(err)) == 0 && g == GROUP_NONE);
	CHECK(parse_group("group_by=", &g, err, sizeof(err)) == 0 && g == GROUP_NONE);
	CHECK(group_by_name(GROUP_NONE) == NULL);
	for (i = 0; names[i]; i++) {
		snprintf(raw, sizeof(raw), "group_by=%s", names[i]);
		CHECK(parse_group(raw, &g, err, sizeof(err)) == 0 && g != GROUP_NONE);
		CHECK_STR(group_by_name(g), names[i]);
	}
	CHECK(parse_group("group_by=Model", &g, err, sizeof(err)) < 0);
	CHECK(strstr(err, "group_by: one of model, instance") != NULL);
	CHECK(parse_group("group_by=tags", &g, err, sizeof(err)) < 0);
	CHECK(parse_group("group_by=model%00", &g, err, sizeof(err)) < 0);
	CHECK(parse_group("group_by=model;drop", &g, err, sizeof(err)) < 0);
}

static void test_list_params(void)
{
	struct list_params lp;
	struct qstring qs;
	struct cursor c = { 1732000000123456LL, "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };
	char err[256], token[CURSOR_LEN + 1], raw[128];

	CHECK(qs_parse(&qs, "", err, sizeof(err)) == 0);
	CHECK(list_params_parse(&qs, 20, &lp, err, sizeof(err)) == 0);
	CHECK(lp.page == 1 && lp.page_size == 20 && !lp.has_cursor);
	list_params_release(&lp);
	qs_release(&qs);

	cursor_encode(&c, token);
	snprintf(raw, sizeof(raw), "page=3&page_size=7&cursor=%s", token);
	CHECK(qs_parse(&qs, raw, err, sizeof(err)) == 0);
	CHECK(list_params_parse(&qs, 20, &lp, err, sizeof(err)) == 0);
	CHECK(lp.page == 3 && lp.page_size == 7 && lp.has_cursor);
	CHECK(lp.cursor.us == c.us);
	CHECK_STR(lp.cursor.id, c.id);
	list_params_release(&lp);
	qs_release(&qs);

	{
		static const char *const bad[] = {
			"page=0", "page=-2", "page=1x", "page=+1", "page=99999999999999999999",
			"page_size=0", "page_size=501", "cursor=short", "cursor=%00", NULL
		};
		int i;

		for (i = 0; bad[i]; i++) {
			CHECK(qs_parse(&qs, bad[i], err, sizeof(err)) == 0);
			CHECK(list_params_parse(&qs, 20, &lp, err, sizeof(err)) < 0);
			list_params_release(&lp);
			qs_release(&qs);
		}
	}
}

static void test_cursor(void)
{
	struct cursor c = { 0, "00000000-0000-0000-0000-000000000000" }, d;
	char token[CURSOR_LEN + 1];

	cursor_encode(&c, token);
	CHECK(strlen(token) == CURSOR_LEN);
	CHECK(cursor_decode(token, &d) == 0 && d.us == 0 && !strcmp(d.id, c.id));
	c.us = 1795673565368442LL;
	snprintf(c.id, sizeof(c.id), "%s", "01a2167c-28b8-7c4c-8a42-38a0b923820d");
	cursor_encode(&c, token);
	CHECK(strspn(token, b64url) == CURSOR_LEN);
	CHECK(cursor_decode(token, &d) == 0 && d.us == c.us && !strcmp(d.id, c.id));
	token[5] = '!';
	CHECK(cursor_decode(token, &d) < 0);
	CHECK(cursor_decode("", &d) < 0);
	CHECK(cursor_decode("////////////////////////////////", &d) < 0);
	/* a token whose time does not fit int64 */
	CHECK(cursor_decode("________________________________", &d) < 0);
}

static void test_time(void)
{
	int64_t us = 0;

	CHECK(time_parse("1970-01-01", &us) == 0 && us == 0);
	CHECK(time_parse("2025-01-31T12:00:05Z", &us) == 0 && us == 1738324805000000LL);
	CHECK(time_parse("2025-01-31T12:00:05.25Z", &us) == 0 && us == 1738324805250000LL);
	CHECK(time_parse("2025-01-31T20:00:05+08:00", &us) == 0 && us == 1738324805000000LL);
	CHECK(time_parse("2025-01-31T20:00:05 08:00", &us) == 0 && us == 1738324805000000LL);
	CHECK(time_parse("2025-01-31T07:00:05-0500", &us) == 0 && us == 1738324805000000LL);
	CHECK(time_parse("2025-01-31 12:00", &us) == 0 && us == 1738324800000000LL);
	CHECK(time_parse("2024-02-29", &us) == 0);
	CHECK(time_parse("1738324805000", &us) == 0 && us == 1738324805000000LL);
	CHECK(time_parse("2025-02-29", &us) < 0);
	CHECK(time_parse("2025-13-01", &us) < 0);
	CHECK(time_parse("2025-01-31T25:00", &us) < 0);
	CHECK(time_parse("2025-01-31T12", &us) < 0);
	CHECK(time_parse("2025-01-31X", &us) < 0);
	CHECK(time_parse("yesterday", &us) < 0);
	CHECK(time_parse("", &us) < 0);
	CHECK(time_parse("99999999999999999999", &us) < 0);
}

/* --- output --------------------------------------------------------------- */

static void test_jsonw(void)
{
	struct buf b;
	struct jw w;

	buf_init(&b, BUF_NO_CAP);
	jw_init(&w, buf_sink, &b);
	jw_object_begin(&w);
	jw_key(&w, "s");
	jw_string(&w, "<a href='x'>&\"\\\n\x01\x7f", 18);
	jw_key(&w, "bad");
	jw_string(&w, "a\xff\xc3(b", 5);
	jw_key(&w, "ls");
	jw_string(&w, "\xe2\x80\xa8\xe2\x80\xa9 \xf0\x9f\x98\x80", 11);
	jw_key(&w, "n");
	jw_null(&w);
	jw_key(&w, "a");
	jw_array_begin(&w);
	jw_int(&w, -42);
	jw_double(&w, 0.1);
	jw_double(&w, 1.0 / 0.0);
	jw_bool(&w, true);
	jw_cstring(&w, NULL);
	jw_array_begin(&w);
	jw_array_end(&w);
	jw_object_begin(&w);
	jw_object_end(&w);
	jw_array_end(&w);
	jw_key(&w, "parts");
	jw_string_begin(&w);
	jw_string_part(&w, "x<", 2);
	jw_string_part(&w, "y", 1);
	jw_string_end(&w);
	jw_object_end(&w);
	CHECK_STR(b.data,
		  "{\"s\":\"\\u003ca href=\\u0027x\\u0027\\u003e\\u0026\\\"\\\\\\n\\u0001\\u007f\","
		  "\"bad\":\"a\\ufffd\\ufffd(b\",\"ls\":\"\\u2028\\u2029 \xf0\x9f\x98\x80\",\"n\":null,"
		  "\"a\":[-42,0.1,null,true,null,[],{}],\"parts\":\"x\\u003cy\"}");
	CHECK(jsonv_valid(b.data, b.len));
	buf_release(&b);
}

static void test_jsonv(void)
{
	static const char *const good[] = {
		"{}", "[]", " 0 ", "-0.5e+10", "\"\\u0000\"", "{\"a\":[1,{\"b\":null}],\"c\":true}",
		"[\"\xc3\xa9\xf0\x9f\x98\x80\"]", "\"\\ud83d\\ude00\"", "\r\n\t[1]\n", NULL
	};
	static const char *const bad[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e",
		"NaN", "[1] x", "\"\x01\"", "\"\\x\"", "\"\\u12g4\"", "\"\xff\"", "\"\xed\xa0\x80\"",
		"{\"a\" 1}", "[1 2]", "tru", "nul", "/* c */ 1", "{\"a\":1}}", "\"open", NULL
	};
	char deep[2 * JSONV_MAX_DEPTH + 8];
	int i;

	for (i = 0; good[i]; i++)
		CHECK(jsonv_valid(good[i], strlen(good[i])));
	for (i = 0; bad[i]; i++) {
		if (jsonv_valid(bad[i], strlen(bad[i])))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(!jsonv_valid(bad[i], strlen(bad[i])));
	}
	CHECK(!jsonv_valid("[1]\0", 4));
	for (i = 0; i < JSONV_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[2 * JSONV_MAX_DEPTH - 1 - i] = ']';
	}
	CHECK(jsonv_valid(deep, 2 * JSONV_MAX_DEPTH));
	memmove(deep + 1, deep, 2 * JSONV_MAX_DEPTH);
	deep[0] = '[';
	deep[2 * JSONV_MAX_DEPTH + 1] = ']';
	CHECK(!jsonv_valid(deep, 2 * JSONV_MAX_DEPTH + 2));
}

struct collected {
	struct buf out;
	int n;
};

static void collect_piece(void *ctx, const char *p, size_t n)
{
	buf_add(&((struct collected *)ctx)->out, p, n);
}

static void collect(void *ctx, const char *name, size_t name_len, const char *block, size_t n)
{
	struct collected *c = ctx;

	buf_addf(&c->out, "%s%.*s=", c->n++ ? "|" : "", name ? (int)name_len : 1, name ? name : "-");
	events_data(block, n, collect_piece, c);
}

static void check_events(const char *stream, int count, const char *expect)
{
	struct collected c = { .n = 0 };

	buf_init(&c.out, BUF_NO_CAP);
	buf_adds(&c.out, "");
	CHECK((int)events_split(stream, strlen(stream), collect, &c) == count);
	CHECK_STR(c.out.data, expect);
	buf_release(&c.out);
}

static void test_events(void)
{
	check_events("data: {\"a\":1}\n\ndata: [DONE]\n\n", 2, "-={\"a\":1}|-=[DONE]");
	check_events("event: response.created\r\ndata: x\r\n\r\nevent: done\rdata:y\r\r", 2,
		     "response.created=x|done=y");
	check_events(": comment\nid: 7\nretry: 10\ndata: a\ndata: b\n\n", 1, "-=a\nb");
	check_events("data: cut off at the end", 1, "-=cut off at the end");
	check_events("event: only-a-name\n\n\n\n", 0, "");
	check_events("data\n\ndata:\n\n", 2, "-=|-=");
	check_events("", 0, "");
}

/* pj_array_walk on s: the JSON written, or "ERR" when s is not an array. */
static void check_array(const char *s, const char *expect)
{
	struct buf b;
	struct jw w;

	buf_init(&b, BUF_NO_CAP);
	buf_adds(&b, "");
	if (pj_array_walk(s, strlen(s), NULL) < 0) {
		buf_adds(&b, "ERR");
	} else {
		jw_init(&w, buf_sink, &b);
		CHECK(pj_array_walk(s, strlen(s), &w) == 0);
	}
	CHECK_STR(b.data, expect);
	buf_release(&b);
}

static void test_text_array(void)
{
	check_array("{}", "[]");
	check_array("{eval,nightly}", "[\"eval\",\"nightly\"]");
	check_array("{\"a \\\"quoted\\\" tag\",\"back\\\\slash\"}",
		    "[\"a \\\"quoted\\\" tag\",\"back\\\\slash\"]");
	check_array("{NULL,\"NULL\",\"\",x}", "[null,\"NULL\",\"\",\"x\"]");
	check_array("{\"<b>,{}\"}", "[\"\\u003cb\\u003e,{}\"]");
	check_array("{\"caf\xc3\xa9\"}", "[\"caf\xc3\xa9\"]");
	check_array("", "ERR");
	check_array("{", "ERR");
	check_array("{a,}", "ERR");
	check_array("{,a}", "ERR");
	check_array("{a,,b}", "ERR");
	check_array("{{a},{b}}", "ERR");
	check_array("{\"open}", "ERR");
	check_array("{\"a\"b}", "ERR");
	check_array("{a\\b}", "ERR");
	check_array("{\"ends in \\\"}", "ERR");
	check_array("[0:1]={a,b}", "ERR");
}

static void test_host(void)
{
	CHECK(host_is_loopback("127.0.0.1:8081"));
	CHECK(host_is_loopback("127.0.0.1"));
	CHECK(host_is_loopback("127.1.2.3:80"));
	CHECK(host_is_loopback("localhost:8081"));
	CHECK(host_is_loopback("LOCALHOST"));
	CHECK(host_is_loopback("[::1]:8081"));
	CHECK(host_is_loopback("[::1]"));
	CHECK(!host_is_loopback("attacker.example:8081"));
	CHECK(!host_is_loopback("127.0.0.1.attacker.example"));
	CHECK(!host_is_loopback("localhost.attacker.example"));
	CHECK(!host_is_loopback("[::2]:8081"));
	CHECK(!host_is_loopback("[::1]x"));
	CHECK(!host_is_loopback(""));
	CHECK(!host_is_loopback(NULL));
	CHECK(addr_is_loopback("127.0.0.1"));
	CHECK(addr_is_loopback("::1"));
	CHECK(!addr_is_loopback("0.0.0.0"));
	CHECK(!addr_is_loopback("192.168.1.2"));
}

/* Slice edges of the list go to PostgreSQL as timestamptz literals. */
static void test_param_time(void)
{
	static const struct { long long us; const char *want; } cases[] = {
		{ 0, "1970-01-01 00:00:00.000000+00" },
		{ 1764203045123456LL, "2025-11-27 00:24:05.123456+00" },
		{ -1, "1969-12-31 23:59:59.999999+00" },
		{ 253402300799999999LL, "9999-12-31 23:59:59.999999+00" },
		{ 253402300800000000LL, "infinity" },    /* year 10000 */
		{ 9223372036854775807LL, "infinity" },   /* a cursor's largest time */
		{ -62135596801000000LL, "-infinity" },   /* 1 second before year 1 */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sqlq q;

		sqlq_init(&q);
		CHECK(sqlq_param_time(&q, cases[i].us) == 1);
		CHECK_STR(q.values[0], cases[i].want);
		sqlq_release(&q);
	}
}

int main(void)
{
	test_qs();
	test_search();
	test_other_filters();
	test_attribution_filters();
	test_group_by();
	test_list_params();
	test_cursor();
	test_time();
	test_jsonw();
	test_jsonv();
	test_events();
	test_text_array();
	test_host();
	test_param_time();
	return check_done("test_dashboard_query");
}
