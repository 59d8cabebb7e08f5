-- Pipeline health for the dashboards: when each chunk reached the stream (Kinesis' approximate arrival time),
-- and the records analyze rejected (undecodable or invalid), one row per record counting its deliveries.
ALTER TABLE telemetry_chunks ADD COLUMN arrived_at timestamptz;

CREATE TABLE rejected_records (
    record_id     text PRIMARY KEY,            -- the record's sequence number in its shard
    partition_key text NOT NULL,
    error         text NOT NULL,
    arrived_at    timestamptz,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    deliveries    int NOT NULL DEFAULT 1
);
