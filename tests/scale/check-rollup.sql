-- tests/scale/check-rollup.sql - the statistics from the rollup equal those from the captures.
--
--   psql -v ON_ERROR_STOP=1 -f tests/scale/check-rollup.sql DATABASE_URL
--
-- For several ranges (all time, the last 7 days, ranges that start and end
-- inside hours and days) and models, compares captures_stats_totals() and
-- captures_stats_groups() (sql/005_scale.sql; by streamed, method and path
-- from captures_rollup_calls, sql/011_rollup_calls.sql) with the same figures computed
-- from captures directly: counts, sums and extremes must be equal, averages
-- equal to 1e-9, p50/p95 within 3 % (they come from 6 % histogram buckets).
-- Raises an error naming the first difference; prints "rollup check: ok".
SET TimeZone = 'UTC';
DO $$
DECLARE
    r record;
    got record;
    want record;
    bad text;
    per_model bigint;
    per_bucket bigint;
BEGIN
    FOR r IN
        SELECT * FROM (VALUES
            (NULL::timestamptz, NULL::timestamptz, NULL::text, NULL::boolean, NULL::text, NULL::text),
            (now() - interval '7 days', NULL, NULL, NULL, NULL, NULL),
            (now() - interval '3 days 5 hours 17 minutes', now() - interval '1 day 3 minutes', NULL, NULL, NULL, NULL),
            (now() - interval '20 days 1 minute', now() - interval '2 days 7 hours', 'gpt-4o', NULL, NULL, NULL),
            (NULL, NULL, 'gpt-4o-mini', NULL, NULL, NULL),
            (now() - interval '26 hours 30 minutes', NULL, NULL, NULL, NULL, NULL),
            (NULL, NULL, NULL, true, NULL, NULL),
            (now() - interval '7 days', NULL, NULL, NULL, NULL, '%responses%'),
            (now() - interval '3 days 5 hours 17 minutes', now() - interval '1 day 3 minutes', 'gpt-4o', false, 'POST', '%CHAT%'),
            (NULL, NULL, NULL, NULL, 'GET', NULL)) AS v(f, t, m, s, me, p)
    LOOP
        SELECT * INTO got FROM captures_stats_totals(r.f, r.t, r.m, NULL, r.s, r.me, r.p);
        SELECT count(*) AS requests,
               count(*) FILTER (WHERE status < 400 AND outcome = 'completed') AS ok,
               count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_4xx,
               count(*) FILTER (WHERE status >= 500) AS server_5xx,
               count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,
               avg(duration_ms) AS avg_ms,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
               avg(ttfb_ms) AS avg_ttfb, coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens,
               (extract(epoch FROM min(started_at)) * 1000)::bigint AS first_ms,
               (extract(epoch FROM max(started_at)) * 1000)::bigint AS last_ms
        INTO want FROM captures
        WHERE (r.f IS NULL OR started_at >= r.f) AND (r.t IS NULL OR started_at < r.t)
          AND (r.m IS NULL OR model = r.m)
          AND (r.s IS NULL OR streamed = r.s) AND (r.me IS NULL OR method = r.me) AND (r.p IS NULL OR path ILIKE r.p);
        bad := CASE
            WHEN got.requests <> want.requests THEN 'requests'
            WHEN got.ok <> want.ok THEN 'ok'
            WHEN got.client_4xx <> want.client_4xx THEN 'client_4xx'
            WHEN got.server_5xx <> want.server_5xx THEN 'server_5xx'
            WHEN got.failed <> want.failed THEN 'failed'
            WHEN got.prompt_tokens <> want.prompt_tokens THEN 'prompt_tokens'
            WHEN got.completion_tokens <> want.completion_tokens THEN 'completion_tokens'
            WHEN got.first_ms <> want.first_ms OR got.last_ms <> want.last_ms THEN 'first/last'
            WHEN abs(got.avg_ms / want.avg_ms - 1) > 1e-9 THEN 'avg_ms'
            WHEN abs(got.avg_ttfb / want.avg_ttfb - 1) > 1e-9 THEN 'avg_ttfb'
            WHEN abs(got.p50_ms / want.p50_ms - 1) > 0.03 THEN 'p50_ms'
            WHEN abs(got.p95_ms / want.p95_ms - 1) > 0.03 THEN 'p95_ms'
        END;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'rollup check: % differs for from=% to=% model=% streamed=% method=% path=%: rollup % / captures %',
                bad, r.f, r.t, r.m, r.s, r.me, r.p, row_to_json(got), row_to_json(want);
        END IF;

        -- per model and per 6-hour bucket: the same counts as grouping the captures
        SELECT count(*) INTO per_model FROM (
            SELECT g.model, g.requests, g.failed, g.prompt_tokens, g.completion_tokens, g.max_ms
            FROM captures_stats_groups(r.f, r.t, r.m, 21600, 1000, NULL, r.s, r.me, r.p) g WHERE g.set = 1
            EXCEPT
            SELECT model, count(*), count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed'),
                   coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), max(duration_ms)
            FROM captures
            WHERE (r.f IS NULL OR started_at >= r.f) AND (r.t IS NULL OR started_at < r.t)
              AND (r.m IS NULL OR model = r.m)
          AND (r.s IS NULL OR streamed = r.s) AND (r.me IS NULL OR method = r.me) AND (r.p IS NULL OR path ILIKE r.p)
            GROUP BY model) d;
        SELECT count(*) INTO per_bucket FROM (
            SELECT g.bucket, g.requests FROM captures_stats_groups(r.f, r.t, r.m, 21600, 1000, NULL, r.s, r.me, r.p) g WHERE g.set = 2
            EXCEPT
            SELECT (extract(epoch FROM date_bin(interval '6 hours', started_at, timestamptz 'epoch')) * 1000)::bigint,
                   count(*)
            FROM captures
            WHERE (r.f IS NULL OR started_at >= r.f) AND (r.t IS NULL OR started_at < r.t)
              AND (r.m IS NULL OR model = r.m)
          AND (r.s IS NULL OR streamed = r.s) AND (r.me IS NULL OR method = r.me) AND (r.p IS NULL OR path ILIKE r.p)
            GROUP BY 1) d;
        IF per_model <> 0 OR per_bucket <> 0 THEN
            RAISE EXCEPTION 'rollup check: % model rows and % time buckets differ for from=% to=% model=% streamed=% method=% path=%',
                per_model, per_bucket, r.f, r.t, r.m, r.s, r.me, r.p;
        END IF;
    END LOOP;
    RAISE NOTICE 'rollup check: ok';
END $$;
