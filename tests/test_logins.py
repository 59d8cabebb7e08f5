"""The deployed logins on real PostgreSQL: the read-only (BI) login reads the reporting schema and nothing
else, and writes nothing; the app login runs the pipeline with only its own privileges."""
import psycopg2
import pytest
from psycopg2 import errors

from apexflow.pipeline.analyze import Batch
from apexflow.pipeline.ingest import encode_session, register
from apexflow.simulator import SyntheticRace
from apexflow.storage import locks, registry
from apexflow.storage.db import transaction


def relations(dsn, schema):
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND NOT c.relispartition "
                    "ORDER BY 1", (schema,))
        names = [r for (r,) in cur.fetchall()]
    conn.close()
    return names


def fails(conn, statement, error=errors.InsufficientPrivilege):
    with pytest.raises(error), conn.cursor() as cur:
        cur.execute(statement)
    conn.rollback()


def test_the_read_only_login_reads_every_reporting_view_and_nothing_else(demo_dsn, login):
    bi = login(demo_dsn, "readonly")
    views = relations(demo_dsn, "reporting")
    assert {"dim_session", "dim_driver", "dim_team", "dim_circuit", "dim_date", "fact_laps", "fact_stints",
            "fact_pit_stops", "fact_detections", "fact_race_events", "fact_insights", "fact_telemetry"} <= set(views)
    with bi.cursor() as cur:
        for view in views:
            cur.execute(f"SELECT * FROM reporting.{view} LIMIT 5")
            assert cur.fetchall() or view == "pipeline_failed_records", f"{view} is empty on the demo"
    bi.rollback()
    raw = relations(demo_dsn, "public")
    assert {"sessions", "laps", "detections", "samples", "insights"} <= set(raw)
    for table in raw:
        fails(bi, f"SELECT 1 FROM public.{table} LIMIT 1")
    for schema in ("public", "reporting_source"):
        fails(bi, f"SELECT 1 FROM {schema}.laps LIMIT 1", (errors.InsufficientPrivilege, errors.UndefinedTable))


def test_the_read_only_login_cannot_write_even_out_of_read_only_mode(demo_dsn, login):
    bi = login(demo_dsn, "readonly")
    with bi.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone() == ("on",)
    fails(bi, "INSERT INTO reporting.fact_laps DEFAULT VALUES", errors.ReadOnlySqlTransaction)
    for statement in ("INSERT INTO reporting.fact_laps DEFAULT VALUES",
                      "DELETE FROM reporting.fact_race_events",
                      "UPDATE reporting.fact_stints SET \"Laps\" = 0",
                      "CREATE TABLE reporting.mine (x int)",
                      "CREATE TABLE public.mine (x int)",
                      "DROP VIEW reporting.dim_date",
                      "SELECT public.refresh_reporting_timing('sim-s7-l6')",
                      "SELECT public.samples_drop('sim-s7-l6')"):
        fails(bi, "SET transaction_read_only = off; " + statement, (errors.InsufficientPrivilege,))


def test_the_app_login_runs_the_pipeline_with_its_own_privileges(dsn, login):
    app = login(dsn, "app")
    session, facts, run_id, encoded = encode_session(SyntheticRace(seed=3, laps=2, cars=4))
    with transaction(app) as cur:
        assert register(cur, session, facts, run_id)
    batch = Batch(app)
    for _, _, _, data in encoded:
        batch.add(data)
    assert batch.commit()["processed"] == len(encoded)
    with app.cursor() as cur:
        cur.execute("SELECT count(*) FROM samples")
        assert cur.fetchone()[0] == sum(c.n for _, _, c, _ in encoded)
    app.rollback()
    with transaction(app) as cur:
        assert register(cur, session, facts, "run-2")  # a new run: partition emptied, facts rebuilt
        assert registry.delete_session(cur, session.session_id)
    fails(app, "CREATE TABLE public.mine (x int)")
    fails(app, "TRUNCATE reporting.fact_laps")


def test_the_read_only_login_cannot_hold_up_the_write_path_or_the_migrations(dsn, login):
    """The keys the write path used to take as advisory locks, held by the BI login: the refresh, a migration and
    the live follower's lock go on; the locks they take now are on objects that login may not touch."""
    from apexflow.storage.migrate import migrate

    bi = login(dsn, "readonly")
    with bi.cursor() as cur:  # what a hostile BI user did: hold the keys the writers took
        cur.execute("SELECT pg_advisory_lock(hashtext('refresh_reporting_events'), hashtext('sim-s7-l6')), "
                    "pg_advisory_lock(7415001), pg_advisory_lock(hashtextextended('live:sim-s7-l6', 0))")
    bi.commit()  # session locks: held on
    owner = psycopg2.connect(dsn)
    with transaction(owner) as cur:
        cur.execute("SET LOCAL statement_timeout = '3s'")
        cur.execute("SELECT refresh_reporting_events('sim-s7-l6')")
        assert locks.try_lock(cur, "live:sim-s7-l6")
    assert migrate(dsn) == []
    for statement in ("LOCK TABLE public.schema_migrations IN EXCLUSIVE MODE",
                      "SELECT 1 FROM public.locks FOR UPDATE", "SELECT seed FROM public.lock_seed",
                      "LOCK TABLE reporting.fact_race_events IN SHARE ROW EXCLUSIVE MODE"):
        fails(bi, "SET transaction_read_only = off; " + statement)
    other = psycopg2.connect(dsn)  # a second writer waits for the first's refresh of that session
    with transaction(owner) as cur:
        cur.execute("SELECT refresh_reporting_events('sim-s7-l6')")
        with pytest.raises(errors.LockNotAvailable), transaction(other) as cur2:
            cur2.execute("SET LOCAL lock_timeout = '200ms'")
            cur2.execute("SELECT refresh_reporting_events('sim-s7-l6')")
    other.close()
    owner.close()


def test_the_read_only_login_writes_no_large_object_and_no_temporary_table(demo_dsn, login):
    bi = login(demo_dsn, "readonly")
    for off in ("SET transaction_read_only = off; ", "SET default_transaction_read_only = off; COMMIT; "):
        for statement in ("SELECT lo_from_bytea(0, 'x')", "SELECT lo_create(0)", "SELECT lo_creat(-1)",
                          "CREATE TEMP TABLE mine (x int)", "CREATE TEMPORARY TABLE mine AS SELECT 1"):
            fails(bi, off + statement)
    with bi.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_largeobject_metadata")
        assert cur.fetchone() == (0,)


def test_the_read_only_login_has_timeouts_and_a_connection_limit(demo_dsn, login):
    from apexflow.storage.logins import READONLY_CONNECTIONS

    bi = login(demo_dsn, "readonly")
    with bi.cursor() as cur:
        shown = {}
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
                     "idle_session_timeout"):
            cur.execute(f"SHOW {name}")
            shown[name] = cur.fetchone()[0]
    assert shown == {"statement_timeout": "1min", "lock_timeout": "5s",
                     "idle_in_transaction_session_timeout": "1min", "idle_session_timeout": "15min"}
    user = bi.info.user
    more = [psycopg2.connect(demo_dsn, user=user, password="not-a-secret") for _ in range(READONLY_CONNECTIONS - 1)]
    try:
        with pytest.raises(psycopg2.OperationalError, match="too many connections for role"):
            psycopg2.connect(demo_dsn, user=user, password="not-a-secret")
    finally:
        for c in more:
            c.close()
