-- Which detector set a session's telemetry goes through: 'motorsport' (the car set) or 'generic'.
ALTER TABLE sessions ADD COLUMN profile text NOT NULL DEFAULT 'generic'
    CHECK (profile IN ('generic', 'motorsport'));
UPDATE sessions SET profile = 'motorsport' WHERE source IN ('synthetic', 'fastf1');
