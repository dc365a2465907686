-- 005_scale.sql - what keeps the dashboard fast at a million captures and more.
--
-- 1. Storage: pglz spent a quarter of the CPU of every INSERT compressing
--    the bodies and the search text; lz4 compresses several times faster (and
--    reads faster) for ~10 % more bytes. The tsvector hardly ever shrinks by
--    the 25 % pglz asks for, yet pglz tried on every row: it is kept out of
--    line uncompressed. Existing values stay as they are. SET COMPRESSION on
--    the parent does not reach existing partitions (new ones copy it), so each
--    is set too. Servers built without lz4 keep pglz.
-- 2. The filter indexes carry the other filter columns (index-only checks).
-- 3. captures_rollup: calls, failures, latency (sum, max, histogram) and
--    tokens per UTC hour and day and model, so that /api/stats over days or
--    months reads a few thousand rows instead of every capture. Kept current
--    by captures_rollup_refresh(), which a proxy calls every few seconds (no
--    trigger: the writer's INSERT stays as cheap as it was);
--    captures_stats_totals() and captures_stats_groups() answer from it plus
--    the captures it does not cover yet, so answers are exact and current
--    whether or not anyone refreshed (only slower when nobody did).
-- 4. captures_search_count(): the list's count for a search, from the GIN index.

DO $$
DECLARE
    part regclass;
BEGIN
    ALTER TABLE captures ALTER COLUMN search SET STORAGE EXTERNAL;
    BEGIN
        FOR part IN SELECT 'captures'::regclass
                    UNION ALL
                    SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'captures'::regclass
        LOOP
            EXECUTE format('ALTER TABLE %s'
                ' ALTER COLUMN request_body SET COMPRESSION lz4,'
                ' ALTER COLUMN request_body_bin SET COMPRESSION lz4,'
                ' ALTER COLUMN response_body SET COMPRESSION lz4,'
                ' ALTER COLUMN response_body_bin SET COMPRESSION lz4,'
                ' ALTER COLUMN request_headers SET COMPRESSION lz4,'
                ' ALTER COLUMN response_headers SET COMPRESSION lz4,'
                ' ALTER COLUMN reply_text SET COMPRESSION lz4,'
                ' ALTER COLUMN search_text SET COMPRESSION lz4', part);
        END LOOP;
    EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE '005_scale: this server has no lz4; the bodies stay pglz-compressed';
    END;
END $$;

-- --- filters answered from the indexes ------------------------------------------
-- A list filtered on two or three columns (model=gpt-4o&status=4xx&streamed=true)
-- walked one filter's index and read every such row from the table to check
-- the others: 20,000 table pages, 170 ms, for 1,280 matches among 25,000 4xx
-- calls. With the other filter columns in the index too, the check is an
-- index-only scan (8 ms); with the latency and token columns as well, so are
-- the statistics of the failed calls, a status or a key, which the rollup
-- does not split by. Same names and keys as in 002_dashboard.sql.
DROP INDEX captures_status_idx;
CREATE INDEX captures_status_idx ON captures (status, started_at, id)
    INCLUDE (model, outcome, streamed, method, key_fingerprint,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens);
DROP INDEX captures_model_idx;
CREATE INDEX captures_model_idx ON captures (model, started_at, id)
    INCLUDE (status, outcome, streamed, method, key_fingerprint);
DROP INDEX captures_key_idx;
CREATE INDEX captures_key_idx ON captures (key_fingerprint, started_at, id)
    INCLUDE (model, status, outcome, streamed, method,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens);
DROP INDEX captures_failed_idx;
CREATE INDEX captures_failed_idx ON captures (started_at, id)
    INCLUDE (model, status, outcome, streamed, method, key_fingerprint,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens)
    WHERE status >= 400 OR outcome <> 'completed';
COMMENT ON INDEX captures_status_idx IS 'Dashboard: exact status and status-class filters; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_model_idx IS 'Dashboard: model filter, newest first; carries the other filter columns for index-only checks.';
COMMENT ON INDEX captures_key_idx IS 'Dashboard: API key fingerprint filter, newest first; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_failed_idx IS 'Dashboard: the failed calls (status 4xx/5xx or outcome other than completed), newest first; carries the other filter columns and the statistics columns for index-only scans.';

-- --- latency histogram --------------------------------------------------------
-- Bucket 1 holds durations under 1 ms; bucket b >= 2 holds [1.06^(b-2), 1.06^(b-1))
-- ms: 6 % wide, so a percentile read from it (interpolated inside its bucket)
-- is within 3 % of the exact one, usually far closer.
CREATE FUNCTION capture_latency_bucket(ms double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN ms IS NULL THEN NULL
                WHEN ms < 1 THEN 1
                ELSE least(2 + floor(ln(ms) / ln(1.06)), 500) END::smallint
$$;
COMMENT ON FUNCTION capture_latency_bucket(double precision) IS 'Latency histogram bucket of a duration in ms: 1 below 1 ms, else 2 + floor(log base 1.06 of ms) (6 % wide buckets).';

CREATE FUNCTION capture_latency_value(bucket integer, frac double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN bucket <= 1 THEN frac ELSE power(1.06, bucket - 2 + frac) END
$$;
COMMENT ON FUNCTION capture_latency_value(integer, double precision) IS 'The duration in ms at fraction frac (0..1, geometric) of the way through a latency histogram bucket.';

-- --- the rollup ---------------------------------------------------------------
CREATE TABLE captures_rollup (
    period            text             NOT NULL CHECK (period IN ('hour', 'day')),
    at                timestamptz      NOT NULL,
    model             text,
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
    latency_counts    integer[]        NOT NULL
);
CREATE INDEX captures_rollup_at_idx ON captures_rollup (period, at);

COMMENT ON TABLE captures_rollup IS 'Captures summed per UTC hour or day and model, for /api/stats over long ranges; rebuilt from captures by captures_rollup_refresh(), never edited by hand.';
COMMENT ON INDEX captures_rollup_at_idx IS 'The rollup rows of a time range.';
COMMENT ON COLUMN captures_rollup.period IS 'hour or day: the width of the row''s slice of time.';
COMMENT ON COLUMN captures_rollup.at IS 'Start of the UTC hour or day.';
COMMENT ON COLUMN captures_rollup.model IS 'The captures'' model (NULL for calls without one).';
COMMENT ON COLUMN captures_rollup.requests IS 'Number of captures.';
COMMENT ON COLUMN captures_rollup.ok IS 'Captures with status < 400 and outcome completed.';
COMMENT ON COLUMN captures_rollup.client_4xx IS 'Captures with status 400-499.';
COMMENT ON COLUMN captures_rollup.server_5xx IS 'Captures with status >= 500.';
COMMENT ON COLUMN captures_rollup.failed IS 'Captures with status >= 400 or an outcome other than completed.';
COMMENT ON COLUMN captures_rollup.duration_sum IS 'Sum of duration_ms.';
COMMENT ON COLUMN captures_rollup.duration_count IS 'Captures with a duration_ms.';
COMMENT ON COLUMN captures_rollup.duration_max IS 'Largest duration_ms.';
COMMENT ON COLUMN captures_rollup.ttfb_sum IS 'Sum of ttfb_ms.';
COMMENT ON COLUMN captures_rollup.ttfb_count IS 'Captures with a ttfb_ms.';
COMMENT ON COLUMN captures_rollup.prompt_tokens IS 'Sum of prompt_tokens.';
COMMENT ON COLUMN captures_rollup.completion_tokens IS 'Sum of completion_tokens.';
COMMENT ON COLUMN captures_rollup.first_at IS 'Earliest started_at.';
COMMENT ON COLUMN captures_rollup.last_at IS 'Latest started_at.';
COMMENT ON COLUMN captures_rollup.latency_buckets IS 'Latency histogram: the non-empty buckets (capture_latency_bucket), ascending.';
COMMENT ON COLUMN captures_rollup.latency_counts IS 'Latency histogram: the captures in each of latency_buckets.';

CREATE TABLE captures_rollup_state (
    one          boolean     PRIMARY KEY DEFAULT true CHECK (one),
    rolled_until timestamptz,
    checked_at   timestamptz
);
INSERT INTO captures_rollup_state DEFAULT VALUES;
COMMENT ON TABLE captures_rollup_state IS 'How far captures_rollup reaches (one row).';
COMMENT ON COLUMN captures_rollup_state.one IS 'Always true: the table has one row.';
COMMENT ON COLUMN captures_rollup_state.rolled_until IS 'Every UTC hour before this one is in captures_rollup; captures from here on are read from captures itself. NULL before the first refresh.';
COMMENT ON COLUMN captures_rollup_state.checked_at IS 'When the rollup was last compared hour by hour with captures (late captures, deletions).';

CREATE FUNCTION capture_hour(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('hour', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
COMMENT ON FUNCTION capture_hour(timestamptz) IS 'Start of the UTC hour of t.';

CREATE FUNCTION capture_day(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('day', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
COMMENT ON FUNCTION capture_day(timestamptz) IS 'Start of the UTC day of t.';

-- Rebuilds the hour rows of [lo, hi) (whole hours) from captures, then the
-- day rows of the days they touch from the hour rows. Returns the number of
-- hour rows written.
CREATE FUNCTION captures_rollup_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    DELETE FROM captures_rollup WHERE period = 'hour' AND at >= lo AND at < hi;
    WITH raw AS MATERIALIZED (
        SELECT capture_hour(started_at) AS at, model, status, outcome, duration_ms, ttfb_ms,
               prompt_tokens, completion_tokens, started_at
        FROM captures WHERE started_at >= lo AND started_at < hi),
    lat AS (
        SELECT at, model, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT at, model, capture_latency_bucket(duration_ms) AS b, count(*)::integer AS n
              FROM raw WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3) x
        GROUP BY 1, 2),
    agg AS (
        SELECT at, model, count(*) AS requests,
               count(*) FILTER (WHERE status < 400 AND outcome = 'completed') AS ok,
               count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_4xx,
               count(*) FILTER (WHERE status >= 500) AS server_5xx,
               count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,
               sum(duration_ms) AS duration_sum, count(duration_ms) AS duration_count,
               max(duration_ms) AS duration_max, sum(ttfb_ms) AS ttfb_sum, count(ttfb_ms) AS ttfb_count,
               coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens,
               min(started_at) AS first_at, max(started_at) AS last_at
        FROM raw GROUP BY 1, 2)
    INSERT INTO captures_rollup
    SELECT 'hour', agg.*, coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}')
    FROM agg LEFT JOIN lat ON lat.at = agg.at AND lat.model IS NOT DISTINCT FROM agg.model;
    GET DIAGNOSTICS written = ROW_COUNT;

    DELETE FROM captures_rollup
    WHERE period = 'day' AND at >= capture_day(lo) AND at < capture_day(hi - interval '1 microsecond') + interval '1 day';
    WITH hr AS MATERIALIZED (
        SELECT * FROM captures_rollup
        WHERE period = 'hour' AND at >= capture_day(lo)
          AND at < capture_day(hi - interval '1 microsecond') + interval '1 day'),
    lat AS (
        SELECT d, model, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT capture_day(at) AS d, model, u.b, sum(u.n)::integer AS n
              FROM hr, unnest(hr.latency_buckets, hr.latency_counts) AS u(b, n) GROUP BY 1, 2, 3) x
        GROUP BY 1, 2)
    INSERT INTO captures_rollup
    SELECT 'day', s.d, s.model, s.requests, s.ok, s.client_4xx, s.server_5xx, s.failed,
           s.duration_sum, s.duration_count, s.duration_max, s.ttfb_sum, s.ttfb_count,
           s.prompt_tokens, s.completion_tokens, s.first_at, s.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}')
    FROM (SELECT capture_day(at) AS d, model, sum(requests) AS requests, sum(ok) AS ok,
                 sum(client_4xx) AS client_4xx, sum(server_5xx) AS server_5xx, sum(failed) AS failed,
                 sum(duration_sum) AS duration_sum, sum(duration_count) AS duration_count,
                 max(duration_max) AS duration_max, sum(ttfb_sum) AS ttfb_sum,
                 sum(ttfb_count) AS ttfb_count, sum(prompt_tokens) AS prompt_tokens,
                 sum(completion_tokens) AS completion_tokens, min(first_at) AS first_at,
                 max(last_at) AS last_at
          FROM hr GROUP BY 1, 2) s
    LEFT JOIN lat ON lat.d = s.d AND lat.model IS NOT DISTINCT FROM s.model;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_build(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup hour rows of [lo, hi) from captures and the day rows of the days they touch; returns the hour rows written.';

-- Rebuilds the hours of [lo, hi) whose number of captures differs from the
-- rollup's, a run of consecutive hours at a time.
CREATE FUNCTION captures_rollup_fix(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    run record;
    written bigint := 0;
BEGIN
    FOR run IN
        WITH changed AS (
            SELECT at FROM (SELECT capture_hour(started_at) AS at, count(*) AS n FROM captures
                            WHERE started_at >= lo AND started_at < hi GROUP BY 1) c
            FULL JOIN (SELECT at, sum(requests) AS n FROM captures_rollup
                       WHERE period = 'hour' AND at >= lo AND at < hi GROUP BY 1) r USING (at)
            WHERE c.n IS DISTINCT FROM r.n)
        SELECT min(at) AS first_hour, max(at) + interval '1 hour' AS end_hour
        FROM (SELECT at, at - row_number() OVER (ORDER BY at) * interval '1 hour' AS island FROM changed) x
        GROUP BY island ORDER BY 1
    LOOP
        written := written + captures_rollup_build(run.first_hour, run.end_hour);
    END LOOP;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_fix(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup rows of the hours in [lo, hi) whose capture count changed (late captures, deletions); returns the hour rows written.';

-- Adds the hours that ended more than 10 minutes ago (a call still streaming
-- then is stored later: the last two hours are compared again on every call),
-- and once an hour (or when check_all is true) compares every hour with the
-- captures, for captures stored late (spool replay, a bulk load) or deleted,
-- and forgets the hours before the oldest capture. Several proxies may call
-- it: one works, the others return at once.
CREATE FUNCTION captures_rollup_refresh(check_all boolean DEFAULT false) RETURNS bigint
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
        written := written + captures_rollup_fix(oldest, st.rolled_until);
        st.checked_at := now();
    END IF;
    IF st IS DISTINCT FROM was THEN
        UPDATE captures_rollup_state SET rolled_until = st.rolled_until, checked_at = st.checked_at;
    END IF;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_refresh(boolean) IS 'Brings captures_rollup up to the hour that ended 10 minutes ago and corrects the last hours; cheap when nothing changed. Hourly, or with check_all = true (after a bulk load), compares every hour with captures. Call every few seconds (the proxy''s maintenance thread does); returns the hour rows written.';

-- --- statistics from the rollup plus the captures it does not cover -----------
-- The range [lo, hi) is cut into the whole hours the rollup covers, [h0, h1),
-- and the rest, read from captures: the part of an hour at the start and
-- everything from h1 on. lo is never before the oldest capture, so hours
-- that retention emptied partly are read from captures. Percentiles come
-- from the latency histograms (whole days from day rows) when the rollup is
-- used at all, else exactly from the captures.

CREATE FUNCTION captures_stats_totals(p_from timestamptz, p_to timestamptz, p_model text)
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
BEGIN
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
        WHERE c.started_at >= lo AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model);
        RETURN;
    END IF;
    RETURN QUERY
    WITH raw AS MATERIALIZED (
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi) AND (p_model IS NULL OR c.model = p_model)
        UNION ALL
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= h1 AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model)),
    rolled AS MATERIALIZED (
        SELECT * FROM captures_rollup r
        WHERE r.period = 'hour' AND r.at >= h0 AND r.at < h1 AND (p_model IS NULL OR r.model = p_model)),
    parts AS (
        SELECT r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum, r.duration_count,
               r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens, r.first_at, r.last_at
        FROM rolled r
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
            FROM captures_rollup r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.period = 'day' AND r.at >= d0 AND r.at < d1 AND (p_model IS NULL OR r.model = p_model)
            UNION ALL
            SELECT u.b, u.n
            FROM rolled r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.at < d0 OR r.at >= d1
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
COMMENT ON FUNCTION captures_stats_totals(timestamptz, timestamptz, text) IS 'The /api/stats totals of the captures in [p_from, p_to) (NULL: unbounded) of one model (NULL: all), from captures_rollup where it reaches; p50/p95 then from its latency histograms (within 3 %).';

CREATE FUNCTION captures_stats_groups(p_from timestamptz, p_to timestamptz, p_model text,
                                      bucket_s bigint, models_max integer)
RETURNS TABLE (set integer, model text, bucket bigint, requests bigint, failed bigint,
               avg_ms double precision, max_ms double precision, prompt_tokens bigint,
               completion_tokens bigint, rank bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    width interval := make_interval(secs => bucket_s);
BEGIN
    -- hour rows fit only time buckets of whole hours
    IF oldest IS NULL OR bucket_s % 3600 <> 0 THEN
        h1 := h0;
    END IF;
    RETURN QUERY
    WITH g AS (
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch') AS t, r.requests AS n, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens
        FROM captures_rollup r
        WHERE r.period = 'hour' AND r.at >= h0 AND r.at < h1 AND (p_model IS NULL OR r.model = p_model)
        UNION ALL
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch'), count(*),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               sum(c.duration_ms), count(c.duration_ms), max(c.duration_ms),
               sum(c.prompt_tokens), sum(c.completion_tokens)
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi) AND (p_model IS NULL OR c.model = p_model)
        GROUP BY 1, 2
        UNION ALL
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch'), count(*),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               sum(c.duration_ms), count(c.duration_ms), max(c.duration_ms),
               sum(c.prompt_tokens), sum(c.completion_tokens)
        FROM captures c
        WHERE c.started_at >= greatest(h1, lo) AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model)
        GROUP BY 1, 2)
    SELECT * FROM (
        SELECT CASE WHEN GROUPING(g.model) = 0 THEN 1 ELSE 2 END AS set, g.model AS model,
               (extract(epoch FROM g.t) * 1000)::bigint AS bucket, sum(g.n)::bigint AS requests,
               sum(g.failed)::bigint AS failed,
               sum(g.duration_sum) / nullif(sum(g.duration_count), 0) AS avg_ms,
               max(g.duration_max) AS max_ms, coalesce(sum(g.prompt_tokens), 0)::bigint AS prompt_tokens,
               coalesce(sum(g.completion_tokens), 0)::bigint AS completion_tokens,
               row_number() OVER (PARTITION BY GROUPING(g.model) ORDER BY sum(g.n) DESC) AS rank
        FROM g GROUP BY GROUPING SETS ((g.model), (g.t))) t
    WHERE t.set <> 1 OR t.rank <= models_max
    ORDER BY t.set, t.bucket, t.requests DESC;
END $$;
COMMENT ON FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer) IS 'The /api/stats rows per model (set 1, the models_max busiest) and per time bucket of bucket_s seconds (set 2) of the captures in [p_from, p_to) of one model (NULL: all), from captures_rollup where it reaches.';

-- --- counting a search ------------------------------------------------------------
-- How many captures match a search (and time range), stopping at p_cap: the
-- list's count for search=, with the same conditions as where_search() in
-- dashboard_fcgi/queries.c. Planned with bitmap scans only: the planner
-- prices "search @@ query" on a row as nearly free, but each check reads the
-- row's tsvector (~10 KB, out of line), so for a word in most rows it would
-- walk a partition reading 10,000 of them (140 ms) instead of counting from
-- the GIN index (15 ms).
CREATE FUNCTION captures_search_count(p_search text, p_search_like text, p_search_method text,
                                      p_from timestamptz, p_to timestamptz, p_cap bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (SELECT count(*) FROM (
        SELECT FROM captures c
        WHERE (c.search @@ websearch_to_tsquery('simple', p_search)
               OR (p_search_like IS NOT NULL AND (c.path ILIKE p_search_like OR c.id::text ILIKE p_search_like))
               OR (p_search_method IS NOT NULL AND c.method = p_search_method))
          AND (p_from IS NULL OR c.started_at >= p_from)
          AND (p_to IS NULL OR c.started_at < p_to)
        LIMIT p_cap) s);
END $$;
COMMENT ON FUNCTION captures_search_count(text, text, text, timestamptz, timestamptz, bigint) IS 'The list''s count of captures matching a search (full text, or path/id substring, or method) in [p_from, p_to) (NULL: unbounded), stopping at p_cap; planned with bitmap scans so that the words are counted from the GIN index.';
