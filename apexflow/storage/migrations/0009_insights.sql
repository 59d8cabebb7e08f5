-- Insights workflow (apexflow.insights): one run per execution of the state machine, holding the facts
-- snapshot every summary of the run is written and checked against, and the run's token budget.
CREATE TABLE insight_runs (
    run_id       text PRIMARY KEY,
    session_id   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    provider     text NOT NULL,               -- what was asked for: openai or offline
    model        text NOT NULL,
    facts        jsonb NOT NULL,
    token_budget int NOT NULL,
    tokens_used  int NOT NULL DEFAULT 0,      -- reserved before each call, settled to the usage after
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

-- One current insight per subject: the session, a driver, or a critical detection's explanation.
ALTER TABLE insights
    ADD COLUMN scope        text NOT NULL DEFAULT 'session' CHECK (scope IN ('session', 'driver', 'detection')),
    ADD COLUMN detection_id text,
    ADD COLUMN run_id       text,
    ADD COLUMN status       text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'ungrounded', 'fallback')),
    ADD COLUMN note         text NOT NULL DEFAULT '',
    ADD COLUMN body         jsonb NOT NULL DEFAULT '{}',  -- the structured answer the content is rendered from
    ADD COLUMN ungrounded   jsonb NOT NULL DEFAULT '[]',  -- what the grounding check could not find in the facts
    ADD COLUMN tokens_in    int NOT NULL DEFAULT 0,
    ADD COLUMN tokens_out   int NOT NULL DEFAULT 0,
    ADD COLUMN cost_usd     double precision;          -- estimated; NULL for a model without a known price
UPDATE insights SET scope = 'driver' WHERE entity_id IS NOT NULL;

-- Critical detections alerted on the alerts topic: at most once per detection id, across runs and re-ingests.
CREATE TABLE alerts (
    detection_id text PRIMARY KEY,
    session_id   text NOT NULL,
    run_id       text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now()
);

-- The reporting schema's insights (0008) say what each one is about and whether it held to the facts.
CREATE OR REPLACE VIEW reporting.fact_insights AS
SELECT i.insight_id AS "Insight Key", i.session_id AS "Session Key", i.entity_id AS "Driver",
       initcap(i.scope) AS "Scope", i.content AS "Summary",
       i.provider AS "Provider", i.model AS "Model", i.prompt_version AS "Prompt Version",
       i.created_at AS "Written At", (s.start_time AT TIME ZONE 'UTC')::date AS "Date",
       i.status AS "Check", i.detection_id AS "Detection Key", i.tokens_in + i.tokens_out AS "Tokens",
       i.cost_usd AS "Cost (USD)"
FROM insights i JOIN sessions s USING (session_id);
