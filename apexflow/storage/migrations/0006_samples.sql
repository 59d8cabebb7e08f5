-- Car telemetry samples for dashboards and the session report: one row per kept sample (apexflow.samples
-- says which), FastF1's channels in lower case, copied in by analyze in the batch's transaction. Partitioned
-- by session: one table per session (samples_reset creates or empties it at registration, samples_drop
-- drops it with the session). No foreign key: a per-row check would cost the copy most of its speed.
CREATE TABLE samples (
    session_id text NOT NULL,
    entity_id  text NOT NULL,
    time       timestamptz NOT NULL,
    lap_number smallint,
    distance   real,
    speed      real,
    rpm        real,
    n_gear     smallint,
    throttle   real,
    brake      smallint,
    drs        smallint,
    x          real,
    y          real,
    z          real
) PARTITION BY LIST (session_id);
CREATE INDEX samples_by_time ON samples USING brin (time);  -- rows arrive in time order: a btree would halve the copy rate

-- The partitions are the owner's: the app login creates, empties and drops them through these functions only.
CREATE FUNCTION samples_partition_name(p_session text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'samples_' || substr(md5(p_session), 1, 20) $$;

CREATE FUNCTION samples_reset(p_session text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
DECLARE part text := samples_partition_name(p_session);
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF samples FOR VALUES IN (%L)', part, p_session);
    ELSE
        EXECUTE format('TRUNCATE %I', part);
    END IF;
END $$;

CREATE FUNCTION samples_drop(p_session text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', samples_partition_name(p_session));
END $$;

REVOKE ALL ON FUNCTION samples_reset(text), samples_drop(text) FROM PUBLIC;
SELECT samples_reset(session_id) FROM sessions;  -- sessions analyzed before: empty partitions
