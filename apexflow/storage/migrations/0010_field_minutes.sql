-- The field per minute of session time as well as per 50 m (apexflow.detect.field): a sample is judged against
-- the field of the minutes before its own, so what arrives with it or after it (a whole race in one batch, a
-- safety car later on) does not change its verdict. Sums stored before count as minute 0.
ALTER TABLE field_profile ADD COLUMN minute int NOT NULL DEFAULT 0;
ALTER TABLE field_profile DROP CONSTRAINT field_profile_pkey;
ALTER TABLE field_profile ADD PRIMARY KEY (session_id, minute, bin);
ALTER TABLE field_profile ALTER COLUMN minute DROP DEFAULT;
