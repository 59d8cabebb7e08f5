-- The reporting schema: a star of views for BI tools (Power BI) and dashboards (Grafana), the only schema the
-- read-only login sees (docs/dashboards.md describes every view). Column names are for business users; times
-- come as timestamps (UTC) and as seconds since the session start.
-- The heavy facts (laps, stints, pit stops, race events) are tables kept by refresh_reporting_* in the
-- transaction that changes what they show; their definitions are the views of reporting_source (owner only).
CREATE SCHEMA reporting;
CREATE SCHEMA reporting_source;
REVOKE ALL ON SCHEMA public FROM PUBLIC;  -- logins get what they need by name (apexflow.storage.logins)

-- Dimensions ---------------------------------------------------------------------------------------------

CREATE VIEW reporting.dim_session AS
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
       s.registered_at AS "Loaded At"
FROM sessions s;

CREATE VIEW reporting.dim_driver AS
SELECT DISTINCT ON (e.entity_id) e.entity_id AS "Driver",
       coalesce(nullif(e.name, ''), e.entity_id) AS "Driver Name",
       nullif(e.team, '') AS "Latest Team", e.meta->>'driver_number' AS "Car Number"
FROM entities e JOIN sessions s USING (session_id)
ORDER BY e.entity_id, s.start_time DESC;

CREATE VIEW reporting.dim_team AS
SELECT e.team AS "Team", count(DISTINCT e.entity_id) AS "Drivers", count(DISTINCT e.session_id) AS "Sessions"
FROM entities e WHERE e.team <> '' GROUP BY e.team;

CREATE VIEW reporting.dim_circuit AS
SELECT "Circuit", max("Country") AS "Country", count(*) AS "Sessions",
       min("Date") AS "First Session Date", max("Date") AS "Last Session Date"
FROM reporting.dim_session GROUP BY "Circuit";

CREATE VIEW reporting.dim_date AS
SELECT d::date AS "Date", extract(year FROM d)::int AS "Year", extract(quarter FROM d)::int AS "Quarter",
       extract(month FROM d)::int AS "Month", to_char(d, 'FMMonth') AS "Month Name",
       extract(week FROM d)::int AS "ISO Week", extract(isodow FROM d)::int AS "Weekday Number",
       to_char(d, 'FMDay') AS "Weekday"
FROM generate_series((SELECT date_trunc('year', min(start_time) AT TIME ZONE 'UTC') FROM sessions),
                     (SELECT date_trunc('year', max(start_time) AT TIME ZONE 'UTC') + interval '1 year - 1 day'
                      FROM sessions), interval '1 day') AS d;

-- Facts kept as tables: their definitions ------------------------------------------------------------------

CREATE VIEW reporting_source.laps AS
WITH results AS (
    SELECT f.session_id, r->>'Driver' AS entity_id, (r->>'Position')::numeric::int AS position,
           r->>'Status' AS status
    FROM session_facts f, jsonb_array_elements(f.rows) AS r WHERE f.kind = 'results'
), timed AS (
    SELECT l.*, s.start_time, nullif(e.team, '') AS team, l.lap_start + l.lap_time AS lap_end,
           (l.lap_time IS NOT NULL AND l.lap_number > 1 AND l.pit_in_time IS NULL AND l.pit_out_time IS NULL
            AND NOT coalesce(l.deleted, false) AND coalesce(l.track_status, '1') ~ '^1*$') AS clean
    FROM laps l JOIN sessions s USING (session_id) JOIN entities e USING (session_id, entity_id)
)
SELECT t.session_id AS "Session Key", t.entity_id AS "Driver", t.team AS "Team",
       (t.start_time AT TIME ZONE 'UTC')::date AS "Date", t.lap_number AS "Lap",
       t.start_time + make_interval(secs => t.lap_start) AS "Lap Start",
       t.start_time + make_interval(secs => t.lap_end) AS "Lap End",
       t.lap_start AS "Lap Start (s)", t.lap_end AS "Lap End (s)", t.lap_time AS "Lap Time (s)",
       t.sector1_time AS "Sector 1 (s)", t.sector2_time AS "Sector 2 (s)", t.sector3_time AS "Sector 3 (s)",
       t.stint AS "Stint", t.compound AS "Compound", t.tyre_life AS "Tyre Life (laps)", t.position AS "Position",
       t.lap_end - min(t.lap_end) OVER (PARTITION BY t.session_id, t.lap_number) AS "Gap To Leader (s)",
       t.track_status AS "Track Status",
       coalesce(t.track_status LIKE '%4%', false) AS "Safety Car",
       coalesce(t.track_status ~ '[67]', false) AS "Virtual Safety Car",
       coalesce(t.track_status LIKE '%5%', false) AS "Red Flag",
       coalesce(t.track_status LIKE '%2%', false) AS "Yellow Flag",
       t.pit_in_time IS NOT NULL AS "Pit In Lap", t.pit_out_time IS NOT NULL AS "Pit Out Lap",
       coalesce(t.deleted, false) AS "Deleted", t.clean AS "Clean Lap",
       r.position AS "Finishing Position", r.status AS "Result Status"
