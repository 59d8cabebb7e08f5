-- The field per 50 m of lap distance (apexflow.detect.field): every car's samples, samples braking and
-- the sum of their speeds in whole 0.01 km/h (exact). Analyze adds each batch's new samples in the
-- batch's transaction; sums only grow, so batches of different shards add to one session in any order.
CREATE TABLE field_profile (
    session_id text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    bin        int NOT NULL,
    samples    double precision NOT NULL,
    braking    double precision NOT NULL,
    speed_cs   double precision NOT NULL,
    PRIMARY KEY (session_id, bin)
);
