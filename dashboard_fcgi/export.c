/* export.c - GET /api/export: the filtered captures as a download, streamed.
 *
 * The rows are read in keyset batches (WHERE (started_at, id) < the last row
 * sent, newest first, as the list pages), each batch in single-row mode, so
 * memory holds one row whatever the export's size, and each row goes to
 * the client as soon as it is read. Between batches no statement and no
 * transaction is open: a long export holds no snapshot back from vacuum and
 * no lock that age retention's DROP of a day's partition would queue behind
 * (the writer's inserts would then queue behind that DROP). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "export.h"
#include "log.h"
#include "pg.h"
#include "pgjson.h"
#include "queries.h"
#include "query.h"
#include "reply.h"
#include "server.h"
#include "banned.h"

/* Rows in the first batch, and at most in any; later batches aim at about
 * EXPORT_BATCH_BYTES of stored bodies. */
#define EXPORT_BATCH_FIRST 100
#define EXPORT_BATCH_MAX 1000
#define EXPORT_BATCH_BYTES (4L << 20)
/* A batch's statement also waits for the client to take its rows: it gets
 * longer than the dashboard's usual PG_STATEMENT_TIMEOUT_MS. */
#define EXPORT_STATEMENT_TIMEOUT_MS 300000
/* Exports hold a dashboard thread each for as long as the download lasts:
 * leave most threads to the pages. */
#define EXPORT_RUNNING_MAX (DASHBOARD_THREADS / 2)
#define EXPORT_LIMIT_MAX 1000000000000LL

/* A timestamptz from a parameter holding microseconds since 1970. */
#define TS_PARAM "(timestamptz 'epoch' + interval '1 microsecond' * $%d::int8)"

struct export_params {
	struct filters f;
	const struct export_format *fmt;
	long long limit;               /* records to write; 0 = all */
};

struct export_run {
	struct req *r;
	struct export_out out;
	const struct export_params *p;
	bool few;                      /* gather the matching keys, then sort */
	bool has_cursor;
	struct cursor last;            /* the last row read */
	long long rows, written;       /* rows read, records written */
	long long batch_bytes;         /* stored body bytes in this batch */
	bool started;                  /* the status line went out */
	bool gone;                     /* the client left */
};

static atomic_int exports_running;

const char *export_text(const PGresult *row, int col)
{
	return PQgetisnull(row, 0, col) ? NULL : PQgetvalue(row, 0, col);
}

static bool value_is(const struct qparam *p, const char *s)
{
	return p && p->len == strlen(s) && !memcmp(p->value, s, p->len);
}

/* format= (jsonl when absent) and shape= as a format; NULL if unknown. */
static const struct export_format *format_find(const struct qparam *format,
						const struct qparam *shape)
{
	if (!format || !format->len || value_is(format, "jsonl"))
		return value_is(shape, "messages") ? &export_messages : &export_jsonl;
	if (value_is(format, "csv"))
		return &export_csv;
	if (value_is(format, "har"))
		return &export_har;
	return NULL;
}

/* Reads a positive integer of at most max; -1 if it is not one. */
static long long positive_parse(const struct qparam *p, long long max)
{
	long long v = 0;
	size_t i;

	if (!p->len || p->len > 13)
		return -1;
	for (i = 0; i < p->len; i++) {
		if (p->value[i] < '0' || p->value[i] > '9')
			return -1;
		v = v * 10 + (p->value[i] - '0');
	}
	return v >= 1 && v <= max ? v : -1;
}

/* format (default jsonl), shape (full or messages, JSONL only), limit and
 * the list's filters. -1 with a message naming the parameter. */
static int params_parse(const struct qstring *qs, struct export_params *p,
			char *err, size_t errlen)
{
	const struct qparam *format = qs_get(qs, "format"), *shape = qs_get(qs, "shape");
	const struct qparam *limit = qs_get(qs, "limit");

	p->fmt = format_find(format, shape);
	if (!p->fmt) {
		snprintf(err, errlen, "format must be jsonl, csv or har");
		return -1;
	}
	if (shape && !value_is(shape, "full") && !value_is(shape, "messages")) {
		snprintf(err, errlen, "shape must be full or messages");
		return -1;
	}
	if (shape && p->fmt != &export_jsonl && p->fmt != &export_messages) {
		snprintf(err, errlen, "shape applies to format=jsonl only");
		return -1;
	}
	if (limit && (p->limit = positive_parse(limit, EXPORT_LIMIT_MAX)) < 0) {
		snprintf(err, errlen, "limit must be a positive integer (leave it out for everything)");
		return -1;
	}
	return filters_parse(qs, &p->f, err, errlen);
}

/* The SELECT list: every column of enum export_col, in order; the big ones
 * only when the format writes them. */
