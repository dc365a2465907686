/* queries.h - every SQL statement the dashboard runs, in one place.
 *
 * Each builder fills a struct sqlq (initialised by the caller) with SQL made
 * of constant fragments and the request's values as parameters. The column
 * enums give the order of each SELECT list: renderers index results by them.
 * Times travel as microseconds since 1970 (int8), so a cursor round-trips
 * exactly. */
#ifndef QUERIES_H
#define QUERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "pg.h"
#include "query.h"

/* Models listed by /api/stats, the busiest first. */
#define QUERIES_MODELS_MAX 30
/* Filtered counts stop here: the list then says "more than 1,000". Each
 * counted match costs a read of its table page (a search's count cannot be
 * answered from the GIN index alone), so 10,000 cost 100-400 ms where 1,000
 * cost 5-30 ms at a million captures. */
#define QUERIES_COUNT_CAP 1000

enum list_col {
	LC_ID, LC_TIMESTAMP, LC_CURSOR_US, LC_METHOD, LC_PATH, LC_QUERY, LC_STATUS,
	LC_DURATION, LC_TTFB, LC_MODEL, LC_STREAMED, LC_PROMPT_TOKENS,
	LC_COMPLETION_TOKENS, LC_TOTAL_TOKENS, LC_OUTCOME, LC_ERROR, LC_KEY_HINT,
	LC_KEY_FINGERPRINT, LC_REQUEST_SIZE, LC_RESPONSE_SIZE, LC_PREVIEW, LC_INSTANCE,
	LC_USER, LC_SESSION, LC_TAGS, LC_END_USER, LC_COST_USD, LC_SNIPPET
};

/* One page of the list, newest first: page_size + 1 rows (the extra one
 * tells whether there is a next page), after the cursor or at the page's
 * offset. few: the filters match at most QUERIES_COUNT_CAP rows (gather
 * them, then sort). The snippet marks matches between U+E000 and U+E001.
 * LC_TAGS is a text[] in PostgreSQL's text form; LC_COST_USD is what
 * capture_cost() gives (NULL for a model without a price or no usage). */
void queries_list(struct sqlq *q, const struct list_params *lp, bool few);
/* count(*) of the filtered rows, stopping at QUERIES_COUNT_CAP + 1; a search
 * alone through captures_search_count() (sql/005_scale.sql), which counts
 * from the GIN index. */
void queries_count(struct sqlq *q, const struct filters *f);
/* A call's USD on the columns of the row alias a (a string literal),
 * rounded as capture_cost() rounds it, NULL without usage or a price:
 * QUERIES_COST(a) in the SELECT list, QUERIES_PRICE_JOIN(a) after the FROM
 * item a. The join is inlined (~10 us a row); capture_cost() called per row
 * is ~50 us. It joins as pr: its columns (model among them) are then
 * ambiguous unqualified. */
#define QUERIES_PRICE_JOIN(a) \
	" LEFT JOIN LATERAL capture_price_rows(" a ".model, " a ".started_at) pr ON true"
#define QUERIES_COST(a) \
	" CASE WHEN " a ".prompt_tokens IS NOT NULL OR " a ".completion_tokens IS NOT NULL" \
	" THEN round(capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok," \
	" pr.output_per_mtok, " a ".prompt_tokens, " a ".cached_tokens, " a ".completion_tokens)," \
	" 8) END"

/* Planner estimate of all rows (sum of the partitions' reltuples). */
void queries_estimate(struct sqlq *q);

enum detail_col {
	DC_ID, DC_TIMESTAMP, DC_INSTANCE, DC_CLIENT_ADDR, DC_METHOD, DC_PATH, DC_QUERY,
	DC_REQ_HEADERS, DC_REQ_TYPE, DC_REQ_BODY, DC_REQ_BIN_SIZE, DC_REQ_SIZE,
	DC_REQ_TRUNCATED, DC_STATUS, DC_RESP_HEADERS, DC_RESP_TYPE, DC_RESP_BODY,
	DC_RESP_BIN_SIZE, DC_RESP_SIZE, DC_RESP_TRUNCATED, DC_STREAMED, DC_SSE_EVENTS,
	DC_REPLY, DC_MODEL, DC_PROMPT_TOKENS, DC_COMPLETION_TOKENS, DC_TOTAL_TOKENS,
	DC_CACHED_TOKENS, DC_REASONING_TOKENS, DC_FINISH_REASON, DC_OUTCOME, DC_ERROR,
	DC_TTFB, DC_DURATION, DC_KEY_HINT, DC_KEY_FINGERPRINT, DC_ENDED, DC_USER, DC_SESSION,
	DC_TAGS, DC_END_USER, DC_COST_USD
};

/* One capture by id. When the id is a UUID v7, around_ms (its time) bounds
 * started_at to a day either side so only those partitions are read; pass
 * -1 to search every partition. */
void queries_detail(struct sqlq *q, const char *id, int64_t around_ms);

