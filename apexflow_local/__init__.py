"""Local mode: the same handlers on moto (S3, Kinesis) and an embedded PostgreSQL."""
