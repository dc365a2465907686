-- 011_rollup_calls.sql - statistics filtered by streamed, method or path read a rollup too.
--
-- /api/stats?streamed=true (or path=, method=) summed every matching capture,
-- twice: 409,000 rows and 0.9-3 s at a million captures. captures_rollup_calls
-- holds the same sums as captures_rollup (sql/005_scale.sql,
-- 007_attribution.sql) per UTC hour and day, model, streamed, method and
-- path, so those statistics read a few thousand rows instead. A path filter
-- is a substring match: the same ILIKE is applied to each row's path, which
-- holds one path, so the answer stays exact. The rows are built with
-- captures_rollup by captures_rollup_refresh().
--
-- Cheap on a big table: the table starts empty and the rollups are marked
-- stale (as 007 did), so the next refresh rebuilds them all; until then the
-- statistics read the captures, as before. The statistics of a range the
-- rollup does not cover are read from the captures as before.

-- --- the rollup by call -----------------------------------------------------------
CREATE TABLE captures_rollup_calls (
    period            text             NOT NULL CHECK (period IN ('hour', 'day')),
    at                timestamptz      NOT NULL,
    model             text,
    streamed          boolean          NOT NULL,
    method            text             NOT NULL,
    path              text             NOT NULL,
    requests          bigint           NOT NULL,
    ok                bigint           NOT NULL,
    client_4xx        bigint           NOT NULL,
    server_5xx        bigint           NOT NULL,
    failed            bigint           NOT NULL,
    duration_sum      double precision,
    duration_count    bigint           NOT NULL,
    duration_max      double precision,
    ttfb_sum          double precision,
    ttfb_count        bigint           NOT NULL,
    prompt_tokens     bigint           NOT NULL,
    completion_tokens bigint           NOT NULL,
    first_at          timestamptz      NOT NULL,
    last_at           timestamptz      NOT NULL,
    latency_buckets   smallint[]       NOT NULL,
    latency_counts    integer[]        NOT NULL,
    cost_usd          double precision,
    unpriced          bigint           NOT NULL
);
CREATE INDEX captures_rollup_calls_at_idx ON captures_rollup_calls (period, at);
COMMENT ON TABLE captures_rollup_calls IS 'Captures summed per UTC hour or day, model, streamed, method and path, for /api/stats filtered by streamed, method or path; rebuilt from captures by captures_rollup_refresh(), never edited by hand.';
COMMENT ON INDEX captures_rollup_calls_at_idx IS 'The rows of a time range.';
COMMENT ON COLUMN captures_rollup_calls.period IS 'hour or day: the width of the row''s slice of time.';
COMMENT ON COLUMN captures_rollup_calls.at IS 'Start of the UTC hour or day.';
COMMENT ON COLUMN captures_rollup_calls.model IS 'The captures'' model (NULL for calls without one).';
COMMENT ON COLUMN captures_rollup_calls.streamed IS 'Whether the captures were streamed.';
COMMENT ON COLUMN captures_rollup_calls.method IS 'The captures'' HTTP method.';
COMMENT ON COLUMN captures_rollup_calls.path IS 'The captures'' path, whole (a path filter matches it as it matches captures.path).';
COMMENT ON COLUMN captures_rollup_calls.requests IS 'Number of captures.';
COMMENT ON COLUMN captures_rollup_calls.ok IS 'Captures with status < 400 and outcome completed.';
COMMENT ON COLUMN captures_rollup_calls.client_4xx IS 'Captures with status 400-499.';
COMMENT ON COLUMN captures_rollup_calls.server_5xx IS 'Captures with status >= 500.';
COMMENT ON COLUMN captures_rollup_calls.failed IS 'Captures with status >= 400 or an outcome other than completed.';
COMMENT ON COLUMN captures_rollup_calls.duration_sum IS 'Sum of duration_ms.';
COMMENT ON COLUMN captures_rollup_calls.duration_count IS 'Captures with a duration_ms.';
COMMENT ON COLUMN captures_rollup_calls.duration_max IS 'Largest duration_ms.';
COMMENT ON COLUMN captures_rollup_calls.ttfb_sum IS 'Sum of ttfb_ms.';
COMMENT ON COLUMN captures_rollup_calls.ttfb_count IS 'Captures with a ttfb_ms.';
COMMENT ON COLUMN captures_rollup_calls.prompt_tokens IS 'Sum of prompt_tokens.';
COMMENT ON COLUMN captures_rollup_calls.completion_tokens IS 'Sum of completion_tokens.';
COMMENT ON COLUMN captures_rollup_calls.first_at IS 'Earliest started_at.';
COMMENT ON COLUMN captures_rollup_calls.last_at IS 'Latest started_at.';
COMMENT ON COLUMN captures_rollup_calls.latency_buckets IS 'Latency histogram: the non-empty buckets (capture_latency_bucket), ascending.';
COMMENT ON COLUMN captures_rollup_calls.latency_counts IS 'Latency histogram: the captures in each of latency_buckets.';
COMMENT ON COLUMN captures_rollup_calls.cost_usd IS 'USD of the captures with token usage and a price in model_prices (NULL when none had both).';
COMMENT ON COLUMN captures_rollup_calls.unpriced IS 'Captures with token usage whose model has no price: left out of cost_usd.';