FROM timed t LEFT JOIN results r USING (session_id, entity_id);

CREATE VIEW reporting_source.stints AS
SELECT l."Session Key", l."Driver", l."Team", l."Date", l."Stint",
       (array_agg(l."Compound" ORDER BY l."Lap") FILTER (WHERE l."Compound" IS NOT NULL))[1] AS "Compound",
       min(l."Lap") AS "First Lap", max(l."Lap") AS "Last Lap", count(*) AS "Laps",
       min(l."Lap Start") AS "Stint Start", max(l."Lap End") AS "Stint End",
       min(l."Lap Start (s)") AS "Stint Start (s)", max(l."Lap End (s)") AS "Stint End (s)",
       min(l."Tyre Life (laps)") AS "Tyre Life At Start (laps)", max(l."Tyre Life (laps)") AS "Tyre Life At End (laps)",
       count(*) FILTER (WHERE l."Clean Lap") AS "Clean Laps",
       min(l."Lap Time (s)") FILTER (WHERE l."Clean Lap") AS "Best Lap (s)",
       avg(l."Lap Time (s)") FILTER (WHERE l."Clean Lap") AS "Average Clean Lap (s)",
       regr_slope(l."Lap Time (s)", l."Tyre Life (laps)") FILTER (WHERE l."Clean Lap") AS "Pace Trend (s per lap)",
       max((d.evidence->>'slope_s_per_lap')::float8) AS "Degradation (s per lap)",
       max((d.evidence->>'cliff_tyre_life')::float8) AS "Tyre Life At Cliff (laps)",
       max((d.evidence->>'laps_to_cliff')::float8) AS "Laps To Cliff",
       bool_or((d.evidence->>'crossed')::boolean) AS "Past The Cliff",
       max(d.severity) AS "Degradation Severity"
FROM reporting_source.laps l
LEFT JOIN detections d ON d.session_id = l."Session Key" AND d.entity_id = l."Driver" AND d.kind = 'tyre_degradation'
     AND (d.evidence->>'stint')::numeric = l."Stint"
WHERE l."Stint" IS NOT NULL
GROUP BY l."Session Key", l."Driver", l."Team", l."Date", l."Stint";

CREATE VIEW reporting_source.pit_stops AS
WITH pace AS (
    SELECT "Session Key", "Driver",
           percentile_cont(0.5) WITHIN GROUP (ORDER BY "Lap Time (s)") FILTER (WHERE "Clean Lap") AS lap_time
    FROM reporting_source.laps GROUP BY "Session Key", "Driver"
)
SELECT d.detection_id AS "Pit Stop Key", d.session_id AS "Session Key", d.entity_id AS "Driver",
       nullif(e.team, '') AS "Team", (s.start_time AT TIME ZONE 'UTC')::date AS "Date", d.lap AS "Lap",
       s.start_time + make_interval(secs => d.t_start) AS "Pit In",
       CASE WHEN (d.evidence->>'returned')::boolean THEN s.start_time + make_interval(secs => d.t_end) END
           AS "Pit Out",
       d.t_start AS "Pit In (s)", (d.evidence->>'lane_seconds')::float8 AS "Pit Lane (s)",
       d.evidence->>'compound_before' AS "Compound Before", d.evidence->>'compound_after' AS "Compound After",
       (d.evidence->>'garage')::boolean AS "Garage Visit",
       i."Lap Time (s)" + o."Lap Time (s)" - 2 * p.lap_time AS "Pit Loss (s)",
       coalesce(i."Safety Car" OR i."Virtual Safety Car" OR o."Safety Car" OR o."Virtual Safety Car", false)
           AS "Under Safety Car Or VSC"
FROM detections d
JOIN sessions s USING (session_id)
JOIN entities e USING (session_id, entity_id)
LEFT JOIN reporting_source.laps i ON i."Session Key" = d.session_id AND i."Driver" = d.entity_id AND i."Lap" = d.lap
LEFT JOIN reporting_source.laps o ON o."Session Key" = d.session_id AND o."Driver" = d.entity_id AND o."Lap" = d.lap + 1
LEFT JOIN pace p ON p."Session Key" = d.session_id AND p."Driver" = d.entity_id
WHERE d.kind = 'pit_stop';

