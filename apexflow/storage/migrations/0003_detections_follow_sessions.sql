-- Session-level detections (entity_id NULL) escape the entities foreign key: tie every detection to its
-- session too, so replacing or deleting a session removes them all.
ALTER TABLE detections ADD CONSTRAINT detections_session_fk
    FOREIGN KEY (session_id) REFERENCES sessions ON DELETE CASCADE;
