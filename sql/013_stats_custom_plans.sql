-- 013_stats_custom_plans.sql - the statistics functions plan each call for its own arguments.
--
-- Their queries filter with "(p_model IS NULL OR c.model = p_model)" and the
-- like. PL/pgSQL plans them for the call's arguments five times, then may
-- keep one generic plan, which must allow every filter: it reads the rows
-- of the table instead of the covering index (captures_stats_idx) and
-- prunes no partition when it plans. At a million captures, after a few
-- calls with other filters, a day's statistics went from 27 ms to 250-400
-- ms; planned per call they stay at 24-27 ms. captures_search_count (005)
-- already does this. A later CREATE OR REPLACE of these functions must keep
-- the SET (tests/integration/team.test.mjs checks it).
ALTER FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text, boolean, text, text)
    SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text, boolean, text, text)
    SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION captures_stats_group_by(text, timestamptz, timestamptz, text, text, integer)
    SET plan_cache_mode = force_custom_plan;
