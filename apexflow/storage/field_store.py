"""The field's profile per session, minute and 50 m bin: commutative sums, so concurrent shards are safe."""
from __future__ import annotations


def field_profile(cur, spans: dict[str, tuple[int, int]]) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """The field's sums of each session whose batch spans minutes ``spans[session]`` = (first, last): per bin
    over every minute before the first, (bin, samples, braking, speed_cs); and per minute and bin from the
    first to the last (excluded), (minute, bin, samples, braking, speed_cs). One query."""
    out: dict[str, tuple[list[tuple], list[tuple]]] = {s: ([], []) for s in spans}
    if spans:
        sessions, firsts, lasts = (list(x) for x in zip(*((s, a, b) for s, (a, b) in spans.items())))
        cur.execute("SELECT f.session_id, CASE WHEN f.minute >= k.first THEN f.minute END, f.bin, sum(f.samples), "
                    "sum(f.braking), sum(f.speed_cs) FROM field_profile f "
                    "JOIN unnest(%s::text[], %s::int[], %s::int[]) AS k(session_id, first, last) USING (session_id) "
                    "WHERE f.minute < k.last GROUP BY 1, 2, 3", (sessions, firsts, lasts))
        for session_id, m, *row in cur.fetchall():
            if m is None:
                out[session_id][0].append(tuple(row))
            else:
                out[session_id][1].append((m, *row))
    return out


def add_field_profile(cur, session_id: str, rows: list[tuple[int, int, float, float, float]]) -> None:
    """Add a batch's sums, (minute, bin, samples, braking, speed_cs), to the field's (commutative, so concurrent
    batches may add at once)."""
    if rows:
        columns = ["{" + ",".join(map(repr, x)) + "}" for x in zip(*sorted(rows))]  # array literals: fast to send
        cur.execute("INSERT INTO field_profile (session_id, minute, bin, samples, braking, speed_cs) "
                    "SELECT %s, * FROM unnest(%s::int[], %s::int[], %s::float8[], %s::float8[], %s::float8[]) "
                    "ON CONFLICT (session_id, minute, bin) DO UPDATE SET "
                    "samples = field_profile.samples + EXCLUDED.samples, "
                    "braking = field_profile.braking + EXCLUDED.braking, "
                    "speed_cs = field_profile.speed_cs + EXCLUDED.speed_cs",
                    (session_id, *columns))
