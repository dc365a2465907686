/* stats.c - GET /api/stats and GET /api/info. */
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

/* At most this many points on the timeline. */
#define TIMELINE_POINTS 120

/* The smallest round bucket that cuts span_s seconds into at most
 * TIMELINE_POINTS buckets. Each width divides a day or is whole days, so
 * UTC days nest in buckets or buckets in days (queries.c prices per day). */
static long bucket_seconds(long long span_s)
{
	static const long widths[] = {
		60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
		86400, 172800, 604800, 2592000
	};
	size_t i;

	for (i = 0; i < sizeof(widths) / sizeof(widths[0]) - 1; i++)
		if (span_s / widths[i] < TIMELINE_POINTS)
			break;
	return widths[i];
}

/* The time range the statistics cover: from/to when given, else from the
 * first capture until now. */
static bool time_range(struct req *r, const struct filters *f, long long *from_ms,
		       long long *to_ms)
{
	PGresult *res;
	struct sqlq q;
	bool ok = false;

	sqlq_init(&q);
	queries_bounds(&q, !f->has_from);
	res = pg_run(r, &q, false);
	if (!res)
		goto out;
	*to_ms = f->has_to ? f->to_us / 1000 : pj_long(res, 0, BD_NOW_US, 0) / 1000;
	*from_ms = f->has_from ? f->from_us / 1000 : pj_long(res, 0, BD_FIRST_US, *to_ms * 1000) / 1000;
	if (*from_ms > *to_ms)
		*from_ms = *to_ms;
	ok = true;
out:
	PQclear(res);
	sqlq_release(&q);
	return ok;
}

/* The row of grouping set `set` (3: all), or -1. */
static int set_row(const PGresult *res, int set)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (pj_long(res, i, GC_SET, -1) == set)
			return i;
	return -1;
}

/* cost_usd and unpriced_requests of the whole range, from the groups' set 3. */
static void write_cost(struct jw *w, const PGresult *groups)
{
	int row = set_row(groups, 3);

	jw_key(w, "cost_usd");
	if (row >= 0)
		pj_float(w, groups, row, GC_COST_USD);
	else
		jw_null(w);
	jw_key(w, "unpriced_requests");
	jw_int(w, row >= 0 ? pj_long(groups, row, GC_UNPRICED, 0) : 0);
}

/* The totals of row 0 of res, whose columns of enum totals_col start at
 * column at. */
static void write_totals(struct jw *w, const PGresult *res, int at)
{
	long long total = pj_long(res, 0, at + TC_REQUESTS, 0);
	long long ok = pj_long(res, 0, at + TC_OK, 0);
	long long in = pj_long(res, 0, at + TC_PROMPT_TOKENS, 0);
	long long out = pj_long(res, 0, at + TC_COMPLETION_TOKENS, 0);

	jw_key(w, "total_requests");
	jw_int(w, total);
	jw_key(w, "success_rate");
	jw_double(w, total ? (double)((ok * 10000 + total / 2) / total) / 100.0 : 0.0);
	pj_key_float(w, "avg_response_time_ms", res, 0, at + TC_AVG_MS);
	pj_key_float(w, "p50_response_time_ms", res, 0, at + TC_P50_MS);
	pj_key_float(w, "p95_response_time_ms", res, 0, at + TC_P95_MS);
	pj_key_float(w, "avg_ttfb_ms", res, 0, at + TC_AVG_TTFB);
	pj_key_int(w, "successful_requests", res, 0, at + TC_OK);
	pj_key_int(w, "failed_requests", res, 0, at + TC_FAILED);
	jw_key(w, "errors");
	jw_object_begin(w);
	pj_key_int(w, "client_4xx", res, 0, at + TC_CLIENT_ERRORS);
	pj_key_int(w, "server_5xx", res, 0, at + TC_SERVER_ERRORS);
	pj_key_int(w, "failed", res, 0, at + TC_FAILED);
	jw_object_end(w);
	jw_key(w, "tokens");
	jw_object_begin(w);
	jw_key(w, "prompt");
	jw_int(w, in);
	jw_key(w, "completion");
	jw_int(w, out);
	jw_key(w, "total");
	jw_int(w, in + out);
	jw_object_end(w);
	pj_key_int(w, "first_ms", res, 0, at + TC_FIRST_MS);
	pj_key_int(w, "last_ms", res, 0, at + TC_LAST_MS);
}

