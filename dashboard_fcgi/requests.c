/* requests.c - GET /api/requests: the filtered list, streamed row by row. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "jsonw.h"
#include "pg.h"
#include "pgjson.h"
#include "queries.h"
#include "query.h"
#include "reply.h"
#include "banned.h"

/* U+E000 and U+E001 as UTF-8: where ts_headline put StartSel and StopSel. */
#define MARK_START "\xee\x80\x80"
#define MARK_STOP "\xee\x80\x81"

struct total {
	long long n;
	bool exact;
};

/* Writes the snippet as [{"text": "...", "match": bool}, ...]: the client
 * builds <mark> elements from it without ever parsing captured text as HTML. */
static void write_snippet(struct jw *w, const char *s, size_t n)
{
	const char *end = s + n;
	bool match = false;

	jw_array_begin(w);
	while (s < end) {
		const char *mark = memmem(s, (size_t)(end - s), match ? MARK_STOP : MARK_START, 3);
		const char *stop = mark ? mark : end;

		if (stop > s) {
			jw_object_begin(w);
			jw_key(w, "text");
			jw_string(w, s, (size_t)(stop - s));
			jw_key(w, "match");
			jw_bool(w, match);
			jw_object_end(w);
		}
		s = mark ? mark + 3 : end;
		if (mark)
			match = !match;
	}
	jw_array_end(w);
}

static void write_item(struct jw *w, const PGresult *res)
{
	jw_object_begin(w);
	pj_key_text(w, "id", res, 0, LC_ID);
	pj_key_text(w, "timestamp", res, 0, LC_TIMESTAMP);
	pj_key_text(w, "method", res, 0, LC_METHOD);
	pj_key_text(w, "path", res, 0, LC_PATH);
	pj_key_text(w, "query", res, 0, LC_QUERY);
	pj_key_int(w, "status", res, 0, LC_STATUS);
	pj_key_float(w, "duration_ms", res, 0, LC_DURATION);
	pj_key_float(w, "ttfb_ms", res, 0, LC_TTFB);
	pj_key_text(w, "model", res, 0, LC_MODEL);
	pj_key_bool(w, "streamed", res, 0, LC_STREAMED);
	pj_key_int(w, "prompt_tokens", res, 0, LC_PROMPT_TOKENS);
	pj_key_int(w, "completion_tokens", res, 0, LC_COMPLETION_TOKENS);
	pj_key_int(w, "total_tokens", res, 0, LC_TOTAL_TOKENS);
	pj_key_text(w, "outcome", res, 0, LC_OUTCOME);
	pj_key_text(w, "error", res, 0, LC_ERROR);
	pj_key_text(w, "key_hint", res, 0, LC_KEY_HINT);
	pj_key_text(w, "key_fingerprint", res, 0, LC_KEY_FINGERPRINT);
	pj_key_int(w, "request_size", res, 0, LC_REQUEST_SIZE);
	pj_key_int(w, "response_size", res, 0, LC_RESPONSE_SIZE);
	pj_key_text(w, "preview", res, 0, LC_PREVIEW);
	pj_key_text(w, "instance", res, 0, LC_INSTANCE);
	pj_key_text(w, "user", res, 0, LC_USER);
	pj_key_text(w, "session", res, 0, LC_SESSION);
	pj_key_text_array(w, "tags", res, 0, LC_TAGS);
	pj_key_text(w, "end_user", res, 0, LC_END_USER);
	pj_key_float(w, "cost_usd", res, 0, LC_COST_USD);
	if (!PQgetisnull(res, 0, LC_SNIPPET)) {
		jw_key(w, "snippet");
		write_snippet(w, PQgetvalue(res, 0, LC_SNIPPET),
			      (size_t)PQgetlength(res, 0, LC_SNIPPET));
	}
	jw_object_end(w);
}

static bool run_count(struct req *r, struct sqlq *q, long long *n)
{
	PGresult *res = pg_run(r, q, false);

	if (!res)
		return false;
	*n = pj_long(res, 0, 0, 0);
	PQclear(res);
	return true;
}

/* The total for the page footer: exact up to QUERIES_COUNT_CAP; beyond it the
 * planner's estimate when nothing is filtered, else "more than the cap". */
static bool count_rows(struct req *r, const struct filters *f, struct total *t)
{
	struct sqlq q;
	bool ok;

	sqlq_init(&q);
	queries_count(&q, f);
	ok = run_count(r, &q, &t->n);
	sqlq_release(&q);
	t->exact = ok && t->n <= QUERIES_COUNT_CAP;
	if (ok && !t->exact)
		t->n = QUERIES_COUNT_CAP;
	if (ok && !t->exact && !filters_any(f)) {
		long long est = 0;

		sqlq_init(&q);
		queries_estimate(&q);
		if (run_count(r, &q, &est) && est > t->n)
			t->n = est;
		sqlq_release(&q);
	}
	return ok && !r->replied;
}

