-- An insight about a session whose analysis stopped short (an ingestion killed midway) says so.
ALTER TABLE insights DROP CONSTRAINT IF EXISTS insights_status_check;
ALTER TABLE insights ADD CONSTRAINT insights_status_check
    CHECK (status IN ('ok', 'ungrounded', 'fallback', 'incomplete'));

-- Writers' locks that no reader can take. Advisory locks are open to every login (the read-only one too, which
-- could hold a key the write path waits for), so the write path locks rows of a table only writers may touch,
-- and keys the advisory locks it still takes (the live follower's, held while a connection lives) with a seed
-- only writers can read.
CREATE TABLE locks (name text PRIMARY KEY);
CREATE TABLE lock_seed (seed bigint NOT NULL);
INSERT INTO lock_seed SELECT floor((random() - 0.5) * 1.8e19)::bigint;

CREATE OR REPLACE FUNCTION refresh_reporting_events(p_session text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    INSERT INTO locks (name) VALUES ('refresh_reporting_events:' || p_session) ON CONFLICT DO NOTHING;
    SELECT 1 FROM locks WHERE name = 'refresh_reporting_events:' || p_session FOR UPDATE;
    DELETE FROM reporting.fact_race_events WHERE "Session Key" = p_session;
    INSERT INTO reporting.fact_race_events SELECT * FROM reporting_source.race_events WHERE "Session Key" = p_session;
$$;
REVOKE ALL ON FUNCTION refresh_reporting_events(text) FROM PUBLIC;

-- Large objects: every login may create them by default (even a read-only one, after SET transaction_read_only =
-- off). Nothing here uses them; only the owner keeps the functions that create or write them. A managed server
-- whose owner may not change pg_catalog's grants keeps the default, with a warning.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'pg_catalog' AND p.proname IN
                   ('lo_create', 'lo_creat', 'lo_from_bytea', 'lo_import', 'lo_open', 'lowrite', 'lo_put',
                    'lo_truncate', 'lo_truncate64', 'lo_unlink')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'could not revoke the large-object functions from PUBLIC (%): other logins can still create '
                  'large objects', SQLERRM;
END $$;

-- Fallback notes stored before they were cut to one line kept the error's stack trace and the server's file
-- paths: the error's class stays, the rest goes (the function's log has it).
UPDATE insights SET note = split_part(note, ':', 1) || ': details in the insights function''s log'
WHERE status = 'fallback' AND note ~ '(stackTrace|Traceback|File "|/var/task/|\n)';