enum body_col { BC_BYTES, BC_CONTENT_TYPE };

/* The stored bytes of one body (response when response is true), as bytea
 * whether it was kept as text or bytes (NULL when none was stored); run in
 * binary format. */
void queries_body(struct sqlq *q, const char *id, int64_t around_ms, bool response);

enum bounds_col { BD_FIRST_US, BD_NOW_US };

/* The oldest capture's time (NULL when there is none, or when first is
 * false) and now. */
void queries_bounds(struct sqlq *q, bool first);

enum totals_col {
	TC_REQUESTS, TC_OK, TC_CLIENT_ERRORS, TC_SERVER_ERRORS, TC_FAILED, TC_AVG_MS,
	TC_P50_MS, TC_P95_MS, TC_AVG_TTFB, TC_PROMPT_TOKENS, TC_COMPLETION_TOKENS,
	TC_FIRST_MS, TC_LAST_MS
};

/* true when the filters are a time range, a model and an instance at most,
 * or a time range, a model, streamed, method and path at most, or a time
 * range, a model and a search: the ones the hourly rollups
 * (sql/005_scale.sql, 007_attribution.sql, 011_rollup_calls.sql,
 * 014_search_rollup.sql) can answer; a search only once it is rolled up
 * (queries_search_rolled). */
bool queries_stats_rollup_fits(const struct filters *f);
/* One row (enum totals_col): counts, average and percentile latency and
 * tokens of the filtered captures, from captures_stats_totals(): the
 * rollup where it reaches, the captures themselves elsewhere; p50/p95 then
 * from latency histograms (within 3 %). Only when
 * queries_stats_rollup_fits(f). */
void queries_stats_totals_rollup(struct sqlq *q, const struct filters *f);
/* One row: whether the rollup of f's search reaches back to f's start
 * (else its statistics are read from the captures), and whether its watch
 * is due to be marked used (queries_search_watch). */
void queries_search_rolled(struct sqlq *q, const struct filters *f);
/* Records that the statistics of f's search were read (a write: run it
 * with pg_write). */
void queries_search_watch(struct sqlq *q, const struct filters *f);

enum groups_col {
	GC_SET, GC_MODEL, GC_BUCKET_MS, GC_REQUESTS, GC_FAILED, GC_AVG_MS, GC_MAX_MS,
	GC_PROMPT_TOKENS, GC_COMPLETION_TOKENS, GC_RANK, GC_COST_USD, GC_UNPRICED
};

/* Rows per model (GC_SET 1, the QUERIES_MODELS_MAX busiest), per time
 * bucket of bucket_s seconds (GC_SET 2, in time order) and one for all
 * (GC_SET 3), from captures_stats_groups(). Each has the USD of its calls
 * with usage and a price (GC_COST_USD, NULL when there are none) and how
 * many calls with usage had no price (GC_UNPRICED). Only when
 * queries_stats_rollup_fits(f). */
void queries_stats_groups_rollup(struct sqlq *q, const struct filters *f, long bucket_s);

/* Where the totals start in a row of queries_stats_once(). */
#define QUERIES_ONCE_TOTALS (GC_UNPRICED + 1)

/* The same rows as queries_stats_groups_rollup(), from the filtered
 * captures, each followed from column QUERIES_ONCE_TOTALS on by the
 * totals (enum totals_col, exact percentiles) of them all: for the filters
 * the rollups do not answer, the captures are read once for both. */
void queries_stats_once(struct sqlq *q, const struct filters *f, long bucket_s);

/* Groups listed by /api/stats?group_by=, the busiest first. */
#define QUERIES_GROUPS_MAX 50

enum group_col {
	GB_KEY, GB_KEY_HINT, GB_REQUESTS, GB_FAILED, GB_PROMPT_TOKENS, GB_COMPLETION_TOKENS,
	GB_COST_USD, GB_UNPRICED, GB_AVG_MS
};

/* The QUERIES_GROUPS_MAX values of grouping g (not GROUP_NONE) with the most
 * filtered captures, then by value (NULL last): GB_KEY is the value as
 * text (NULL for captures without one; a capture is counted once per tag,
 * or once under NULL when it has none), GB_KEY_HINT the key hint for
 * GROUP_KEY (else NULL). */
void queries_group_by(struct sqlq *q, const struct filters *f, enum group_by g);
/* true when captures_stats_group_by() (sql/007_attribution.sql) can answer
 * from the rollups: a time range and an instance at most, and a model too
 * for GROUP_MODEL and GROUP_INSTANCE. */
bool queries_group_by_rollup_fits(const struct filters *f, enum group_by g);
/* The same rows from captures_stats_group_by(). Only when
 * queries_group_by_rollup_fits(f, g). */
void queries_group_by_rollup(struct sqlq *q, const struct filters *f, enum group_by g);

/* " WHERE true AND ..." for every filter set in f, on the unqualified
 * captures columns: the same filters as the list, for export.c. */
void queries_where(struct sqlq *q, const struct filters *f);

#endif
