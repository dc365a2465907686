/* test_row.c - a capture as INSERT parameters: the hand-made number formats. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "xalloc.h"
#include "../../proxy_fcgi/row.c"

/* format_ms writes what "%.3f" writes. */
static void test_ms(void)
{
	static const double v[] = { 0, 0.0004, 0.0006, 0.2, 0.212, 1.2344, 1.2346, 99.9996,
				    1000, 123456.789, 86400000.5 };
	char got[32], want[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		format_ms(v[i], got);
		snprintf(want, sizeof(want), "%.3f", v[i]);
		CHECK_STR(got, want);
	}
}

static void test_time(void)
{
	char got[64];

	format_time(0, got);
	CHECK_STR(got, "1970-01-01 00:00:00.000000+00");
	format_time(1764151200123456LL, got);      /* 2025-11-26 10:00:00.123456 */
	CHECK_STR(got, "2025-11-26 10:00:00.123456+00");
	format_time(1735689599999999LL, got);      /* the last microsecond of 2024 */
	CHECK_STR(got, "2024-12-31 23:59:59.999999+00");
}

static void test_row_numbers(void)
{
	struct capture *c = capture_new(1024);
	struct row_text t;
	struct spool_row r;

	c->method = xstrdup("POST");
	c->path = xstrdup("/v1/chat/completions");
	buf_adds(&c->req_body, "{\"model\":\"gpt-4o\"}");
	c->status = 200;
	c->duration_ms = 12.5;
	c->usage.prompt_tokens = 0;
	c->usage.completion_tokens = 1234567890123L;
	capture_finish(c);
	row_fill(c, &t, &r);
	CHECK(r.n == ROW_NPARAMS);
	CHECK_STR(r.vals[11], "18");                 /* request_body_size */
	CHECK_STR(r.vals[13], "200");
	CHECK_STR(r.vals[18], "0");                  /* response_body_size */
	CHECK(r.vals[21] == NULL);                   /* sse_events: not streamed */
	CHECK_STR(r.vals[24], "0");
	CHECK_STR(r.vals[25], "1234567890123");
	CHECK(r.vals[26] == NULL);                   /* total_tokens: none */
	CHECK(r.vals[32] == NULL);                   /* ttfb: no byte came */
	CHECK_STR(r.vals[33], "12.500");
	capture_free(c);
}

/* Parameter numbers run on from row to row, with the casts of each. */
static void test_multi_row_sql(void)
{
	char *one = row_insert_sql(1), *three = row_insert_sql(3);

	CHECK(strstr(one, "($1, $2,") != NULL);
	CHECK(strstr(one, "$8::jsonb") && strstr(one, "$40::text[]") && strstr(one, "$41)"));
	CHECK(strstr(one, "$42") == NULL);
	CHECK(strstr(three, "), ($42, $43,") != NULL);
	CHECK(strstr(three, "$81::text[]") != NULL);  /* row 2's 40th */
	CHECK(strstr(three, "$90::jsonb") != NULL);   /* row 3's 8th */
	CHECK(strstr(three, "$123) ON CONFLICT DO NOTHING") != NULL);
	free(one);
	free(three);
}

int main(void)
{
	test_ms();
	test_time();
	test_row_numbers();
	test_multi_row_sql();
	return check_done("test_row");
}
