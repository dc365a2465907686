-- 010_rollup_reprice_lock.sql - a price change during a rollup refresh is not lost.
--
-- captures_rollup_refresh() (sql/007_attribution.sql) read
-- captures_rollup_state, built for a while (minutes for a first build over a
-- big table), then wrote the state back. A model_prices change committed in
-- between had its reset (the model_prices_reprice trigger) overwritten, and
-- the rollups kept the old costs for good: captures_rollup_fix() compares
-- counts, not costs. A refresh now holds model_prices still while it runs:
-- a price change waits for it to commit (its reset then stands), and a
-- refresh that finds a price change under way skips its turn. (Taking the
-- refresh's advisory lock in the trigger instead can deadlock with a
-- TRUNCATE model_prices, which holds its table lock before the trigger runs.)
-- As in 007_attribution.sql but for the LOCK.
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
        written := written + captures_rollup_fix(oldest, st.rolled_until);
        st.checked_at := now();
    END IF;
    IF st IS DISTINCT FROM was THEN
        UPDATE captures_rollup_state SET rolled_until = st.rolled_until, checked_at = st.checked_at;
    END IF;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_refresh(boolean) IS 'Brings captures_rollup up to the hour that ended 10 minutes ago and corrects the last hours; cheap when nothing changed. Hourly, or with check_all = true (after a bulk load), compares every hour with captures. Call every few seconds (the proxy''s maintenance thread does); returns the hour rows written, 0 when another refresh or a model_prices change is under way (model_prices stays locked against changes while it runs).';