CREATE VIEW reporting_source.race_events AS
SELECT d.detection_id AS "Event Key", d.session_id AS "Session Key", d.entity_id AS "Driver",
       nullif(e.team, '') AS "Team", (s.start_time AT TIME ZONE 'UTC')::date AS "Date",
       initcap(replace(d.kind, '_', ' ')) AS "Event", d.kind AS "Event Code", d.severity AS "Severity",
       d.lap AS "Lap", s.start_time + make_interval(secs => d.t_start) AS "Start Time",
       s.start_time + make_interval(secs => d.t_end) AS "End Time",
       d.t_start AS "Start (s)", d.t_end - d.t_start AS "Duration (s)",
       CASE d.kind
           WHEN 'retirement' THEN 'Retired on lap ' || d.lap || coalesce(': ' || (d.evidence->>'cause'), '')
           WHEN 'did_not_start' THEN 'Did not start' || coalesce(' (' || (d.evidence->>'status') || ')', '')
           WHEN 'contact' THEN 'Contact between ' || (SELECT string_agg(c, ', ')
                                                       FROM jsonb_array_elements_text(d.evidence->'cars') AS c)
                               || ' on lap ' || d.lap
           WHEN 'sudden_damage' THEN 'Sudden damage on lap ' || d.lap || ', '
                                     || coalesce(d.evidence->>'seconds_lost', '?') || ' s lost'
           WHEN 'overtake' THEN 'Passed ' || (d.evidence->>'passed') || ' for P' || (d.evidence->>'position')
                                || ' on lap ' || d.lap
           WHEN 'position_change' THEN 'P' || (d.evidence->>'grid') || ' to P' || (d.evidence->>'position')
                                       || ' at the start'
           WHEN 'fastest_lap' THEN 'Fastest lap: ' || (d.evidence->>'lap_time') || ' s on lap ' || d.lap
           WHEN 'incident' THEN 'Incident on lap ' || d.lap || ': down to '
                                || round((d.evidence->>'min_speed')::numeric) || ' km/h'
           WHEN 'power_loss' THEN 'Power loss: top speed down ' || (d.evidence->>'max_deficit_pct') || ' %'
           WHEN 'slow_puncture' THEN 'Slow puncture, pitted on lap ' || coalesce(d.evidence->>'pit_lap', '-')
           ELSE initcap(replace(d.kind, '_', ' ')) || ' for '
                || round((d.evidence->>'seconds')::numeric) || ' s'
       END AS "Description"
FROM detections d
JOIN sessions s USING (session_id)
LEFT JOIN entities e USING (session_id, entity_id)
WHERE d.kind IN ('retirement', 'did_not_start', 'contact', 'sudden_damage', 'overtake', 'position_change',
                 'fastest_lap', 'safety_car', 'virtual_safety_car', 'red_flag', 'yellow_flag', 'incident',
                 'power_loss', 'slow_puncture');

CREATE TABLE reporting.fact_laps AS SELECT * FROM reporting_source.laps WITH NO DATA;
CREATE TABLE reporting.fact_stints AS SELECT * FROM reporting_source.stints WITH NO DATA;
CREATE TABLE reporting.fact_pit_stops AS SELECT * FROM reporting_source.pit_stops WITH NO DATA;
CREATE TABLE reporting.fact_race_events AS SELECT * FROM reporting_source.race_events WITH NO DATA;
ALTER TABLE reporting.fact_laps ADD PRIMARY KEY ("Session Key", "Driver", "Lap"),
    ADD FOREIGN KEY ("Session Key") REFERENCES sessions ON DELETE CASCADE;
ALTER TABLE reporting.fact_stints ADD PRIMARY KEY ("Session Key", "Driver", "Stint"),
    ADD FOREIGN KEY ("Session Key") REFERENCES sessions ON DELETE CASCADE;
ALTER TABLE reporting.fact_pit_stops ADD PRIMARY KEY ("Pit Stop Key"),
    ADD FOREIGN KEY ("Session Key") REFERENCES sessions ON DELETE CASCADE;
ALTER TABLE reporting.fact_race_events ADD PRIMARY KEY ("Event Key"),
    ADD FOREIGN KEY ("Session Key") REFERENCES sessions ON DELETE CASCADE;
CREATE INDEX fact_pit_stops_by_session ON reporting.fact_pit_stops ("Session Key");
CREATE INDEX fact_race_events_by_session ON reporting.fact_race_events ("Session Key", "Start Time");

