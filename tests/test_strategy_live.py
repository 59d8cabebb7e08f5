"""`apexflow live --strategy LAPS`: the strategy table printed as each lap of a followed session completes."""
from pathlib import Path

import psycopg2

from apexflow_local import live_cli

DATA = Path(__file__).parent / "data" / "live"


def test_a_followed_session_prints_the_strategy_table_after_each_lap(dsn):
    printed = []
    result = live_cli.run({"source": "f1", "replay": str(DATA / "f1.jsonl.gz")}, out=printed.append, dsn=dsn,
                          strategy_laps=5)
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT lap_number, array_agg(entity_id ORDER BY entity_id) FROM laps WHERE session_id = %s "
                    "GROUP BY 1 ORDER BY 1", (result["session_id"],))
        truth = dict(cur.fetchall())
    conn.close()
    heads = [i for i, line in enumerate(printed) if line.startswith("strategy after lap ")]
    laps = [int(printed[i].split()[-1].rstrip(":")) for i in heads]
    assert laps == sorted(truth)[:len(laps)] and len(laps) >= len(truth) - 1  # each lap once, in order
    for i, lap in zip(heads, laps):
        table = printed[i + 1].splitlines()
        assert table[0].split()[:2] == ["driver", "position"]
        assert sorted(line.split()[0] for line in table[1:]) == sorted(truth[lap])
