-- 012_search_statistics.sql - the planner learns how common a searched word is.
--
-- The column search gets a larger statistics target: its default list
-- of most common words (1,000) held only words found in more than ~20 % of
-- the demo's captures, so the planner took a word in 12 % of them for a rare
-- one (0.5 %) and read all the matches of search=refund&key=... (9,000 table
-- pages) instead of walking the key's index newest first. ANALYZE takes
-- ~20 % longer (3.3 s instead of 2.7 s for a partition of 33,000 captures).
-- It applies from a partition's next ANALYZE: autovacuum analyzes the
-- partitions still filling; run ANALYZE captures once for the older ones.

-- Partitions created later copy no statistics target: capture_partitions_create
-- (sql/001_captures.sql) sets it on each one it makes, see below.
ALTER TABLE captures ALTER COLUMN search SET STATISTICS 1000;

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
            EXECUTE format('ALTER TABLE %I ALTER COLUMN search SET STATISTICS 1000', name);
            made := made + 1;
        EXCEPTION WHEN others THEN
            -- rows for that day already sit in captures_default: leave them there
            RAISE NOTICE 'capture_partitions_create: %: %', name, SQLERRM;
        END;
    END LOOP;
    RETURN made;
END $$;