-- Registration (laps, pit stops and the lap-level detections arrive together) refreshes the timing facts;
-- every transaction that writes detections refreshes the session's race events.
CREATE FUNCTION refresh_reporting_timing(p_session text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    DELETE FROM reporting.fact_laps WHERE "Session Key" = p_session;
    DELETE FROM reporting.fact_stints WHERE "Session Key" = p_session;
    DELETE FROM reporting.fact_pit_stops WHERE "Session Key" = p_session;
    INSERT INTO reporting.fact_laps SELECT * FROM reporting_source.laps WHERE "Session Key" = p_session;
    INSERT INTO reporting.fact_stints SELECT * FROM reporting_source.stints WHERE "Session Key" = p_session;
    INSERT INTO reporting.fact_pit_stops SELECT * FROM reporting_source.pit_stops WHERE "Session Key" = p_session;
$$;

CREATE FUNCTION refresh_reporting_events(p_session text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT pg_advisory_xact_lock(hashtext('refresh_reporting_events'), hashtext(p_session));
    DELETE FROM reporting.fact_race_events WHERE "Session Key" = p_session;
    INSERT INTO reporting.fact_race_events SELECT * FROM reporting_source.race_events WHERE "Session Key" = p_session;
$$;
REVOKE ALL ON FUNCTION refresh_reporting_timing(text), refresh_reporting_events(text) FROM PUBLIC;
SELECT refresh_reporting_timing(session_id), refresh_reporting_events(session_id) FROM sessions;

-- Facts as plain views (light, always current) -------------------------------------------------------------

CREATE VIEW reporting.fact_detections AS
SELECT d.detection_id AS "Detection Key", d.session_id AS "Session Key", d.entity_id AS "Driver",
       nullif(e.team, '') AS "Team", (s.start_time AT TIME ZONE 'UTC')::date AS "Date",
       CASE WHEN d.entity_id IS NULL THEN 'Session' ELSE 'Car' END AS "Scope",
       initcap(replace(d.kind, '_', ' ')) AS "Detection", d.kind AS "Kind", d.severity AS "Severity",
       d.score AS "Score", s.start_time + make_interval(secs => d.t_start) AS "Start Time",
       s.start_time + make_interval(secs => d.t_end) AS "End Time",
       d.t_start AS "Start (s)", d.t_end - d.t_start AS "Duration (s)", d.lap AS "Lap",
       d.distance AS "Lap Distance (m)", d.channel AS "Channel", d.detector AS "Detector",
       d.detector_version AS "Detector Version", d.created_at AS "Detected At"
FROM detections d JOIN sessions s USING (session_id) LEFT JOIN entities e USING (session_id, entity_id);

CREATE VIEW reporting.fact_insights AS
SELECT i.insight_id AS "Insight Key", i.session_id AS "Session Key", i.entity_id AS "Driver",
       CASE WHEN i.entity_id IS NULL THEN 'Session' ELSE 'Driver' END AS "Scope", i.content AS "Summary",
       i.provider AS "Provider", i.model AS "Model", i.prompt_version AS "Prompt Version",
       i.created_at AS "Written At", (s.start_time AT TIME ZONE 'UTC')::date AS "Date"
FROM insights i JOIN sessions s USING (session_id);

CREATE VIEW reporting.fact_telemetry AS
SELECT m.session_id AS "Session Key", m.entity_id AS "Driver", m.time AS "Time",
       extract(epoch FROM m.time - s.start_time)::float8 AS "Session Time (s)", m.lap_number AS "Lap",
       m.distance AS "Lap Distance (m)", m.speed AS "Speed (km/h)", m.rpm AS "RPM", m.n_gear AS "Gear",
       m.throttle AS "Throttle (%)", m.brake = 1 AS "Braking", m.drs = 1 AS "DRS Open",
       m.x AS "X (m)", m.y AS "Y (m)", m.z AS "Z (m)"
FROM samples m JOIN sessions s USING (session_id);

-- Pipeline health (Grafana) ---------------------------------------------------------------------------------

CREATE VIEW reporting.pipeline_chunks AS
SELECT c.session_id AS "Session Key", c.entity_id AS "Driver", c.seq AS "Chunk", c.n_samples AS "Samples",
       s.start_time + make_interval(secs => c.t_start) AS "Data Start",
       s.start_time + make_interval(secs => c.t_end) AS "Data End",
       c.arrived_at AS "Arrived At", c.processed_at AS "Processed At",
       extract(epoch FROM c.processed_at - c.arrived_at)::float8 AS "Stream Lag (s)",
       extract(epoch FROM c.processed_at - s.start_time)::float8 - c.t_end AS "Data Age At Processing (s)"
FROM telemetry_chunks c JOIN sessions s USING (session_id);

CREATE VIEW reporting.pipeline_failed_records AS
SELECT r.record_id AS "Record", r.partition_key AS "Partition Key",
       split_part(r.partition_key, '/', 1) AS "Session Key", split_part(r.partition_key, '/', 2) AS "Driver",
       r.error AS "Error", r.arrived_at AS "Arrived At", r.first_seen AS "First Seen", r.last_seen AS "Last Seen",
       r.deliveries AS "Deliveries"
FROM rejected_records r;
