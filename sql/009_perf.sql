-- 009_perf.sql - a cheaper INSERT for the writer (issue 4: throughput).
--
-- The wide columns are kept compressed in the row (STORAGE MAIN) instead of
-- being moved out of line into the TOAST table. A typical capture (bodies of
-- 1-8 KB, its search text and tsvector) came to ~4 KB, over the 2 KB at
-- which PostgreSQL starts toasting: after compressing the bodies it still
-- moved two or three values out of line, each one more heap insert, TOAST
-- index insert and OID lookup, ~6 % of the writer backend's CPU. With MAIN a
-- value goes out of line only when the compressed row would not fit in a
-- page (about 8 KB), as before for big bodies.
-- Measured with 20,000 captures of the benchmark's chat call: 200 -> 194 us
-- of backend CPU per row, and 123 -> 110 MB on disk (heap 39 MB + TOAST
-- 52 MB -> heap 78 MB, no TOAST). Reading a row, or the tsvector for ranked
-- search, no longer fetches TOAST chunks.
-- The tsvector gets lz4 too (005 kept it out of line, uncompressed, under the
-- pglz default): as MAIN it may be offered to the compressor when a row is
-- long, and lz4 gives up on it quickly where pglz spent time for nothing.
-- Existing rows keep their layout. SET STORAGE reaches every partition and
-- new partitions copy it; SET COMPRESSION is set on each, as in 005.

DO $$
DECLARE
    part regclass;
BEGIN
    ALTER TABLE captures
        ALTER COLUMN request_headers SET STORAGE MAIN,
        ALTER COLUMN request_body SET STORAGE MAIN,
        ALTER COLUMN request_body_bin SET STORAGE MAIN,
        ALTER COLUMN response_headers SET STORAGE MAIN,
        ALTER COLUMN response_body SET STORAGE MAIN,
        ALTER COLUMN response_body_bin SET STORAGE MAIN,
        ALTER COLUMN reply_text SET STORAGE MAIN,
        ALTER COLUMN search_text SET STORAGE MAIN,
        ALTER COLUMN search SET STORAGE MAIN;
    BEGIN
        FOR part IN SELECT 'captures'::regclass
                    UNION ALL
                    SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'captures'::regclass
        LOOP
            EXECUTE format('ALTER TABLE %s ALTER COLUMN search SET COMPRESSION lz4', part);
        END LOOP;
    EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE '009_perf: this server has no lz4; the tsvector stays with pglz';
    END;
END $$;
