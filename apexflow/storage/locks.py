"""Named locks only writers can take (their key is seeded by ``lock_seed``, which the read-only login cannot read)."""
from __future__ import annotations


def try_lock(cur, name: str) -> bool:
    """Hold a lock named ``name`` for as long as this connection lives (one live follower per session). Its key
    is seeded by ``lock_seed``, which only writers may read: another login cannot take it first."""
    cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, (SELECT seed FROM lock_seed)))", (name,))
    return cur.fetchone()[0]
