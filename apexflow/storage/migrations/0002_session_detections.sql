-- Session-level detections (track status: yellow, SC, VSC, red) belong to no entity.
-- entity_id NULL means "the session"; the composite foreign key is not checked for NULLs.
ALTER TABLE detections ALTER COLUMN entity_id DROP NOT NULL;
