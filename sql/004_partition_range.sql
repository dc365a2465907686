-- 004_partition_range.sql - create daily partitions for any range of days.
--
-- capture_partitions_ensure() covers yesterday to a week ahead; loading or
-- replaying older captures (make demo-data, a spool from last week) wants
-- their own days too, so that age retention can drop them whole.

CREATE OR REPLACE FUNCTION capture_partitions_create(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
    name text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('capture_partitions'));
    FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date
    LOOP
        name := 'captures_p' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF captures FOR VALUES FROM (%L) TO (%L)',
                           name, d::timestamp AT TIME ZONE 'UTC',
                           (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        EXCEPTION WHEN others THEN
            -- rows for that day already sit in captures_default: leave them there
            RAISE NOTICE 'capture_partitions_create: %: %', name, SQLERRM;
        END;
    END LOOP;
    RETURN made;
END $$;
COMMENT ON FUNCTION capture_partitions_create(date, date) IS 'Creates the daily captures partitions from first_day to last_day (UTC) that do not exist yet; returns how many it created.';

CREATE OR REPLACE FUNCTION capture_partitions_ensure(days_ahead integer DEFAULT 7)
RETURNS integer LANGUAGE sql AS $$
    SELECT capture_partitions_create((now() AT TIME ZONE 'UTC')::date - 1,
                                     (now() AT TIME ZONE 'UTC')::date + days_ahead)
$$;
COMMENT ON FUNCTION capture_partitions_ensure(integer) IS 'Creates daily captures partitions from yesterday to days_ahead days ahead; the proxy calls it at start and hourly.';
