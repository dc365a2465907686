/* row.c - mapping a finished capture to the parameters of the captures INSERT. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "row.h"
#include "banned.h"

/* The captures columns a row fills, in parameter order. */
#define ROW_COLUMNS \
	"id, started_at, instance, client_addr, method, path, query," \
	" request_headers, request_content_type, request_body, request_body_bin," \
	" request_body_size, request_body_truncated, status, response_headers," \
	" response_content_type, response_body, response_body_bin, response_body_size," \
	" response_body_truncated, streamed, sse_events, reply_text, model," \
	" prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens," \
	" finish_reason, outcome, error, ttfb_ms, duration_ms, key_hint, key_fingerprint," \
	" search_text, capture_user, capture_session, capture_tags, end_user"

static const char insert_head[] = "INSERT INTO captures (" ROW_COLUMNS ") VALUES ";

/* A session's staging table for rows sent by COPY: the same columns and
 * types, emptied by every commit. */
const char row_stage_create_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS capture_stage ON COMMIT DELETE ROWS AS SELECT " ROW_COLUMNS
	" FROM captures WITH NO DATA";
const char row_stage_copy_sql[] = "COPY capture_stage (" ROW_COLUMNS ") FROM STDIN";
const char row_stage_insert_sql[] =
	"INSERT INTO captures (" ROW_COLUMNS ") SELECT " ROW_COLUMNS
	" FROM capture_stage ON CONFLICT DO NOTHING";

/* The cast of parameter i (1-based) of a row. */
static const char *param_cast(int i)
{
	return i == 8 || i == 15 ? "::jsonb" : i == 40 ? "::text[]" : "";
}

char *row_insert_sql(int rows)
{
	struct buf b;
	int r, i;

	buf_init(&b, BUF_NO_CAP);
	buf_adds(&b, insert_head);
	for (r = 0; r < rows; r++) {
		buf_adds(&b, r ? ", (" : "(");
		for (i = 1; i <= ROW_NPARAMS; i++)
			buf_addf(&b, "%s$%d%s", i > 1 ? ", " : "", r * ROW_NPARAMS + i, param_cast(i));
		buf_addch(&b, ')');
	}
	buf_adds(&b, " ON CONFLICT DO NOTHING");
	return buf_detach(&b, NULL);
}

/* Number formatting by hand: a row is formatted twice per call (journal
 * and writer), and snprintf was ~10 % of proxy_fcgi's instructions. */

/* Writes v in decimal, at least min_digits (zero-padded), NUL-terminated;
 * returns the end. out needs 21 bytes. */
static char *put_uint(char *out, unsigned long long v, int min_digits)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v || n < min_digits);
	while (n)
		*out++ = tmp[--n];
	*out = '\0';
	return out;
}

static char *put_sep(char *out, unsigned v, char sep)
{
	out = put_uint(out, v, 2);
	*out++ = sep;
	return out;
}

/* "YYYY-MM-DD hh:mm:ss.uuuuuu+00" */
static void format_time(int64_t us, char out[64])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char *p = out;

	gmtime_r(&secs, &tm);
	p = put_uint(p, (unsigned)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p = put_sep(p, (unsigned)tm.tm_mon + 1, '-');
	p = put_sep(p, (unsigned)tm.tm_mday, ' ');
	p = put_sep(p, (unsigned)tm.tm_hour, ':');
	p = put_sep(p, (unsigned)tm.tm_min, ':');
	p = put_sep(p, (unsigned)tm.tm_sec, '.');
	p = put_uint(p, (unsigned long long)(us % 1000000), 6);
	memcpy(p, "+00", 4);
}

/* Milliseconds with three decimals, like "%.3f" (durations are >= 0). */
static void format_ms(double ms, char out[32])
{
	unsigned long long thousandths = ms > 0 ? (unsigned long long)(ms * 1000.0 + 0.5) : 0;
	char *p = put_uint(out, thousandths / 1000, 1);

	*p++ = '.';
	put_uint(p, thousandths % 1000, 3);
}

static const char *num(char out[24], long v)
{
	if (v < 0)
		return NULL;
	put_uint(out, (unsigned long long)v, 1);
	return out;
}

/* Text goes to the text column; anything else as bytes to the bytea one. */
static void body_params(const struct buf *b, bool text, struct spool_row *r, int at)
{
	r->vals[at] = text ? (b->data ? b->data : "") : NULL;
	r->vals[at + 1] = text ? NULL : b->data;
	r->lens[at + 1] = text ? 0 : (int)b->len;
	r->fmts[at + 1] = 1;
	if (!b->total)
		r->vals[at] = r->vals[at + 1] = NULL;
}

void row_fill(const struct capture *c, struct row_text *t, struct spool_row *r)
{
	const struct usage *u = &c->usage;
	const char **v = r->vals;

	memset(r, 0, sizeof(*r));
	r->n = ROW_NPARAMS;
	format_time(c->started_us, t->started);
	put_uint(t->req_size, c->req_body.total, 1);
	put_uint(t->resp_size, c->resp_body.total, 1);
	v[0] = c->id; v[1] = t->started; v[2] = c->instance; v[3] = c->client_addr;
	v[4] = c->method; v[5] = c->path; v[6] = c->query;
	v[7] = c->req_headers_json.data ? c->req_headers_json.data : "[]";
	v[8] = c->req_content_type;
	body_params(&c->req_body, c->req_body_text, r, 9);
	v[11] = t->req_size; v[12] = c->req_body.truncated ? "t" : "f";
	v[13] = c->status ? num(t->status, c->status) : NULL;
	v[14] = c->resp_headers_json.data ? c->resp_headers_json.data : "[]";
	v[15] = c->resp_content_type;
	body_params(&c->resp_body, c->resp_body_text, r, 16);
	v[18] = t->resp_size; v[19] = c->resp_body.truncated ? "t" : "f";
	v[20] = c->streamed ? "t" : "f";
	v[21] = num(t->events, c->sse_events);
	v[22] = u->reply.len ? u->reply.data : NULL;
	v[23] = u->model;
	v[24] = num(t->tokens[0], u->prompt_tokens);
	v[25] = num(t->tokens[1], u->completion_tokens);
	v[26] = num(t->tokens[2], u->total_tokens);
	v[27] = num(t->tokens[3], u->cached_tokens);
	v[28] = num(t->tokens[4], u->reasoning_tokens);
	v[29] = u->finish_reason;
	v[30] = capture_outcome_name(c->outcome);
	v[31] = c->error;
	if (c->ttfb_ms >= 0) {
		format_ms(c->ttfb_ms, t->ttfb);
		v[32] = t->ttfb;
	}
	format_ms(c->duration_ms, t->duration);
	v[33] = t->duration;
	v[34] = c->has_key ? c->key_hint : NULL;
	v[35] = c->has_key ? c->key_fingerprint : NULL;
	v[36] = c->search_text;
	v[37] = c->user;
	v[38] = c->session;
	v[39] = c->tags;
	v[40] = u->end_user;
}