static void write_group(struct jw *w, const PGresult *res, int row, bool model)
{
	jw_object_begin(w);
	if (model)
		pj_key_text(w, "model", res, row, GC_MODEL);
	else
		pj_key_int(w, "t", res, row, GC_BUCKET_MS);
	pj_key_int(w, "requests", res, row, GC_REQUESTS);
	pj_key_int(w, "errors", res, row, GC_FAILED);
	pj_key_float(w, "avg_ms", res, row, GC_AVG_MS);
	pj_key_float(w, "max_ms", res, row, GC_MAX_MS);
	pj_key_int(w, "prompt_tokens", res, row, GC_PROMPT_TOKENS);
	pj_key_int(w, "completion_tokens", res, row, GC_COMPLETION_TOKENS);
	pj_key_float(w, "cost_usd", res, row, GC_COST_USD);
	jw_object_end(w);
}

/* Rows of grouping set `set` (1 models, 2 time buckets). */
static void write_set(struct jw *w, const PGresult *res, int set)
{
	int i;

	jw_array_begin(w);
	for (i = 0; i < PQntuples(res); i++)
		if (pj_long(res, i, GC_SET, -1) == set)
			write_group(w, res, i, set == 1);
	jw_array_end(w);
}

/* One entry of "groups": a value of the group_by grouping and its sums. */
static void write_by_value(struct jw *w, const PGresult *res, int row, enum group_by g)
{
	jw_object_begin(w);
	pj_key_text(w, "key", res, row, GB_KEY);
	if (g == GROUP_KEY)
		pj_key_text(w, "key_hint", res, row, GB_KEY_HINT);
	pj_key_int(w, "requests", res, row, GB_REQUESTS);
	pj_key_int(w, "failed", res, row, GB_FAILED);
	pj_key_int(w, "prompt_tokens", res, row, GB_PROMPT_TOKENS);
	pj_key_int(w, "completion_tokens", res, row, GB_COMPLETION_TOKENS);
	pj_key_float(w, "cost_usd", res, row, GB_COST_USD);
	pj_key_int(w, "unpriced_requests", res, row, GB_UNPRICED);
	pj_key_float(w, "avg_response_time_ms", res, row, GB_AVG_MS);
	jw_object_end(w);
}

/* "group_by" and "groups", when the request asked for a grouping. */
static void write_by(struct jw *w, const PGresult *by, enum group_by g)
{
	int i;

	if (g == GROUP_NONE)
		return;
	jw_key(w, "group_by");
	jw_cstring(w, group_by_name(g));
	jw_key(w, "groups");
	jw_array_begin(w);
	for (i = 0; i < PQntuples(by); i++)
		write_by_value(w, by, i, g);
	jw_array_end(w);
}

/* The answers of the queries (by is NULL without group_by; totals is
 * NULL when the groups carry the totals from column totals_at on);
 * rollup: the totals and groups came from the rollups; stale: the
 * search's watch is due to be marked used. */
struct stats_results {
	PGresult *totals, *groups, *by;
	int totals_at;
	bool rollup, stale;
};

static void write_timeline(struct jw *w, const PGresult *groups, long long from_ms,
			   long long to_ms, long bucket_s)
{
	jw_object_begin(w);
	jw_key(w, "from_ms");
	jw_int(w, from_ms);
	jw_key(w, "to_ms");
	jw_int(w, to_ms);
	jw_key(w, "bucket_seconds");
	jw_int(w, bucket_s);
	jw_key(w, "points");
	write_set(w, groups, 2);
	jw_object_end(w);
}

static void write_stats(struct jw *w, const struct stats_results *sr, enum group_by g,
			long long from_ms, long long to_ms, long bucket_s)
{
	jw_object_begin(w);
	write_totals(w, sr->totals ? sr->totals : sr->groups, sr->totals_at);
	write_cost(w, sr->groups);
	write_by(w, sr->by, g);
	jw_key(w, "models");
	write_set(w, sr->groups, 1);
	jw_key(w, "timeline");
	write_timeline(w, sr->groups, from_ms, to_ms, bucket_s);
	jw_object_end(w);
}

/* group_by from the rollups when the filters fit (see
 * queries_group_by_rollup_fits), else from the captures. */
static void build_by(struct sqlq *q, const struct filters *f, enum group_by g)
{
	if (queries_group_by_rollup_fits(f, g))
		queries_group_by_rollup(q, f, g);
	else
		queries_group_by(q, f, g);
}

static PGresult *run(struct req *r, struct sqlq *q)
{
	PGresult *res = pg_run(r, q, false);

	sqlq_release(q);
	sqlq_init(q);
	return res;
}

/* Whether the totals and the groups come from the hourly rollups (see
 * queries_stats_rollup_fits): a search's only once its rollup reaches the
 * start of the range (sr->stale set too). -1 after answering r with an
 * error. */
static int use_rollup(struct req *r, const struct filters *f, struct stats_results *sr)
{
	PGresult *res;
	struct sqlq q;
	int yes;

	if (!queries_stats_rollup_fits(f))
		return 0;
	if (!f->search)
		return 1;
	sqlq_init(&q);
	queries_search_rolled(&q, f);
	res = pg_run(r, &q, false);
	yes = !res ? -1 : PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	sr->stale = res && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 1), "t");
	PQclear(res);
	sqlq_release(&q);
	return yes;
}