static void write_footer(struct jw *w, const struct list_params *lp, const struct total *t,
			 const struct cursor *last, bool more)
{
	char token[CURSOR_LEN + 1];

	jw_key(w, "page");
	jw_int(w, lp->page);
	jw_key(w, "page_size");
	jw_int(w, lp->page_size);
	jw_key(w, "total");
	jw_int(w, t->n);
	jw_key(w, "total_exact");
	jw_bool(w, t->exact);
	jw_key(w, "pages");
	jw_int(w, (t->n + lp->page_size - 1) / lp->page_size);
	jw_key(w, "has_more");
	jw_bool(w, more);
	jw_key(w, "next_cursor");
	if (more) {
		cursor_encode(last, token);
		jw_cstring(w, token);
	} else {
		jw_null(w);
	}
}

/* true if a filter other than the time range is set: the rows it keeps may
 * be scattered through the table. (A time range alone is a slice of the
 * started_at index, best walked in order.) */
static bool filters_besides_time(const struct filters *f)
{
	struct filters other = *f;

	other.has_from = other.has_to = false;
	return filters_any(&other);
}

static void list_begin(struct req *r, struct jw *w)
{
	reply_start(r, 200, "application/json; charset=utf-8", REPLY_NO_STORE, NULL);
	jw_object_begin(w);
	jw_key(w, "requests");
	jw_array_begin(w);
}

/* The status line went out before the query failed: say so in the body. */
static void list_cut_short(struct jw *w)
{
	jw_key(w, "error");
	jw_object_begin(w);
	jw_key(w, "message");
	jw_cstring(w, "the list was cut short by a database error");
	jw_key(w, "type");
	jw_cstring(w, "server_error");
	jw_key(w, "code");
	jw_cstring(w, "incomplete");
	jw_object_end(w);
}

/* Closes the list: the footer after the rows, or after a failure (last
 * NULL) the note that the list was cut short. */
static void list_end(struct req *r, struct jw *w, const struct list_params *lp,
		     const struct total *t, const struct cursor *last, bool more)
{
	jw_array_end(w);
	if (last)
		write_footer(w, lp, t, last, more);
	else
		list_cut_short(w);
	jw_object_end(w);
	reply_write(r, "\n", 1);
}

/* Streams the rows; the (page_size + 1)th only says that more exist. When
 * the query fails before its first row, pg_next has answered r already. */
static void stream_rows(struct req *r, const struct list_params *lp, const struct total *t)
{
	struct cursor last = { 0 };
	PGresult *row;
	bool failed = false, more = false;
	int n = 0;
	struct jw w;

	jw_init(&w, reply_sink, r);
	while ((row = pg_next(r, &failed)) != NULL) {
		if (n == 0)
			list_begin(r, &w);
		if (n++ < lp->page_size) {
			write_item(&w, row);
			last.us = pj_long(row, 0, LC_CURSOR_US, 0);
			snprintf(last.id, sizeof(last.id), "%s", PQgetvalue(row, 0, LC_ID));
		} else {
			more = true;
		}
		PQclear(row);
	}
	if (!(failed && n == 0)) {
		if (n == 0)
			list_begin(r, &w);
		list_end(r, &w, lp, t, failed ? NULL : &last, more);
	}
}

/* Nothing matches the filters: the empty page, without asking for it. */
static void reply_empty(struct req *r, const struct list_params *lp, const struct total *t)
{
	struct cursor none = { 0 };
	struct jw w;

	jw_init(&w, reply_sink, r);
	list_begin(r, &w);
	list_end(r, &w, lp, t, &none, false);
}

void api_requests(struct req *r)
{
	struct list_params lp;
	struct qstring qs;
	struct total t = { 0, true };
	struct sqlq q;
	char err[256];

	memset(&lp, 0, sizeof(lp));
	sqlq_init(&q);
	if (qs_parse(&qs, r->query, err, sizeof(err)) < 0 ||
	    list_params_parse(&qs, r->app->cfg.page_size, &lp, err, sizeof(err)) < 0) {
		reply_bad_request(r, err);
		goto out;
	}
	if (!count_rows(r, &lp.f, &t))
		goto out;
	if (t.exact && t.n == 0) {
		reply_empty(r, &lp, &t);
		goto out;
	}
	queries_list(&q, &lp, t.exact && filters_besides_time(&lp.f));
	if (pg_stream(r, &q))
		stream_rows(r, &lp, &t);
out:
	list_params_release(&lp);
	qs_release(&qs);
	sqlq_release(&q);
}
