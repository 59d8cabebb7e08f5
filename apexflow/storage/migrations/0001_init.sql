-- ApexFlow schema v1. Times inside a session are seconds since sessions.start_time.

CREATE TABLE sessions (
    session_id    text PRIMARY KEY,
    source        text NOT NULL,
    run_id        text NOT NULL,               -- the ingestion run whose data this is
    start_time    timestamptz NOT NULL,
    year          int,
    event         text,
    session_name  text,
    identity      jsonb NOT NULL DEFAULT '{}',
    channels      jsonb NOT NULL,              -- [{name, unit, min?, max?}]
    meta          jsonb NOT NULL DEFAULT '{}', -- manifest extras: missing streams, track length, ...
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entities (
    session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    entity_id  text NOT NULL,
    name       text NOT NULL DEFAULT '',
    team       text NOT NULL DEFAULT '',
    meta       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (session_id, entity_id)
);

CREATE TABLE laps (
    session_id   text NOT NULL,
    entity_id    text NOT NULL,
    lap_number   int NOT NULL,
    lap_start    double precision,
    lap_time     double precision,
    sector1_time double precision,
    sector2_time double precision,
    sector3_time double precision,
    stint        int,
    compound     text,
    tyre_life    double precision,
    pit_in_time  double precision,
    pit_out_time double precision,
    track_status text,
    position     int,
    deleted      boolean,
    is_accurate  boolean,
    data         jsonb NOT NULL DEFAULT '{}',  -- every column the source gave, FastF1 names
    PRIMARY KEY (session_id, entity_id, lap_number),
    FOREIGN KEY (session_id, entity_id) REFERENCES entities ON DELETE CASCADE
);

CREATE TABLE track_status (
    session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    t          double precision NOT NULL,
    status     text NOT NULL,
    message    text NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, t, status)
);

CREATE TABLE session_facts (                  -- race-control messages, results, weather: as given
    session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    kind       text NOT NULL,
    rows       jsonb NOT NULL,
    PRIMARY KEY (session_id, kind)
);

-- One row per processed chunk: the telemetry's representation in the database
-- (per-channel min/mean/max; raw samples stay in S3 under s3_key) and the
-- idempotency record of the analyze step.
CREATE TABLE telemetry_chunks (
    session_id   text NOT NULL,
    entity_id    text NOT NULL,
    seq          int NOT NULL,
    t_start      double precision NOT NULL,
    t_end        double precision NOT NULL,
    n_samples    int NOT NULL,
    stats        jsonb NOT NULL,              -- {channel: [min, mean, max]}
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, entity_id, seq),
    FOREIGN KEY (session_id, entity_id) REFERENCES entities ON DELETE CASCADE
);

CREATE TABLE detections (
    detection_id     text PRIMARY KEY,        -- deterministic: re-delivery cannot duplicate
    session_id       text NOT NULL,
    entity_id        text NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    score            real NOT NULL CHECK (score >= 0 AND score <= 1),
    t_start          double precision NOT NULL,
    t_end            double precision NOT NULL,
    lap              int,
    distance         real,
    channel          text,
    evidence         jsonb NOT NULL DEFAULT '{}',
    detector         text NOT NULL,
    detector_version text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (session_id, entity_id) REFERENCES entities ON DELETE CASCADE
);
CREATE INDEX detections_by_session ON detections (session_id, kind, t_start);

-- Detector state per entity, written in the same transaction as the batch it follows.
CREATE TABLE processing_checkpoints (
    session_id    text NOT NULL,
    entity_id     text NOT NULL,
    state_version int NOT NULL,
    last_seq      int NOT NULL,
    state         jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, entity_id),
    FOREIGN KEY (session_id, entity_id) REFERENCES entities ON DELETE CASCADE
);

CREATE TABLE insights (
    insight_id     text PRIMARY KEY,          -- deterministic per (session, entity, provider, prompt version)
    session_id     text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    entity_id      text,                      -- NULL for the session summary
    provider       text NOT NULL,
    model          text NOT NULL,
    prompt_version text NOT NULL,
    content        text NOT NULL,
    facts          jsonb NOT NULL,            -- what the summary was written from
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX insights_by_session ON insights (session_id, entity_id);

-- Reporting views (Grafana, BI): absolute timestamps.
CREATE VIEW v_detections AS
SELECT d.*, s.start_time + make_interval(secs => d.t_start) AS started_at,
       s.start_time + make_interval(secs => d.t_end) AS ended_at, s.event, s.session_name, s.year
FROM detections d JOIN sessions s USING (session_id);

CREATE VIEW v_telemetry AS
SELECT c.session_id, c.entity_id, c.seq, s.start_time + make_interval(secs => c.t_start) AS time,
       c.n_samples, c.stats
FROM telemetry_chunks c JOIN sessions s USING (session_id);
