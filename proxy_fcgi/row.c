/* row.c - mapping a finished capture to the parameters of the captures INSERT. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "row.h"
#include "banned.h"

const char row_insert_sql[] =
	"INSERT INTO captures (id, started_at, instance, client_addr, method, path, query,"
	" request_headers, request_content_type, request_body, request_body_bin,"
	" request_body_size, request_body_truncated, status, response_headers,"
	" response_content_type, response_body, response_body_bin, response_body_size,"
	" response_body_truncated, streamed, sse_events, reply_text, model,"
	" prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens,"
	" finish_reason, outcome, error, ttfb_ms, duration_ms, key_hint, key_fingerprint,"
	" search_text, capture_user, capture_session, capture_tags, end_user)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14,"
	" $15::jsonb, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28,"
	" $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40::text[], $41)"
	" ON CONFLICT DO NOTHING";

static void format_time(int64_t us, char out[64])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(us % 1000000));
}

static const char *num(char *out, size_t n, long v)
{
	if (v < 0)
		return NULL;
	snprintf(out, n, "%ld", v);
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
	snprintf(t->req_size, sizeof(t->req_size), "%zu", c->req_body.total);
	snprintf(t->resp_size, sizeof(t->resp_size), "%zu", c->resp_body.total);
	v[0] = c->id; v[1] = t->started; v[2] = c->instance; v[3] = c->client_addr;
	v[4] = c->method; v[5] = c->path; v[6] = c->query;
	v[7] = c->req_headers_json.data ? c->req_headers_json.data : "[]";
	v[8] = c->req_content_type;
	body_params(&c->req_body, c->req_body_text, r, 9);
	v[11] = t->req_size; v[12] = c->req_body.truncated ? "t" : "f";
	v[13] = c->status ? num(t->status, sizeof(t->status), c->status) : NULL;
	v[14] = c->resp_headers_json.data ? c->resp_headers_json.data : "[]";
	v[15] = c->resp_content_type;
	body_params(&c->resp_body, c->resp_body_text, r, 16);
	v[18] = t->resp_size; v[19] = c->resp_body.truncated ? "t" : "f";
	v[20] = c->streamed ? "t" : "f";
	v[21] = num(t->events, sizeof(t->events), c->sse_events);
	v[22] = u->reply.len ? u->reply.data : NULL;
	v[23] = u->model;
	v[24] = num(t->tokens[0], 24, u->prompt_tokens);
	v[25] = num(t->tokens[1], 24, u->completion_tokens);
	v[26] = num(t->tokens[2], 24, u->total_tokens);
	v[27] = num(t->tokens[3], 24, u->cached_tokens);
	v[28] = num(t->tokens[4], 24, u->reasoning_tokens);
	v[29] = u->finish_reason;
	v[30] = capture_outcome_name(c->outcome);
	v[31] = c->error;
	if (c->ttfb_ms >= 0) {
		snprintf(t->ttfb, sizeof(t->ttfb), "%.3f", c->ttfb_ms);
		v[32] = t->ttfb;
	}
	snprintf(t->duration, sizeof(t->duration), "%.3f", c->duration_ms);
	v[33] = t->duration;
	v[34] = c->has_key ? c->key_hint : NULL;
	v[35] = c->has_key ? c->key_fingerprint : NULL;
	v[36] = c->search_text;
	v[37] = c->user;
	v[38] = c->session;
	v[39] = c->tags;
	v[40] = u->end_user;
}