-- Rebuilds the captures_rollup_calls hour rows of [lo, hi) (whole hours) from
-- captures, then the day rows of the days they touch from the hour rows.
-- Returns the number of hour rows written.
CREATE FUNCTION captures_rollup_calls_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
    d0 timestamptz := capture_day(lo);
    d1 timestamptz := capture_day(hi - interval '1 microsecond') + interval '1 day';
BEGIN
    DELETE FROM captures_rollup_calls WHERE period = 'hour' AND at >= lo AND at < hi;
    WITH raw AS MATERIALIZED (
        SELECT capture_hour(started_at) AS at, model, streamed, method, path, status, outcome,
               duration_ms, ttfb_ms, prompt_tokens, cached_tokens, completion_tokens, started_at,
               prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL AS used
        FROM captures WHERE started_at >= lo AND started_at < hi),
    lat AS (
        SELECT at, model, streamed, method, path, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT at, model, streamed, method, path, capture_latency_bucket(duration_ms) AS b,
                     count(*)::integer AS n
              FROM raw WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) x
        GROUP BY 1, 2, 3, 4, 5),
    agg AS (
        SELECT at, model, streamed, method, path, count(*) AS requests,
               count(*) FILTER (WHERE status < 400 AND outcome = 'completed') AS ok,
               count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_4xx,
               count(*) FILTER (WHERE status >= 500) AS server_5xx,
               count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,
               sum(duration_ms) AS duration_sum, count(duration_ms) AS duration_count,
               max(duration_ms) AS duration_max, sum(ttfb_ms) AS ttfb_sum, count(ttfb_ms) AS ttfb_count,
               coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens,
               min(started_at) AS first_at, max(started_at) AS last_at,
               sum(cached_tokens) FILTER (WHERE used) AS cached, count(*) FILTER (WHERE used) AS used
        FROM raw GROUP BY 1, 2, 3, 4, 5)
    INSERT INTO captures_rollup_calls
    SELECT 'hour', a.at, a.model, a.streamed, a.method, a.path, a.requests, a.ok, a.client_4xx,
           a.server_5xx, a.failed, a.duration_sum, a.duration_count, a.duration_max, a.ttfb_sum,
           a.ttfb_count, a.prompt_tokens, a.completion_tokens, a.first_at, a.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'),
           CASE WHEN a.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
                pr.output_per_mtok, a.prompt_tokens, a.cached, a.completion_tokens)::float8 END,
           CASE WHEN pr.input_per_mtok IS NULL THEN a.used ELSE 0 END
    FROM agg a
    LEFT JOIN lat ON lat.at = a.at AND lat.model IS NOT DISTINCT FROM a.model AND lat.streamed = a.streamed
                 AND lat.method = a.method AND lat.path = a.path
    LEFT JOIN LATERAL capture_price_rows(a.model, a.at) pr ON true;
    GET DIAGNOSTICS written = ROW_COUNT;

    DELETE FROM captures_rollup_calls WHERE period = 'day' AND at >= d0 AND at < d1;
    WITH hr AS MATERIALIZED (
        SELECT * FROM captures_rollup_calls WHERE period = 'hour' AND at >= d0 AND at < d1),
    lat AS (
        SELECT d, model, streamed, method, path, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT capture_day(at) AS d, model, streamed, method, path, u.b, sum(u.n)::integer AS n
              FROM hr, unnest(hr.latency_buckets, hr.latency_counts) AS u(b, n) GROUP BY 1, 2, 3, 4, 5, 6) x
        GROUP BY 1, 2, 3, 4, 5)
    INSERT INTO captures_rollup_calls
    SELECT 'day', s.d, s.model, s.streamed, s.method, s.path, s.requests, s.ok, s.client_4xx,
           s.server_5xx, s.failed, s.duration_sum, s.duration_count, s.duration_max, s.ttfb_sum,
           s.ttfb_count, s.prompt_tokens, s.completion_tokens, s.first_at, s.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'), s.cost_usd, s.unpriced
    FROM (SELECT capture_day(at) AS d, model, streamed, method, path, sum(requests) AS requests,
                 sum(ok) AS ok, sum(client_4xx) AS client_4xx, sum(server_5xx) AS server_5xx,
                 sum(failed) AS failed, sum(duration_sum) AS duration_sum,
                 sum(duration_count) AS duration_count, max(duration_max) AS duration_max,
                 sum(ttfb_sum) AS ttfb_sum, sum(ttfb_count) AS ttfb_count,
                 sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
                 min(first_at) AS first_at, max(last_at) AS last_at, sum(cost_usd) AS cost_usd,
                 sum(unpriced) AS unpriced
          FROM hr GROUP BY 1, 2, 3, 4, 5) s
    LEFT JOIN lat ON lat.d = s.d AND lat.model IS NOT DISTINCT FROM s.model AND lat.streamed = s.streamed
                 AND lat.method = s.method AND lat.path = s.path;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_calls_build(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup_calls hour rows of [lo, hi) from captures and the day rows of the days they touch; returns the hour rows written.';

-- captures_rollup_build() of 007_attribution.sql builds captures_rollup and
-- captures_rollup_groups; it keeps that work under a new name, and
-- captures_rollup_build() (which captures_rollup_fix() and
-- captures_rollup_refresh() call) now builds captures_rollup_calls too.
ALTER FUNCTION captures_rollup_build(timestamptz, timestamptz) RENAME TO captures_rollup_models_build;
COMMENT ON FUNCTION captures_rollup_models_build(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup hour rows of [lo, hi) from captures, the day rows of the days they touch, and the captures_rollup_groups rows of those hours; returns the hour rows written.';
CREATE FUNCTION captures_rollup_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM captures_rollup_calls_build(lo, hi);
    RETURN captures_rollup_models_build(lo, hi);
END $$;
COMMENT ON FUNCTION captures_rollup_build(timestamptz, timestamptz) IS 'Rebuilds every rollup (captures_rollup, captures_rollup_groups, captures_rollup_calls) for the hours of [lo, hi) and the days they touch; returns the captures_rollup hour rows written.';

-- As in 010_rollup_reprice_lock.sql, and the hours before the oldest capture
-- leave captures_rollup_calls too.
CREATE OR REPLACE FUNCTION captures_rollup_refresh(check_all boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    st captures_rollup_state;
    was captures_rollup_state;
    target timestamptz := capture_hour(now() - interval '10 minutes');
    oldest timestamptz;
    written bigint := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('captures_rollup')) THEN
        RETURN 0;
    END IF;
    BEGIN
        LOCK TABLE model_prices IN SHARE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN 0;
    END;
    SELECT * INTO st FROM captures_rollup_state;
    was := st;
    IF st.rolled_until IS NULL THEN
        SELECT capture_hour(min(started_at)) INTO oldest FROM captures;
        st.rolled_until := least(coalesce(oldest, target), target);
    END IF;
    IF st.rolled_until < target THEN
        written := written + captures_rollup_build(st.rolled_until, target);
        st.rolled_until := target;
    END IF;
    written := written + captures_rollup_fix(st.rolled_until - interval '2 hours', st.rolled_until);
    IF check_all OR st.checked_at IS NULL OR st.checked_at < now() - interval '1 hour' THEN
        SELECT capture_hour(min(started_at)) INTO oldest FROM captures;
        oldest := coalesce(oldest, st.rolled_until);
        DELETE FROM captures_rollup
        WHERE (period = 'hour' AND at < oldest) OR (period = 'day' AND at < capture_day(oldest));
        DELETE FROM captures_rollup_groups WHERE at < oldest;
        DELETE FROM captures_rollup_calls
        WHERE (period = 'hour' AND at < oldest) OR (period = 'day' AND at < capture_day(oldest));
        written := written + captures_rollup_fix(oldest, st.rolled_until);
        st.checked_at := now();
    END IF;
    IF st IS DISTINCT FROM was THEN
        UPDATE captures_rollup_state SET rolled_until = st.rolled_until, checked_at = st.checked_at;
    END IF;
    RETURN written;
END $$;

-- The new table is empty: the next refresh rebuilds every rollup (the
-- statistics read the captures until it has).
UPDATE captures_rollup_state SET rolled_until = NULL, checked_at = NULL;

-- --- statistics ------------------------------------------------------------------
-- As in 007_attribution.sql, and with p_streamed, p_method or p_path (an
-- ILIKE pattern) set, from captures_rollup_calls (not split by instance:
-- p_instance must then be NULL).
DROP FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text);
CREATE FUNCTION captures_stats_totals(p_from timestamptz, p_to timestamptz, p_model text,
                                      p_instance text DEFAULT NULL, p_streamed boolean DEFAULT NULL,
                                      p_method text DEFAULT NULL, p_path text DEFAULT NULL)
RETURNS TABLE (requests bigint, ok bigint, client_4xx bigint, server_5xx bigint, failed bigint,
               avg_ms double precision, p50_ms double precision, p95_ms double precision,
               avg_ttfb double precision, prompt_tokens bigint, completion_tokens bigint,
               first_ms bigint, last_ms bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    d0 timestamptz := capture_day(h0 - interval '1 microsecond') + interval '1 day';
    d1 timestamptz := greatest(d0, capture_day(h1));
    by_call boolean := p_streamed IS NOT NULL OR p_method IS NOT NULL OR p_path IS NOT NULL;
BEGIN
    IF by_call AND p_instance IS NOT NULL THEN
        RAISE EXCEPTION 'captures_stats_totals: captures_rollup_calls is not split by instance';
    END IF;
    IF oldest IS NULL OR h1 <= h0 THEN
        RETURN QUERY
        SELECT count(*), count(*) FILTER (WHERE c.status < 400 AND c.outcome = 'completed'),
               count(*) FILTER (WHERE c.status >= 400 AND c.status < 500),
               count(*) FILTER (WHERE c.status >= 500),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               avg(c.duration_ms),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.duration_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms),
               avg(c.ttfb_ms), coalesce(sum(c.prompt_tokens), 0)::bigint,
               coalesce(sum(c.completion_tokens), 0)::bigint,
               (extract(epoch FROM min(c.started_at)) * 1000)::bigint,
               (extract(epoch FROM max(c.started_at)) * 1000)::bigint
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model)
          AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path);
        RETURN;
    END IF;
    RETURN QUERY
    WITH raw AS MATERIALIZED (
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi)
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
        UNION ALL
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= h1 AND c.started_at < hi
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)),
    sums AS MATERIALIZED (
        -- the rollup rows of [h0, h1): whole days (for the histogram) or the hours around them
        SELECT r.period, r.at, r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum,
               r.duration_count, r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens,
               r.first_at, r.last_at, r.latency_buckets, r.latency_counts
        FROM captures_rollup r
        WHERE NOT by_call AND r.by_instance = (p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance) AND (p_model IS NULL OR r.model = p_model)
          AND ((r.period = 'hour' AND r.at >= h0 AND r.at < h1) OR (r.period = 'day' AND r.at >= d0 AND r.at < d1))
        UNION ALL
        SELECT r.period, r.at, r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum,
               r.duration_count, r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens,
               r.first_at, r.last_at, r.latency_buckets, r.latency_counts
        FROM captures_rollup_calls r
        WHERE by_call AND (p_model IS NULL OR r.model = p_model)
          AND (p_streamed IS NULL OR r.streamed = p_streamed) AND (p_method IS NULL OR r.method = p_method)
          AND (p_path IS NULL OR r.path ILIKE p_path)
          AND ((r.period = 'hour' AND r.at >= h0 AND r.at < h1) OR (r.period = 'day' AND r.at >= d0 AND r.at < d1))),
    parts AS (
        SELECT r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum, r.duration_count,
               r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens, r.first_at, r.last_at
        FROM sums r WHERE r.period = 'hour'
        UNION ALL
        SELECT count(*), count(*) FILTER (WHERE w.status < 400 AND w.outcome = 'completed'),
               count(*) FILTER (WHERE w.status >= 400 AND w.status < 500),
               count(*) FILTER (WHERE w.status >= 500),
               count(*) FILTER (WHERE w.status >= 400 OR w.outcome <> 'completed'),
               sum(w.duration_ms), count(w.duration_ms), sum(w.ttfb_ms), count(w.ttfb_ms),
               coalesce(sum(w.prompt_tokens), 0), coalesce(sum(w.completion_tokens), 0),
               min(w.started_at), max(w.started_at)
        FROM raw w),
    hist AS (
        SELECT b, sum(n) AS n FROM (
            SELECT u.b, u.n
            FROM sums r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.period = 'day' OR r.at < d0 OR r.at >= d1
            UNION ALL
            SELECT capture_latency_bucket(w.duration_ms), 1 FROM raw w WHERE w.duration_ms IS NOT NULL) x
        GROUP BY b),
    cum AS (
        SELECT b, n, sum(n) OVER (ORDER BY b) - n AS before, sum(n) OVER () AS total FROM hist),
    pct AS (
        SELECT q, (SELECT capture_latency_value(c.b, (q * (c.total - 1) - c.before + 0.5) / c.n)
                   FROM cum c WHERE c.before <= q * (c.total - 1) AND q * (c.total - 1) < c.before + c.n) AS v
        FROM unnest(array[0.5, 0.95]) AS q)
    SELECT sum(p.requests)::bigint, sum(p.ok)::bigint, sum(p.client_4xx)::bigint,
           sum(p.server_5xx)::bigint, sum(p.failed)::bigint,
           sum(p.duration_sum) / nullif(sum(p.duration_count), 0),
           (SELECT v FROM pct WHERE q = 0.5), (SELECT v FROM pct WHERE q = 0.95),
           sum(p.ttfb_sum) / nullif(sum(p.ttfb_count), 0),
           sum(p.prompt_tokens)::bigint, sum(p.completion_tokens)::bigint,
           (extract(epoch FROM min(p.first_at)) * 1000)::bigint,
           (extract(epoch FROM max(p.last_at)) * 1000)::bigint
    FROM parts p;
