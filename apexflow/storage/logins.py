"""The database logins besides the owner, and what each may do (applied at deploy, after the migrations).

- ``app`` (every function): rows of the pipeline's tables, and the owner's functions that create sample
  partitions and refresh the reporting facts.
- ``readonly`` (BI tools, Grafana): the ``reporting`` schema only, read-only; nothing of ``public``; as
  PostgreSQL's own settings for a reporting login: no temporary tables, no large objects (migration 0011), a
  statement, lock and idle timeout, and a connection limit. No lock the write path or the migrations take is
  open to it (they lock rows and tables it has no privilege on; the live follower's key is seeded by a table
  it cannot read).
"""
from __future__ import annotations

from psycopg2 import sql

READONLY_CONNECTIONS = 20  # a BI gateway's pool and a Grafana, with room; more are refused
READONLY_TIMEOUTS = {"statement_timeout": "60s", "lock_timeout": "5s",
                     "idle_in_transaction_session_timeout": "60s", "idle_session_timeout": "15min"}
PRIVILEGES = {
    "app": (
        "GRANT CONNECT ON DATABASE {db} TO {user}",
        "GRANT USAGE ON SCHEMA public TO {user}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {user}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {user}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {user}",
    ),
    "readonly": (
        "GRANT CONNECT ON DATABASE {db} TO {user}",
        # what earlier deployments granted on the raw tables goes
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {user}",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {user}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {user}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {user}",
        "REVOKE ALL ON SCHEMA public FROM {user}",
        "GRANT USAGE ON SCHEMA reporting TO {user}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO {user}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO {user}",
        "ALTER ROLE {user} SET default_transaction_read_only = on",
        "REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC",  # the owner keeps it; nothing else here needs it
        "REVOKE TEMPORARY ON DATABASE {db} FROM {user}",
        f"ALTER ROLE {{user}} CONNECTION LIMIT {READONLY_CONNECTIONS}",
        *(f"ALTER ROLE {{user}} SET {name} = '{value}'" for name, value in READONLY_TIMEOUTS.items()),
    ),
}


def ensure_login(cur, database: str, username: str, password: str, kind: str) -> None:
    """Create or update the login ``username`` (its password too) with the privileges of ``kind``."""
    user = sql.Identifier(username)
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD %s").format(user), (password,))
    for statement in PRIVILEGES[kind]:
        cur.execute(sql.SQL(statement).format(db=sql.Identifier(database), user=user))
