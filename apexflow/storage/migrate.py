"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied in order, once each."""
from __future__ import annotations

from importlib import resources

from psycopg2 import errors

from apexflow.storage.db import connect


def available() -> list[tuple[int, str, str]]:
    files = sorted((f for f in resources.files("apexflow.storage").joinpath("migrations").iterdir()
                    if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(int(f.name.split("_", 1)[0]), f.name, f.read_text()) for f in files]


def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    conn = connect(dsn)
    try:
        _create_table(conn)
        with conn, conn.cursor() as cur:
            # concurrent migrators wait for each other on a lock only writers may take (an advisory lock
            # would be open to any login, the read-only one too)
            cur.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
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


def _create_table(conn) -> None:
    """``schema_migrations``, once: two migrators creating it at once race in the catalog, and the loser finds
    it made."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz DEFAULT now())")
    except (errors.UniqueViolation, errors.DuplicateTable):
        pass