END $$;
COMMENT ON FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text, boolean, text, text) IS 'The /api/stats totals of the captures in [p_from, p_to) (NULL: unbounded) of one model, instance, streamed, method and path pattern (ILIKE) (NULL: all), from captures_rollup (or with streamed, method or path, captures_rollup_calls, which has no instance) where it reaches; p50/p95 then from its latency histograms (within 3 %).';

DROP FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text);
CREATE FUNCTION captures_stats_groups(p_from timestamptz, p_to timestamptz, p_model text,
                                      bucket_s bigint, models_max integer, p_instance text DEFAULT NULL,
                                      p_streamed boolean DEFAULT NULL, p_method text DEFAULT NULL,
                                      p_path text DEFAULT NULL)
RETURNS TABLE (set integer, model text, bucket bigint, requests bigint, failed bigint,
               avg_ms double precision, max_ms double precision, prompt_tokens bigint,
               completion_tokens bigint, rank bigint, cost_usd numeric, unpriced bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    width interval := make_interval(secs => bucket_s);
    by_call boolean := p_streamed IS NOT NULL OR p_method IS NOT NULL OR p_path IS NOT NULL;
BEGIN
    IF by_call AND p_instance IS NOT NULL THEN
        RAISE EXCEPTION 'captures_stats_groups: captures_rollup_calls is not split by instance';
    END IF;
    -- hour rows fit only time buckets of whole hours
    IF oldest IS NULL OR bucket_s % 3600 <> 0 THEN
        h1 := h0;
    END IF;
    RETURN QUERY
    WITH raw AS (
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch') AS t,
               capture_day(c.started_at) AS day, count(*) AS n,
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed') AS failed,
               sum(c.duration_ms) AS duration_sum, count(c.duration_ms) AS duration_count,
               max(c.duration_ms) AS duration_max,
               sum(c.prompt_tokens) AS prompt_tokens, sum(c.completion_tokens) AS completion_tokens,
               sum(c.cached_tokens) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS cached,
               count(*) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS used
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi)
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch'),
               capture_day(c.started_at), count(*),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               sum(c.duration_ms), count(c.duration_ms), max(c.duration_ms),
               sum(c.prompt_tokens), sum(c.completion_tokens),
               sum(c.cached_tokens) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL),
               count(*) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL)
        FROM captures c
        WHERE c.started_at >= greatest(h1, lo) AND c.started_at < hi
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
        GROUP BY 1, 2, 3),
    g AS (
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch') AS t, r.requests AS n, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup r
        WHERE NOT by_call AND r.period = 'hour' AND r.by_instance = (p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)
        UNION ALL
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch'), r.requests, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup_calls r
        WHERE by_call AND r.period = 'hour' AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)
          AND (p_streamed IS NULL OR r.streamed = p_streamed) AND (p_method IS NULL OR r.method = p_method)
          AND (p_path IS NULL OR r.path ILIKE p_path)
        UNION ALL
        SELECT w.model, w.t, w.n, w.failed, w.duration_sum, w.duration_count, w.duration_max,
               w.prompt_tokens, w.completion_tokens,
               CASE WHEN w.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
                    pr.output_per_mtok, w.prompt_tokens, w.cached, w.completion_tokens)::float8 END,
               CASE WHEN pr.input_per_mtok IS NULL THEN w.used ELSE 0 END
        FROM raw w LEFT JOIN LATERAL capture_price_rows(w.model, w.day) pr ON true)
    SELECT * FROM (
        SELECT CASE WHEN GROUPING(g.model) = 0 THEN 1 WHEN GROUPING(g.t) = 0 THEN 2 ELSE 3 END AS set,
               g.model AS model, (extract(epoch FROM g.t) * 1000)::bigint AS bucket,
               sum(g.n)::bigint AS requests, sum(g.failed)::bigint AS failed,
               sum(g.duration_sum) / nullif(sum(g.duration_count), 0) AS avg_ms,
               max(g.duration_max) AS max_ms, coalesce(sum(g.prompt_tokens), 0)::bigint AS prompt_tokens,
               coalesce(sum(g.completion_tokens), 0)::bigint AS completion_tokens,
               row_number() OVER (PARTITION BY GROUPING(g.model), GROUPING(g.t) ORDER BY sum(g.n) DESC) AS rank,
               round(sum(g.cost_usd)::numeric, 8) AS cost_usd, sum(g.unpriced)::bigint AS unpriced
        FROM g GROUP BY GROUPING SETS ((g.model), (g.t), ())) t
    WHERE t.set <> 1 OR t.rank <= models_max
    ORDER BY t.set, t.bucket, t.requests DESC;
END $$;
COMMENT ON FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text, boolean, text, text) IS 'The /api/stats rows per model (set 1, the models_max busiest), per time bucket of bucket_s seconds (set 2) and for the whole range (set 3, with cost_usd and unpriced) of the captures in [p_from, p_to) of one model, instance, streamed, method and path pattern (ILIKE) (NULL: all), from captures_rollup (or with streamed, method or path, captures_rollup_calls, which has no instance) where it reaches.';