/* Statistics of a search that summed at least this many captures are worth
 * a rollup of their own: read from the captures they take ~100 ms. */
#define WATCH_MIN_REQUESTS 20000

/* Asks for the rollup of a search whose statistics summed many captures
 * read from the captures, or marks a rolled up one used when that is due
 * (hourly): a write, which a watched search read every few seconds does
 * not pay. When it cannot be written (logged) the statistics stay as
 * answered. */
static void watch_search(struct req *r, const struct filters *f, const struct stats_results *sr)
{
	const PGresult *totals = sr->totals ? sr->totals : sr->groups;
	struct sqlq q;

	if (!f->search || !queries_stats_rollup_fits(f))
		return;
	if (sr->rollup ? !sr->stale :
	    pj_long(totals, 0, sr->totals_at + TC_REQUESTS, 0) < WATCH_MIN_REQUESTS)
		return;
	sqlq_init(&q);
	queries_search_watch(&q, f);
	pg_write(r->ctx, &q);
	sqlq_release(&q);
}

/* Runs the totals and the groups queries and (with a grouping) the group_by
 * query. The totals and the groups come from the hourly rollups when the
 * filters are a time range, a model and an instance, a time range, a
 * model, streamed, method and path, or a time range, a model and a rolled
 * up search at most (a few thousand rows instead of every capture), else
 * both from one pass over the captures. false after answering r with the
 * error of the first that failed. */
static bool run_all(struct req *r, const struct filters *f, enum group_by g, long bucket_s,
		    struct stats_results *sr)
{
	int rollup = use_rollup(r, f, sr);
	struct sqlq q;
	bool ok = false;

	if (rollup < 0)
		return false;
	sr->rollup = rollup;
	sqlq_init(&q);
	if (rollup) {
		queries_stats_totals_rollup(&q, f);
		sr->totals = run(r, &q);
		if (!sr->totals)
			goto out;
		queries_stats_groups_rollup(&q, f, bucket_s);
	} else {
		queries_stats_once(&q, f, bucket_s);
		sr->totals_at = QUERIES_ONCE_TOTALS;
	}
	sr->groups = run(r, &q);
	if (!sr->groups)
		goto out;
	if (g != GROUP_NONE) {
		build_by(&q, f, g);
		sr->by = run(r, &q);
		if (!sr->by)
			goto out;
	}
	ok = true;
out:
	sqlq_release(&q);
	return ok;
}

void api_stats(struct req *r)
{
	struct stats_results sr = { NULL, NULL, NULL, 0, false, false };
	enum group_by g = GROUP_NONE;
	struct filters f;
	struct qstring qs;
	long long from_ms = 0, to_ms = 0;
	long bucket_s;
	struct jw w;
	char err[256];

	memset(&f, 0, sizeof(f));
	if (qs_parse(&qs, r->query, err, sizeof(err)) < 0 ||
	    filters_parse(&qs, &f, err, sizeof(err)) < 0 ||
	    group_by_parse(&qs, &g, err, sizeof(err)) < 0) {
		reply_bad_request(r, err);
		goto out;
	}
	if (!time_range(r, &f, &from_ms, &to_ms))
		goto out;
	bucket_s = bucket_seconds((to_ms - from_ms) / 1000);
	if (!run_all(r, &f, g, bucket_s, &sr))
		goto out;
	watch_search(r, &f, &sr);
	reply_start(r, 200, "application/json; charset=utf-8", REPLY_NO_STORE, NULL);
	jw_init(&w, reply_sink, r);
	write_stats(&w, &sr, g, from_ms, to_ms, bucket_s);
	reply_write(r, "\n", 1);
out:
	PQclear(sr.totals);
	PQclear(sr.groups);
	PQclear(sr.by);
	filters_release(&f);
	qs_release(&qs);
}

void api_info(struct req *r)
{
	const struct config *c = &r->app->cfg;
	char url[300];
	struct jw w;

	snprintf(url, sizeof(url), strchr(c->proxy_host, ':') ? "http://[%s]:%d" : "http://%s:%d",
		 c->proxy_host, c->proxy_port);
	reply_start(r, 200, "application/json; charset=utf-8", REPLY_NO_STORE, NULL);
	jw_init(&w, reply_sink, r);
	jw_object_begin(&w);
	jw_key(&w, "proxy_url");
	jw_cstring(&w, url);
	jw_key(&w, "page_size");
	jw_int(&w, c->page_size);
	jw_key(&w, "mask_api_key");
	jw_bool(&w, c->mask_api_key);
	jw_object_end(&w);
	reply_write(r, "\n", 1);
}