static void select_columns(struct sqlq *q, const struct export_format *fmt)
{
	sqlq_add(q,
		 "SELECT c.id, to_char(c.started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " (extract(epoch FROM c.started_at) * 1000000)::int8,"
		 " to_char(c.started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		 " c.instance, c.method, c.path, c.query, c.status, c.outcome, c.error, c.model,"
		 " c.streamed, c.finish_reason, c.prompt_tokens, c.completion_tokens,"
		 " c.total_tokens, c.cached_tokens, c.reasoning_tokens," QUERIES_COST("c") ","
		 " c.duration_ms, c.ttfb_ms, c.key_hint, c.capture_user,"
		 " c.capture_session, to_json(c.capture_tags), c.end_user,"
		 " c.request_content_type, c.request_body_size, c.request_body_truncated,"
		 " c.response_content_type, c.response_body_size, c.response_body_truncated");
	sqlq_add(q, fmt->headers ? ", c.request_headers::text, c.response_headers::text" :
		 ", NULL, NULL");
	sqlq_add(q, fmt->bodies ? ", c.request_body" : ", NULL");
	/* encode() breaks base64 into lines of 76 */
	sqlq_add(q, fmt->bodies_b64 ?
		 ", translate(encode(c.request_body_bin, 'base64'), E'\\n', '')" : ", NULL");
	sqlq_add(q, fmt->bodies ? ", c.response_body" : ", NULL");
	sqlq_add(q, fmt->bodies_b64 ?
		 ", translate(encode(c.response_body_bin, 'base64'), E'\\n', '')" : ", NULL");
	if (fmt->reply_chars < 0)
		sqlq_add(q, ", c.reply_text");
	else if (fmt->reply_chars > 0)
		sqlq_add(q, ", left(c.reply_text, $%d::int)", sqlq_param_long(q, fmt->reply_chars));
	else
		sqlq_add(q, ", NULL");
}

/* The filters, the rows after the last one read, and for the fine-tuning
 * shape the calls that can hold a conversation at all. */
static void batch_where(struct sqlq *q, const struct export_run *x)
{
	queries_where(q, &x->p->f);
	if (x->has_cursor) {
		int t = sqlq_param_long(q, x->last.us);
		int i = sqlq_param(q, x->last.id);

		sqlq_add(q, " AND (started_at, id) < (" TS_PARAM ", $%d::uuid)", t, i);
	}
	if (x->p->fmt == &export_messages)
		sqlq_add(q, " AND outcome = 'completed' AND status < 400"
			 " AND request_body IS NOT NULL"
			 " AND (path LIKE '%%/chat/completions' OR path LIKE '%%/responses')");
}

/* The next n rows, newest first, priced as the list prices them. With few
 * matches (a rare search word) the matching keys are gathered through their
 * indexes and sorted, as the list does: walking the time index would read
 * the whole table for them. The filters apply inside a subquery, where
 * their unqualified names cannot meet the price row's columns. */
static void batch_query(struct sqlq *q, const struct export_run *x, long n)
{
	select_columns(q, x->p->fmt);
	if (x->few) {
		sqlq_add(q, " FROM (WITH hits AS MATERIALIZED (SELECT id, started_at FROM captures");
		batch_where(q, x);
		sqlq_add(q, ") SELECT id, started_at FROM hits ORDER BY started_at DESC, id DESC"
			 " LIMIT $%d) k JOIN captures c ON c.id = k.id AND c.started_at = k.started_at",
			 sqlq_param_long(q, n));
	} else {
		sqlq_add(q, " FROM (SELECT * FROM captures");
		batch_where(q, x);
		sqlq_add(q, " ORDER BY started_at DESC, id DESC LIMIT $%d) c",
			 sqlq_param_long(q, n));
	}
	sqlq_add(q, QUERIES_PRICE_JOIN("c") " ORDER BY c.started_at DESC, c.id DESC");
}

/* Rows for the next batch: about EXPORT_BATCH_BYTES of bodies, going by
 * the last batch, and never past the limit. */
static long batch_size(const struct export_run *x, long last_n)
{
	long n = EXPORT_BATCH_FIRST;

	if (last_n > 0) {
		long long per_row = x->batch_bytes / last_n + 1024;

		n = (long)(EXPORT_BATCH_BYTES / per_row);
		if (n < 1)
			n = 1;
		if (n > EXPORT_BATCH_MAX)
			n = EXPORT_BATCH_MAX;
	}
	if (x->p->limit && x->p->limit - x->written < n)
		n = (long)(x->p->limit - x->written);
	return n;
}

static void output_start(struct export_run *x)
{
	char extra[256], stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* X-Accel-Buffering: an nginx in front streams this response too */
	snprintf(extra, sizeof(extra),
		 "Content-Disposition: attachment; filename=\"captures-%s.%s\"\r\n"
		 "X-Accel-Buffering: no\r\n", stamp, x->p->fmt->ext);
	reply_start(x->r, 200, x->p->fmt->content_type, REPLY_NO_STORE, extra);
	x->started = true;
	if (x->p->fmt->begin)
		x->p->fmt->begin(&x->out);
}

