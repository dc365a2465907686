/* queries.c - the dashboard's SQL, built from constant fragments and parameters. */
#include <stdio.h>
#include <time.h>

#include "queries.h"
#include "banned.h"

/* A timestamptz from a parameter holding microseconds since 1970. */
#define TS_PARAM "(timestamptz 'epoch' + interval '1 microsecond' * $%d::int8)"

static void where_search(struct sqlq *q, const struct filters *f)
{
	int s = sqlq_param(q, f->search);

	sqlq_add(q, " AND (search @@ websearch_to_tsquery('simple', $%d)", s);
	if (f->search_like) {
		int l = sqlq_param(q, f->search_like);

		sqlq_add(q, " OR path ILIKE $%d OR id::text ILIKE $%d", l, l);
	}
	if (f->search_method)
		sqlq_add(q, " OR method = $%d", sqlq_param(q, f->search_method));
	sqlq_add(q, ")");
}

static void where_status(struct sqlq *q, const struct filters *f)
{
	if (f->failed)
		sqlq_add(q, " AND (status >= 400 OR outcome <> 'completed')");
	if (f->status_lo == f->status_hi && f->status_lo)
		sqlq_add(q, " AND status = $%d", sqlq_param_long(q, f->status_lo));
	else if (f->status_lo)
		sqlq_add(q, " AND status >= $%d AND status <= $%d",
			 sqlq_param_long(q, f->status_lo), sqlq_param_long(q, f->status_hi));
}

/* Who made the call: exact matches, a tag as an element of capture_tags. */
static void where_attribution(struct sqlq *q, const struct filters *f)
{
	if (f->instance)
		sqlq_add(q, " AND instance = $%d", sqlq_param(q, f->instance));
	if (f->user)
		sqlq_add(q, " AND capture_user = $%d", sqlq_param(q, f->user));
	if (f->end_user)
		sqlq_add(q, " AND end_user = $%d", sqlq_param(q, f->end_user));
	if (f->session)
		sqlq_add(q, " AND capture_session = $%d", sqlq_param(q, f->session));
	if (f->tag)
		sqlq_add(q, " AND capture_tags @> ARRAY[$%d::text]", sqlq_param(q, f->tag));
}

/* " WHERE …" for every filter that is set (at least "WHERE true"). */
static void where_filters(struct sqlq *q, const struct filters *f)
{
	sqlq_add(q, " WHERE true");
	if (f->has_from)
		sqlq_add(q, " AND started_at >= " TS_PARAM, sqlq_param_long(q, f->from_us));
	if (f->has_to)
		sqlq_add(q, " AND started_at < " TS_PARAM, sqlq_param_long(q, f->to_us));
	if (f->search)
		where_search(q, f);
	if (f->model)
		sqlq_add(q, " AND model = $%d", sqlq_param(q, f->model));
	where_status(q, f);
	if (f->method)
		sqlq_add(q, " AND method = $%d", sqlq_param(q, f->method));
	if (f->path_like)
		sqlq_add(q, " AND path ILIKE $%d", sqlq_param(q, f->path_like));
	if (f->streamed >= 0)
		sqlq_add(q, " AND streamed = $%d", sqlq_param(q, f->streamed ? "true" : "false"));
	if (f->key)
		sqlq_add(q, " AND key_fingerprint = $%d", sqlq_param(q, f->key));
	if (f->outcome)
		sqlq_add(q, " AND outcome = $%d", sqlq_param(q, f->outcome));
	where_attribution(q, f);
}

void queries_where(struct sqlq *q, const struct filters *f)
{
	where_filters(q, f);
}

/* ts_headline reads the whole text it is given: give it the start only, and
 * without the two marker characters, so a capture cannot fake a match. */
