"""Samples in PostgreSQL: analyze copies every sample of a car session once, into the session's own partition."""
from datetime import timedelta

import numpy as np
import pytest

from apexflow.pipeline.analyze import Batch
from apexflow.pipeline.ingest import encode_session, register
from apexflow.simulator import SyntheticRace
from apexflow.storage import registry
from apexflow.storage.db import transaction


@pytest.fixture
def race(db):
    session, facts, run_id, encoded = encode_session(SyntheticRace(seed=2, laps=1, cars=3))
    with transaction(db) as cur:
        register(cur, session, facts, run_id)
    return session, facts, encoded


def analyze(db, records):
    batch = Batch(db)
    for data in records:
        batch.add(data)
    return batch.commit()


def rows(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_every_sample_is_copied_once_with_its_time_and_channels(db, race):
    session, _, encoded = race
    records = [data for _, _, _, data in encoded]
    analyze(db, records[: len(records) // 2])
    analyze(db, records)  # the first half again: duplicates write nothing
    assert rows(db, "SELECT count(*) FROM samples")[0][0] == sum(c.n for _, _, c, _ in encoded)
    c = encoded[len(encoded) // 2][2]
    stored = rows(db, "SELECT time, speed, n_gear, brake, lap_number, x FROM samples WHERE entity_id = %s "
                      "AND time BETWEEN %s AND %s ORDER BY time", c.entity_id,
                  session.start_time + timedelta(seconds=float(c.t[0])),
                  session.start_time + timedelta(seconds=float(c.t[-1])))
    assert len(stored) == c.n
    seconds = np.array([(t - session.start_time).total_seconds() for t, *_ in stored])
    assert np.abs(seconds - c.t).max() < 1e-6
    assert np.array([r[1] for r in stored], np.float32).tolist() == c.values["Speed"].tolist()
    assert [r[2] for r in stored] == np.rint(c.values["nGear"]).astype(int).tolist()
    assert {r[3] for r in stored} <= {0, 1} and all(r[4] >= 1 for r in stored)
    partition = rows(db, "SELECT samples_partition_name(%s)", session.session_id)[0][0]
    assert rows(db, f"SELECT count(*) FROM {partition}")[0][0] == sum(c.n for _, _, c, _ in encoded)


def test_a_channel_the_session_lacks_is_null(db):
    source = SyntheticRace(seed=4, laps=1, cars=2)
    session, facts, run_id, encoded = encode_session(source)
    session.channels = tuple(ch for ch in session.channels if ch.name not in ("X", "Y", "Z"))
    for _, _, c, _ in encoded:
        for name in ("X", "Y", "Z"):
            del c.values[name]
        c.block = None
    from apexflow.chunk import encode

    with transaction(db) as cur:
        register(cur, session, facts, run_id)
    analyze(db, [encode(c) for _, _, c, _ in encoded])
    assert rows(db, "SELECT count(*), count(x), count(speed) FROM samples")[0] == (
        sum(c.n for _, _, c, _ in encoded), 0, sum(c.n for _, _, c, _ in encoded))


def test_a_new_run_empties_the_partition_and_deleting_the_session_drops_it(db, race):
    session, facts, encoded = race
    analyze(db, [data for _, _, _, data in encoded])
    with transaction(db) as cur:
        register(cur, session, facts, "run-2")
    assert rows(db, "SELECT count(*) FROM samples")[0][0] == 0
    with transaction(db) as cur:
        registry.delete_session(cur, session.session_id)
    assert rows(db, "SELECT to_regclass(samples_partition_name(%s))", session.session_id)[0][0] is None


def test_generic_sessions_keep_their_samples_out(db, tmp_path):
    from apexflow.sources.csv_source import FileSource

    path = tmp_path / "rig.csv"
    path.write_text("unit,t,temp\n" + "".join(f"a,{i},{20 + i % 3}\n" for i in range(50)))
    session, facts, run_id, encoded = encode_session(FileSource(path, entity_col="unit", time_col="t"))
    assert session.profile == "generic"
    with transaction(db) as cur:
        register(cur, session, facts, run_id)
    assert analyze(db, [data for _, _, _, data in encoded])["processed"] == len(encoded)
    assert rows(db, "SELECT count(*) FROM samples")[0][0] == 0
