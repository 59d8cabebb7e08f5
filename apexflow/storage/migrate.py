"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied in order, once each."""
from __future__ import annotations

from importlib import resources

from apexflow.storage.db import connect

_LOCK = 7_415_001  # advisory lock id: concurrent migrators wait for each other


def available() -> list[tuple[int, str, str]]:
    files = sorted(f for f in resources.files("apexflow.storage").joinpath("migrations").iterdir()
                   if f.name.endswith(".sql"))
    return [(int(f.name.split("_", 1)[0]), f.name, f.read_text()) for f in files]


def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz DEFAULT now())")
            cur.execute("SELECT version FROM schema_migrations")
            done = {v for (v,) in cur.fetchall()}
            applied = []
            for version, name, sql in available():
                if version not in done:
                    cur.execute(sql)
                    cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                    applied.append(name)
            return applied
    finally:
        conn.close()