static void snippet_expr(struct sqlq *q, const struct filters *f)
{
	if (!f->search) {
		sqlq_add(q, ", NULL");
		return;
	}
	sqlq_add(q, ", ts_headline('simple', translate(left(p.search_text, 20000), "
		 "E'\\uE000\\uE001', ''), websearch_to_tsquery('simple', $%d), "
		 "E'StartSel=\\uE000, StopSel=\\uE001, MaxWords=28, MinWords=10, "
		 "MaxFragments=2, FragmentDelimiter=\" … \"')",
		 sqlq_param(q, f->search));
}

#define LIST_COLUMNS \
	" id, started_at, method, left(path, 2048) AS path," \
	" left(query, 2048) AS query, status, duration_ms, ttfb_ms," \
	" left(model, 256) AS model, streamed, prompt_tokens, completion_tokens," \
	" total_tokens, outcome, left(error, 512) AS error, key_hint, key_fingerprint," \
	" request_body_size, response_body_size, reply_text, search_text, instance," \
	" capture_user, capture_session, capture_tags, end_user, cached_tokens"

/* " WHERE …" of the list: the filters, and the cursor when there is one. */
static void list_where(struct sqlq *q, const struct list_params *lp)
{
	where_filters(q, &lp->f);
	if (lp->has_cursor) {
		int t = sqlq_param_long(q, lp->cursor.us);
		int i = sqlq_param(q, lp->cursor.id);

		sqlq_add(q, " AND (started_at, id) < (" TS_PARAM ", $%d::uuid)", t, i);
	}
}

/* " ORDER BY … LIMIT … [OFFSET …]": the page, newest first. */
static void list_page(struct sqlq *q, const struct list_params *lp)
{
	sqlq_add(q, " ORDER BY started_at DESC, id DESC LIMIT $%d",
		 sqlq_param_long(q, lp->page_size + 1));
	if (!lp->has_cursor && lp->page > 1)
		sqlq_add(q, " OFFSET $%d",
			 sqlq_param_long(q, (long long)(lp->page - 1) * lp->page_size));
}

/* The keys of the matches from older_days before hi (0: from the first)
 * up to newer_days before it (0: to the last), newest first, gathered in
 * full by the CTE named cte, which PostgreSQL runs only when the query
 * asks for its first row. hi is a timestamptz constant, so that the
 * planner leaves out the partitions outside the slice (a slice planned
 * over 31 partitions costs ~5 ms; TS_PARAM is not a constant). */