static void take_row(struct export_run *x, const PGresult *row)
{
	if (!x->started)
		output_start(x);
	x->rows++;
	x->last.us = pj_long(row, 0, XC_CURSOR_US, 0);
	snprintf(x->last.id, sizeof(x->last.id), "%s", PQgetvalue(row, 0, XC_ID));
	x->has_cursor = true;
	if (x->p->fmt->bodies)
		x->batch_bytes += pj_long(row, 0, XC_REQ_SIZE, 0) + pj_long(row, 0, XC_RESP_SIZE, 0);
	if (x->p->fmt->row(&x->out, row))
		x->out.n = ++x->written;
	if (FCGX_GetError(x->r->fcgi->out))
		x->gone = true;
}

/* Runs one batch of at most n rows; returns the rows read, or -1 when the
 * query failed (r answered, if nothing had been sent yet). */
static long run_batch(struct export_run *x, long n)
{
	struct sqlq q;
	PGresult *row;
	bool failed = false;
	long got = 0;

	sqlq_init(&q);
	batch_query(&q, x, n);
	x->batch_bytes = 0;
	if (!pg_stream(x->r, &q))
		failed = true;
	while (!failed && (row = pg_next(x->r, &failed)) != NULL) {
		take_row(x, row);
		PQclear(row);
		got++;
		if (x->gone) {
			/* reading out the batch for nobody would hold the thread */
			pg_stream_cancel(x->r->ctx);
			break;
		}
	}
	sqlq_release(&q);
	return failed ? -1 : got;
}

/* Ends a broken export so that the client can tell (JSONL: a last
 * {"error": ...} line; CSV and HAR simply stop, HAR then is not valid
 * JSON), and logs why. */
static void output_cut(struct export_run *x, const char *why)
{
	log_error("export %s cut short after %lld records: %s", x->p->fmt->name,
		  x->written, why);
	if (x->started && !x->gone && x->p->fmt->cut)
		x->p->fmt->cut(&x->out, why);
}

/* Batches until the rows or the limit run out, the client leaves or a
 * query fails. */
static void export_rows(struct export_run *x)
{
	long n = 0, got = 0;

	for (;;) {
		n = batch_size(x, got);
		if (n <= 0)
			break;
		got = run_batch(x, n);
		if (got < 0) {
			output_cut(x, "a database error (see the dashboard log)");
			return;
		}
		if (x->started && !x->gone && FCGX_FFlush(x->r->fcgi->out) < 0)
			x->gone = true;
		if (x->gone) {
			log_info("export %s: the client left after %lld records, %lld rows read",
				 x->p->fmt->name, x->written, x->rows);
			return;
		}
		if (got < n)
			break;
		if (server_stopping()) {
			output_cut(x, "the dashboard is shutting down");
			return;
		}
	}
	if (!x->started)
		output_start(x);
	if (x->p->fmt->end)
		x->p->fmt->end(&x->out);
	log_debug("export %s: %lld records from %lld rows", x->p->fmt->name, x->written, x->rows);
}

/* few: the filters (other than a time range) match at most
 * QUERIES_COUNT_CAP rows. false after answering r. */
static bool count_few(struct req *r, const struct filters *f, bool *few)
{
	struct filters other = *f;
	struct sqlq q;
	PGresult *res;

	*few = false;
	other.has_from = other.has_to = false;
	if (!filters_any(&other))
		return true;
	sqlq_init(&q);
	queries_count(&q, f);
	res = pg_run(r, &q, false);
	sqlq_release(&q);
	if (!res)
		return false;
	*few = pj_long(res, 0, 0, QUERIES_COUNT_CAP + 1) <= QUERIES_COUNT_CAP;
	PQclear(res);
	return true;
}

static void export_run(struct req *r, const struct export_params *p)
{
	struct export_run x = { .r = r, .out = { .r = r }, .p = p };

	if (!count_few(r, &p->f, &x.few) || !pg_timeout_set(r, EXPORT_STATEMENT_TIMEOUT_MS))
		return;
	export_rows(&x);
	pg_timeout_restore(r->ctx);
}

void api_export(struct req *r)
{
	struct export_params p;
	struct qstring qs;
	char err[256];
	int running = atomic_fetch_add(&exports_running, 1) + 1;

	memset(&p, 0, sizeof(p));
	if (qs_parse(&qs, r->query, err, sizeof(err)) < 0 ||
	    params_parse(&qs, &p, err, sizeof(err)) < 0) {
		reply_bad_request(r, err);
		goto out;
	}
	if (running > EXPORT_RUNNING_MAX) {
		reply_error(r, 503, "server_error", "too_many_exports",
			    "%d exports are running already; try again when one has finished",
			    EXPORT_RUNNING_MAX);
		goto out;
	}
	if (r->head) {
		struct export_run x = { .r = r, .out = { .r = r }, .p = &p };

		output_start(&x);
		goto out;
	}
	export_run(r, &p);
out:
	atomic_fetch_sub(&exports_running, 1);
	filters_release(&p.f);
	qs_release(&qs);
}
