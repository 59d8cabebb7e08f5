-- What the session report tells, from the reporting schema alone (the read-only login renders it too):
-- the session's own start (its clock's zero plus when it started), how that clock was found, which streams the
-- source lacks (keys, for one short line), and each detection's evidence (for sentences, not key: value dumps).
CREATE OR REPLACE VIEW reporting.dim_session AS
SELECT s.session_id AS "Session Key",
       concat_ws(' ', s.year, coalesce(s.event, s.session_id), s.session_name) AS "Session",
       s.event AS "Event", s.session_name AS "Session Type", s.year AS "Season",
       (s.identity->>'round')::int AS "Round",
       coalesce(s.identity->>'location', s.event, s.source) AS "Circuit",
       s.identity->>'country' AS "Country",
       s.source AS "Source", s.profile AS "Telemetry Profile",
       s.start_time AS "Start Time", (s.start_time AT TIME ZONE 'UTC')::date AS "Date",
       (SELECT count(*) FROM entities e WHERE e.session_id = s.session_id) AS "Cars",
       (SELECT string_agg(m.key || ': ' || m.value, '; ' ORDER BY m.key)
        FROM jsonb_each_text(s.meta->'missing') AS m) AS "Missing Data",
       s.registered_at AS "Loaded At",
       s.start_time + make_interval(secs => coalesce((s.meta->>'session_start_time')::float8, 0))
           AS "Session Started",
       s.meta->>'time_basis' AS "Clock Basis",
       coalesce((SELECT array_agg(m.key ORDER BY m.key) FROM jsonb_object_keys(s.meta->'missing') AS m(key)),
                '{}') AS "Missing Streams"
FROM sessions s;

CREATE OR REPLACE VIEW reporting.fact_detections AS
SELECT d.detection_id AS "Detection Key", d.session_id AS "Session Key", d.entity_id AS "Driver",
       nullif(e.team, '') AS "Team", (s.start_time AT TIME ZONE 'UTC')::date AS "Date",
       CASE WHEN d.entity_id IS NULL THEN 'Session' ELSE 'Car' END AS "Scope",
       initcap(replace(d.kind, '_', ' ')) AS "Detection", d.kind AS "Kind", d.severity AS "Severity",
       d.score AS "Score", s.start_time + make_interval(secs => d.t_start) AS "Start Time",
       s.start_time + make_interval(secs => d.t_end) AS "End Time",
       d.t_start AS "Start (s)", d.t_end - d.t_start AS "Duration (s)", d.lap AS "Lap",
       d.distance AS "Lap Distance (m)", d.channel AS "Channel", d.detector AS "Detector",
       d.detector_version AS "Detector Version", d.created_at AS "Detected At", d.evidence AS "Evidence"
FROM detections d JOIN sessions s USING (session_id) LEFT JOIN entities e USING (session_id, entity_id);