static void few_slice(struct sqlq *q, const struct list_params *lp, const char *cte,
		      long long hi_us, int newer_days, int older_days)
{
	sqlq_add(q, " %s AS MATERIALIZED (SELECT id, started_at FROM captures", cte);
	list_where(q, lp);
	if (newer_days)
		sqlq_add(q, " AND started_at < $%d::timestamptz",
			 sqlq_param_time(q, hi_us - newer_days * 86400000000LL));
	if (older_days)
		sqlq_add(q, " AND started_at >= $%d::timestamptz",
			 sqlq_param_time(q, hi_us - older_days * 86400000000LL));
	sqlq_add(q, ")");
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Where the newest matches are looked for first: the last day, the six
 * before it, then the rest (days before the cursor, the end of the range
 * or now: another clock than the database's only moves the edges). */
#define FEW_NEWEST_DAYS 1
#define FEW_WEEK_DAYS 7

/* The keys of the page's rows when few rows match: each slice's matches
 * are gathered through their indexes and sorted; a slice is read only when
 * the newer ones held less than the page (at a million captures a rare
 * word read its 600 scattered table pages for one page; now the last
 * week's share of them). */
static void few_keys(struct sqlq *q, const struct list_params *lp)
{
	long long upto = (long long)(lp->has_cursor ? 1 : lp->page) * lp->page_size + 1;
	long long hi = lp->has_cursor ? lp->cursor.us : lp->f.has_to ? lp->f.to_us : now_us();

	sqlq_add(q, " FROM (WITH");
	few_slice(q, lp, "h1", hi, 0, FEW_NEWEST_DAYS);
	sqlq_add(q, ",");
	few_slice(q, lp, "h2", hi, FEW_NEWEST_DAYS, FEW_WEEK_DAYS);
	sqlq_add(q, ",");
	few_slice(q, lp, "h3", hi, FEW_WEEK_DAYS, 0);
	sqlq_add(q,
		 " SELECT id AS k_id, started_at AS k_at FROM ("
		 "(SELECT * FROM h1 ORDER BY started_at DESC, id DESC) UNION ALL"
		 " (SELECT * FROM h2 ORDER BY started_at DESC, id DESC) UNION ALL"
		 " (SELECT * FROM h3 ORDER BY started_at DESC, id DESC) LIMIT $%d) w",
		 sqlq_param_long(q, upto));
	list_page(q, lp);
	sqlq_add(q, ") k");
}

/* The rows of the page, from the filtered rows: walking newest first and
 * stopping after the page (many matches), or from the keys few_keys()
 * finds (few: the planner, hoping to find a LIMIT's worth early, would
 * otherwise walk the whole table for a rare word), reading the wide
 * columns of the page's rows only. */
static void list_rows(struct sqlq *q, const struct list_params *lp, bool few)
{
	if (few) {
		sqlq_add(q, " FROM (SELECT" LIST_COLUMNS);
		few_keys(q, lp);
		sqlq_add(q, " JOIN captures c ON c.id = k.k_id AND c.started_at = k.k_at) p");
	} else {
		sqlq_add(q, " FROM (SELECT" LIST_COLUMNS " FROM captures");
		list_where(q, lp);
		list_page(q, lp);
		sqlq_add(q, ") p");
	}
	/* priced here, on the page's rows only: capture_cost() per row is 50 us */
	sqlq_add(q, QUERIES_PRICE_JOIN("p") " ORDER BY p.started_at DESC, p.id DESC");
}

void queries_list(struct sqlq *q, const struct list_params *lp, bool few)
{
	sqlq_add(q,
		 "SELECT p.id, to_char(p.started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " (extract(epoch FROM p.started_at) * 1000000)::int8,"
		 " p.method, p.path, p.query, p.status, p.duration_ms, p.ttfb_ms, p.model,"
		 " p.streamed, p.prompt_tokens, p.completion_tokens, p.total_tokens,"
		 " p.outcome, p.error, p.key_hint, p.key_fingerprint,"
		 " p.request_body_size, p.response_body_size,"
		 " left(coalesce(p.reply_text, ''), 240), p.instance, p.capture_user,"
		 " p.capture_session, p.capture_tags, p.end_user," QUERIES_COST("p"));
	snippet_expr(q, &lp->f);
	list_rows(q, lp, few);
}

/* true when the filters are a search and a time range at most. */
static bool search_only(const struct filters *f)
{
	struct filters other = *f;

	if (!f->search)
		return false;
	other.search = NULL;
	other.has_from = other.has_to = false;
	return !filters_any(&other);
}

/* A search alone is counted by captures_search_count() (sql/005_scale.sql),
 * which counts from the GIN index: planned here, a word found in most rows
 * would be checked row by row, reading each row's tsvector. */
static void count_search(struct sqlq *q, const struct filters *f)
{
	int s = sqlq_param(q, f->search);
	int l = sqlq_param(q, f->search_like);
	int m = sqlq_param(q, f->search_method);
	int from = f->has_from ? sqlq_param_long(q, f->from_us) : sqlq_param(q, NULL);
	int to = f->has_to ? sqlq_param_long(q, f->to_us) : sqlq_param(q, NULL);

	sqlq_add(q, "SELECT captures_search_count($%d, $%d, $%d, " TS_PARAM ", " TS_PARAM ", $%d)",
		 s, l, m, from, to, sqlq_param_long(q, QUERIES_COUNT_CAP + 1));
}

void queries_count(struct sqlq *q, const struct filters *f)
{
	if (search_only(f)) {
		count_search(q, f);
		return;
	}
	sqlq_add(q, "SELECT count(*) FROM (SELECT 1 FROM captures");
	where_filters(q, f);
	sqlq_add(q, " LIMIT $%d) s", sqlq_param_long(q, QUERIES_COUNT_CAP + 1));
}

void queries_estimate(struct sqlq *q)
{
	sqlq_add(q,
		 "SELECT coalesce(sum(c.reltuples) FILTER (WHERE c.reltuples > 0), 0)::int8"
		 " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
		 " WHERE i.inhparent = 'captures'::regclass");
}

/* id = $1, and when the id tells its time, started_at within a day of it. */
static void where_id(struct sqlq *q, const char *id, int64_t around_ms)
{
	sqlq_add(q, " WHERE id = $%d::uuid", sqlq_param(q, id));
	if (around_ms >= 0) {
		int lo = sqlq_param_long(q, (around_ms - 86400000LL) * 1000);
		int hi = sqlq_param_long(q, (around_ms + 86400000LL) * 1000);

		sqlq_add(q, " AND started_at >= " TS_PARAM " AND started_at < " TS_PARAM, lo, hi);
	}
	sqlq_add(q, " LIMIT 1");
}

void queries_detail(struct sqlq *q, const char *id, int64_t around_ms)
{
	sqlq_add(q,
		 "SELECT id, to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " instance, client_addr, method, path, query,"
		 " request_headers::text, request_content_type, request_body,"
		 " octet_length(request_body_bin), request_body_size, request_body_truncated,"
		 " status, response_headers::text, response_content_type, response_body,"
		 " octet_length(response_body_bin), response_body_size, response_body_truncated,"
		 " streamed, sse_events, reply_text, model, prompt_tokens, completion_tokens,"
		 " total_tokens, cached_tokens, reasoning_tokens, finish_reason, outcome, error,"
		 " ttfb_ms, duration_ms, key_hint, key_fingerprint,"
		 " to_char(started_at + coalesce(duration_ms, 0) * interval '1 millisecond',"
		 " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " capture_user, capture_session, capture_tags, end_user,"
		 " capture_cost(model, started_at, prompt_tokens, cached_tokens, completion_tokens)"
		 " FROM captures");
	where_id(q, id, around_ms);
}

void queries_body(struct sqlq *q, const char *id, int64_t around_ms, bool response)
{
	if (response)
		sqlq_add(q, "SELECT coalesce(response_body_bin, convert_to(response_body, 'UTF8')),"
			 " response_content_type FROM captures");
	else
		sqlq_add(q, "SELECT coalesce(request_body_bin, convert_to(request_body, 'UTF8')),"
			 " request_content_type FROM captures");
	where_id(q, id, around_ms);
}

void queries_bounds(struct sqlq *q, bool first)
{
	/* min() is planned over every partition and its indexes: skipped when
	 * the range has its start */
	sqlq_add(q, first ? "SELECT (extract(epoch FROM (SELECT min(started_at) FROM captures))"
		 " * 1000000)::int8," : "SELECT NULL::int8,");
	sqlq_add(q, " (extract(epoch FROM now()) * 1000000)::int8");
}

/* The totals of /api/stats over the rows of the FROM that follows (enum
 * totals_col). */
#define TOTALS_COLS \
	" count(*)," \
	" count(*) FILTER (WHERE status < 400 AND outcome = 'completed')," \
	" count(*) FILTER (WHERE status >= 400 AND status < 500)," \
	" count(*) FILTER (WHERE status >= 500)," \
	" count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed')," \
	" avg(duration_ms)," \
	" percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)," \
	" percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)," \
	" avg(ttfb_ms), coalesce(sum(prompt_tokens), 0)," \
	" coalesce(sum(completion_tokens), 0)," \
	" (extract(epoch FROM min(started_at)) * 1000)::int8," \
	" (extract(epoch FROM max(started_at)) * 1000)::int8"

/* Token sums of a group of calls with usage: "used" calls, of which the
 * cached input tokens (the other sums include only calls with usage anyway). */
#define USAGE_SUMS \
	" sum(cached_tokens) FILTER (WHERE prompt_tokens IS NOT NULL" \
	" OR completion_tokens IS NOT NULL) AS cached," \
	" count(*) FILTER (WHERE prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL) AS used"

/* Cost and unpriced calls of a row of g (model, sums), priced by the
 * lateral pr (capture_price_rows: no row when the model has no price). */
#define GROUP_COST \
	" CASE WHEN g.used > 0 THEN capture_cost_tokens(pr.input_per_mtok," \
	" pr.cached_input_per_mtok, pr.output_per_mtok, g.prompt, g.cached, g.completion) END" \
	" AS cost, CASE WHEN pr.input_per_mtok IS NULL THEN g.used ELSE 0 END AS unpriced"

/* " g AS (…" summing the rows of the FROM that follows per model and
 * "sub" (the time bucket, or its UTC day when buckets are longer) in one
 * hashed pass; the few groups are then given their bucket and priced
 * (prices change by day) and rolled up per model, per bucket and in all
 * (see groups_rows). Sorting a million rows per grouping set costs several
 * times more. One date_bin is all the time arithmetic per row: the epoch in
 * ms (a numeric) and the day cost ~20 % of the query when done per row.
 * The caller ends it with " GROUP BY 1, 2),". */
static void groups_sums(struct sqlq *q, long bucket_s)
{
	sqlq_add(q,
		 " g AS (SELECT model,"
		 " date_bin(interval '1 second' * $%d::int8, started_at, timestamptz 'epoch') AS sub,"
		 " count(*) AS n,"
		 " count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,"
		 " sum(duration_ms) AS dur_sum, count(duration_ms) AS dur_n,"
		 " max(duration_ms) AS dur_max,"
		 " sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion," USAGE_SUMS,
		 sqlq_param_long(q, bucket_s < 86400 ? bucket_s : 86400));
}

/* The rows of enum groups_col from g, each followed by the one row of
 * totals. Buckets are whole days when longer than one (bucket_seconds), so
 * the days of sub nest in them. */
static void groups_rows(struct sqlq *q, long bucket_s)
{
	int b = sqlq_param_long(q, bucket_s);

	/* a row per model, but not per each of a million made-up model names */
	sqlq_add(q,
		 " c AS (SELECT g.*, date_bin(interval '1 second' * $%d::int8, g.sub,"
		 " timestamptz 'epoch') AS bucket," GROUP_COST
		 " FROM g LEFT JOIN LATERAL capture_price_rows(g.model, capture_day(g.sub)) pr ON true)"
		 " SELECT * FROM (SELECT CASE WHEN GROUPING(model) = 0 THEN 1"
		 " WHEN GROUPING(bucket) = 0 THEN 2 ELSE 3 END AS set,"
		 " model, (extract(epoch FROM bucket) * 1000)::int8 AS bucket, sum(n) AS requests,"
		 " sum(failed), sum(dur_sum) / nullif(sum(dur_n), 0), max(dur_max),"
		 " coalesce(sum(prompt), 0), coalesce(sum(completion), 0),"
		 " row_number() OVER (PARTITION BY GROUPING(model), GROUPING(bucket)"
		 " ORDER BY sum(n) DESC) AS rank,"
		 " round(sum(cost), 8), sum(unpriced)"
		 " FROM c GROUP BY GROUPING SETS ((model), (bucket), ())) t CROSS JOIN totals"
		 " WHERE set <> 1 OR rank <= $%d ORDER BY set, bucket, requests DESC",
		 b, sqlq_param_long(q, QUERIES_MODELS_MAX));
}

/* The matching captures are read once into m (a search's matches are
 * scattered: each costs a read of its table page), then summed twice. */
void queries_stats_once(struct sqlq *q, const struct filters *f, long bucket_s)
{
	sqlq_add(q,
		 "WITH m AS MATERIALIZED (SELECT model, started_at, status, outcome, duration_ms,"
		 " ttfb_ms, prompt_tokens, completion_tokens, cached_tokens FROM captures");
	where_filters(q, f);
	sqlq_add(q, "), totals AS (SELECT" TOTALS_COLS " FROM m),");
	groups_sums(q, bucket_s);
	sqlq_add(q, " FROM m GROUP BY 1, 2),");
	groups_rows(q, bucket_s);
}

/* true when f sets nothing but the time range and, if allowed, a model and
 * an instance. */
static bool only_time(const struct filters *f, bool model_instance)
{
	struct filters other = *f;

	other.has_from = other.has_to = false;
	if (model_instance) {
		other.model = NULL;
		other.instance = NULL;
	}
	return !filters_any(&other);
}

/* The rollups split by model, and either by instance (captures_rollup), by
 * streamed, method and path (captures_rollup_calls, sql/011_rollup_calls.sql)
 * or by a watched search (captures_rollup_searches, sql/014_search_rollup.sql). */
bool queries_stats_rollup_fits(const struct filters *f)
{
	struct filters other = *f;

	if (f->instance)
		return only_time(f, true);
	if (f->search) {
		other.search = NULL;
		return only_time(&other, true);
	}
	other.streamed = -1;
	other.method = NULL;
	other.path_like = NULL;
	return only_time(&other, true);
}

/* "$from, $to, $model" of a rollup function: NULL when not filtered. */
static void rollup_args(struct sqlq *q, const struct filters *f)
{
	int from = f->has_from ? sqlq_param_long(q, f->from_us) : sqlq_param(q, NULL);
	int to = f->has_to ? sqlq_param_long(q, f->to_us) : sqlq_param(q, NULL);

	sqlq_add(q, TS_PARAM ", " TS_PARAM ", $%d::text", from, to, sqlq_param(q, f->model));
}

/* "$search, $search_like, $search_method": a search as where_search
 * matches it (NULL when f has none). */
static void search_args(struct sqlq *q, const struct filters *f)
{
	int s = sqlq_param(q, f->search);
	int l = sqlq_param(q, f->search_like);

	sqlq_add(q, "$%d::text, $%d::text, $%d::text", s, l, sqlq_param(q, f->search_method));
}

/* ", $instance, $streamed, $method, $path, <search_args>" of the statistics
 * functions: NULL when not filtered. */
static void rollup_call_args(struct sqlq *q, const struct filters *f)
{
	const char *streamed = f->streamed < 0 ? NULL : f->streamed ? "true" : "false";
	int i = sqlq_param(q, f->instance);
	int s = sqlq_param(q, streamed);

	sqlq_add(q, ", $%d::text, $%d::boolean, $%d::text, $%d::text, ", i, s,
		 sqlq_param(q, f->method), sqlq_param(q, f->path_like));
	search_args(q, f);
}

void queries_search_rolled(struct sqlq *q, const struct filters *f)
{
	int from = f->has_from ? sqlq_param_long(q, f->from_us) : sqlq_param(q, NULL);

	sqlq_add(q, "SELECT rolled, stale FROM captures_search_rolled(");
	search_args(q, f);
	sqlq_add(q, ", " TS_PARAM ")", from);
}

void queries_search_watch(struct sqlq *q, const struct filters *f)
{
	sqlq_add(q, "SELECT captures_search_watch(");
	search_args(q, f);
	sqlq_add(q, ")");
}

void queries_stats_totals_rollup(struct sqlq *q, const struct filters *f)
{
	sqlq_add(q, "SELECT * FROM captures_stats_totals(");
	rollup_args(q, f);
	rollup_call_args(q, f);
	sqlq_add(q, ")");
}

void queries_stats_groups_rollup(struct sqlq *q, const struct filters *f, long bucket_s)
{
	int b = sqlq_param_long(q, bucket_s);

	sqlq_add(q, "SELECT * FROM captures_stats_groups(");
	rollup_args(q, f);
	sqlq_add(q, ", $%d::int8, $%d::int4", b, sqlq_param_long(q, QUERIES_MODELS_MAX));
	rollup_call_args(q, f);
	sqlq_add(q, ")");
}

/* The column of captures that grouping g is by (constant SQL). */
static void group_key(struct sqlq *q, enum group_by g)
{
	switch (g) {
	case GROUP_MODEL:
		sqlq_add(q, "model");
		break;
	case GROUP_INSTANCE:
		sqlq_add(q, "instance");
		break;
	case GROUP_USER:
		sqlq_add(q, "capture_user");
		break;
	case GROUP_END_USER:
		sqlq_add(q, "end_user");
		break;
	case GROUP_SESSION:
		sqlq_add(q, "capture_session");
		break;
	case GROUP_TAG:
		sqlq_add(q, "group_tag.tag");
		break;
	case GROUP_KEY:
		sqlq_add(q, "key_fingerprint");
		break;
	case GROUP_STATUS:
		sqlq_add(q, "status::text");
		break;
	case GROUP_PATH:
	case GROUP_NONE:
		sqlq_add(q, "left(path, 2048)");
		break;
	}
}

/* Sums per (key, model, day) in one hashed pass, priced per model and day,
 * then added up per key. A capture with tags is counted once per tag (the
 * same keys as captures_group_sums() in sql/007_attribution.sql). */
void queries_group_by(struct sqlq *q, const struct filters *f, enum group_by g)
{
	sqlq_add(q, "WITH g AS (SELECT ");
	group_key(q, g);
	sqlq_add(q, g == GROUP_KEY ? " AS key, max(key_hint) AS key_hint," :
		 " AS key, NULL::text AS key_hint,");
	sqlq_add(q,
		 " model, date_bin(interval '1 day', started_at, timestamptz 'epoch') AS day,"
		 " count(*) AS n,"
		 " count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,"
		 " sum(duration_ms) AS dur_sum, count(duration_ms) AS dur_n,"
		 " sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion," USAGE_SUMS
		 " FROM captures");
	if (g == GROUP_TAG)
		sqlq_add(q, " CROSS JOIN LATERAL unnest(coalesce(nullif(capture_tags, '{}'),"
			 " '{NULL}')) AS group_tag(tag)");
	where_filters(q, f);
	sqlq_add(q,
		 " GROUP BY 1, 3, 4),"
		 " c AS (SELECT g.*," GROUP_COST
		 " FROM g LEFT JOIN LATERAL capture_price_rows(g.model, g.day) pr ON true)"
		 " SELECT key, max(key_hint), sum(n) AS requests, sum(failed),"
		 " coalesce(sum(prompt), 0), coalesce(sum(completion), 0), round(sum(cost), 8),"
		 " sum(unpriced), sum(dur_sum) / nullif(sum(dur_n), 0)"
		 " FROM c GROUP BY key ORDER BY requests DESC, key NULLS LAST LIMIT $%d",
		 sqlq_param_long(q, QUERIES_GROUPS_MAX));
}

bool queries_group_by_rollup_fits(const struct filters *f, enum group_by g)
{
	struct filters other = *f;

	if (g == GROUP_MODEL || g == GROUP_INSTANCE)
		return only_time(f, true);
	other.instance = NULL;
	return only_time(&other, false);
}

void queries_group_by_rollup(struct sqlq *q, const struct filters *f, enum group_by g)
{
	int dim = sqlq_param(q, group_by_name(g));

	sqlq_add(q, "SELECT * FROM captures_stats_group_by($%d, ", dim);
	rollup_args(q, f);
	sqlq_add(q, ", $%d::text, $%d::int4)", sqlq_param(q, f->instance),
		 sqlq_param_long(q, QUERIES_GROUPS_MAX));
}
