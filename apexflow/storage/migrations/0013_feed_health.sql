-- Feed health of live sessions (apexflow.sources.live.health) for the pipeline-health dashboard: one row per
-- source of a session followed live, and one per car (source car_data), from the state the live stage keeps in
-- sessions.meta.feeds. Sessions not followed live have none.
CREATE VIEW reporting.pipeline_feeds AS
SELECT s.session_id AS "Session Key", f.key AS "Source", NULL::text AS "Driver", f.value->>'state' AS "State",
       (f.value->>'messages')::int AS "Messages", (f.value->>'rate_per_s')::float8 AS "Rate (/s)",
       (f.value->>'newest_age_s')::float8 AS "Newest Age (s)", (f.value->>'limit_s')::float8 AS "Limit (s)",
       (f.value->>'stale_repeats')::int AS "Stale Repeats", jsonb_array_length(f.value->'gaps') AS "Gaps",
       s.meta->'live'->>'state' AS "Live"
FROM sessions s, jsonb_each(s.meta->'feeds'->'sources') f
UNION ALL
SELECT s.session_id, 'car_data', c.key, c.value->>'state', (c.value->>'messages')::int,
       (c.value->>'rate_per_s')::float8, (c.value->>'newest_age_s')::float8, (c.value->>'limit_s')::float8,
       (c.value->>'stale_repeats')::int, jsonb_array_length(c.value->'gaps'), s.meta->'live'->>'state'
FROM sessions s, jsonb_each(s.meta->'feeds'->'cars') c;
