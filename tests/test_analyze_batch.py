"""``analyze.Batch`` on a real PostgreSQL: duplicates are found once per entity at commit, and counted;
chunks of a replaced run are dropped, and counted."""
import pytest

from apexflow.chunk import encode
from apexflow.errors import ContractError
from apexflow.pipeline.analyze import Batch
from apexflow.pipeline.ingest import encode_session, register
from apexflow.simulator import SyntheticRace
from apexflow.storage.db import transaction


@pytest.fixture
def race(db):
    session, facts, run_id, encoded = encode_session(SyntheticRace(seed=2, laps=1))
    with transaction(db) as cur:
        register(cur, session, facts, run_id)
    return encoded


def count(db, table):
    with db.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def test_commit_counts_new_chunks_and_duplicates_within_and_across_batches(db, race):
    first = race[: len(race) // 2]
    batch = Batch(db)
    for _, _, _, data in first + first[:3]:  # three records delivered twice in one batch
        batch.add(data)
    assert batch.commit() == {"processed": len(first), "duplicate": 3, "stale": 0}
    assert count(db, "telemetry_chunks") == len(first)

    batch = Batch(db)
    for _, _, _, data in race:  # the first half again, then the rest
        batch.add(data)
    assert batch.commit() == {"processed": len(race) - len(first), "duplicate": len(first), "stale": 0}
    assert count(db, "telemetry_chunks") == len(race)
    with db.cursor() as cur:
        cur.execute("SELECT entity_id, last_seq FROM processing_checkpoints")
        last = dict(cur.fetchall())
    assert last == {e: max(c.seq for _, x, c, _ in race if x == e) for _, e, _, _ in race}


def test_a_record_of_an_unregistered_session_is_refused_and_nothing_is_queued(db, race):
    _, _, c, _ = race[0]
    c.session_id = "never-registered"
    batch = Batch(db)
    with pytest.raises(ContractError, match="not registered"):
        batch.add(encode(c))
    assert batch.commit() == {"processed": 0, "duplicate": 0, "stale": 0}
    assert count(db, "telemetry_chunks") == 0


def test_chunks_of_another_run_are_dropped_and_counted(db, race):
    _, _, c, _ = race[0]
    c.run_id = "an-older-run"
    batch = Batch(db)
    batch.add(encode(c))
    for _, _, _, data in race[1:4]:
        batch.add(data)
    assert batch.commit() == {"processed": 3, "duplicate": 0, "stale": 1}
    assert count(db, "telemetry_chunks") == 3


def test_a_run_replaced_between_add_and_commit_stores_nothing_of_it(db, dsn, race):
    """A re-ingest registering while a batch is in flight: the batch's chunks are the old run's, so dropped."""
    import psycopg2

    batch = Batch(db)
    for _, _, _, data in race[:5]:
        batch.add(data)
    other = psycopg2.connect(dsn)
    with transaction(other) as cur:
        cur.execute("UPDATE sessions SET run_id = 'run-2'")
    other.close()
    assert batch.commit() == {"processed": 0, "duplicate": 0, "stale": 5}
    assert count(db, "telemetry_chunks") == 0


def test_a_chunk_naming_no_run_is_refused_with_what_to_do(db, race):
    _, _, c, _ = race[0]
    c.run_id = ""
    with pytest.raises(ContractError, match="names no ingestion run .* re-ingest the session"):
        Batch(db).add(encode(c))


def test_a_chunk_of_an_entity_the_session_does_not_declare_fails_alone(db, race):
    _, _, c, _ = race[0]
    c.entity_id = "ZZZ"
    batch = Batch(db)
    with pytest.raises(ContractError, match="entity 'ZZZ' is not one the session declares"):
        batch.add(encode(c))
    for _, _, _, data in race[1:3]:
        batch.add(data)
    assert batch.commit() == {"processed": 2, "duplicate": 0, "stale": 0}
