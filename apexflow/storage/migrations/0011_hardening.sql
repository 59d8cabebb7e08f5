-- An insight about a session whose analysis stopped short (an ingestion killed midway) says so.
ALTER TABLE insights DROP CONSTRAINT IF EXISTS insights_status_check;
ALTER TABLE insights ADD CONSTRAINT insights_status_check
    CHECK (status IN ('ok', 'ungrounded', 'fallback', 'incomplete'));
