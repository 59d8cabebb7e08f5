"""Backfill: many F1 sessions side by side (``apexflow ingest fastf1 --list`` / ``--all``); a session that fails is
reported with its reason and the others are ingested all the same; the exit code says whether all were."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import psycopg2
import pytest

from apexflow.errors import ContractError
from apexflow_local import backfill
from tests.conftest import ROOT
from tests.test_fastf1_source import SHARED_SESSIONS

pytestmark = pytest.mark.integration


def test_a_session_list_is_read_line_by_line_and_a_bad_line_is_named():
    specs = backfill.parse_list("# season opener\n2023, Azerbaijan, Q\n\n2025,Miami,S  # sprint\n2023,Azerbaijan,Q\n",
                                "list.txt")
    assert [(s["year"], s["event"], s["session"]) for s in specs] == [(2023, "Azerbaijan", "Q"), (2025, "Miami", "S")]
    with pytest.raises(ContractError, match=r"list.txt line 2: '2023,Azerbaijan' is not YEAR,EVENT,SESSION"):
        backfill.parse_list("2023,Azerbaijan,Q\n2023,Azerbaijan\n", "list.txt")
    with pytest.raises(ContractError, match="names no session"):
        backfill.parse_list("# nothing\n", "list.txt")


def test_all_takes_every_session_of_the_schedule_that_has_started(shared_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTF1_HTTP_CACHE", str(shared_cache))
    monkeypatch.setenv("FASTF1_CACHE", str(tmp_path / "ff1"))
    baku = backfill.season([2023], "Azerbaijan")
    assert [s["session"] for s in baku] == ["Practice 1", "Qualifying", "Sprint Shootout", "Sprint", "Race"]
    assert {s["event"] for s in baku} == {"Azerbaijan Grand Prix"}
    before_the_race = datetime(2023, 4, 30, 8, tzinfo=UTC)  # the sprint weekend's Sunday morning
    assert [s["session"] for s in backfill.season([2023], "Azerbaijan", now=before_the_race)][-1] == "Sprint"
    assert [s["session"] for s in backfill.season([2023], "Azerbaijan", "SS")] == ["Sprint Shootout"]
    season = backfill.season([2023])
    assert len({s["event"] for s in season}) == 22 and len(season) > 100


def test_a_backfill_ingests_the_good_sessions_and_reports_the_bad_ones(shared_cache, dsn, tmp_path):
    good = [(2022, "British", "FP1"), (2023, "Azerbaijan", "SS"), (2024, "China", "SQ")]
    listing = tmp_path / "sessions.txt"
    listing.write_text("".join(f"{y},{e},{s}\n" for y, e, s in good[:2]) + "2023,Atlantis,Q\n"
                       "2024,Spain,FP1  # not in the frozen responses\n" + "{},{},{}\n".format(*good[2]))
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "APEXFLOW_PGDATA")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=dsn, FASTF1_HTTP_CACHE=str(shared_cache),
               FASTF1_CACHE=str(tmp_path / "ff1"), APEXFLOW_HOME=str(tmp_path / "home"),
               APEXFLOW_S3_DIR=str(tmp_path / "s3"))
    run = subprocess.run([sys.executable, "-m", "apexflow_local.cli", "ingest", "fastf1", "--list", str(listing),
                          "--jobs", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr  # not every session was ingested
    out = run.stdout.splitlines()
    assert out[0] == "backfilling 5 sessions, 2 at a time"
    assert any(line.startswith("failed  2023 Atlantis Q: no event matches 'Atlantis' in 2023") for line in out)
    assert any(line.startswith("failed  2024 Spain FP1: ") and "no lap timing data" in line for line in out)
    assert out[-1].startswith("backfilled 3 of 5 sessions in ")
    assert out[-1].endswith("failed: 2023 Atlantis Q, 2024 Spain FP1")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT year, session_name, count(l.*) FROM sessions s LEFT JOIN laps l USING (session_id) "
                    "GROUP BY 1, 2 ORDER BY 1")
        stored = cur.fetchall()
    conn.close()
    assert stored == [(2022, "Practice 1", SHARED_SESSIONS[good[0]][0]),
                      (2023, "Sprint Shootout", SHARED_SESSIONS[good[1]][0]),
                      (2024, "Sprint Qualifying", SHARED_SESSIONS[good[2]][0])]
    assert sum(line.startswith("ok      ") for line in out) == 3


def test_bad_backfill_requests_fail_before_anything_starts(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    for argv, message in [
        (["--all"], "--all needs --year"),
        (["--list", str(tmp_path / "none.txt")], "cannot read the session list"),
        (["--all", "--year", "2023", "--jobs", "0"], "--jobs must be at least 1"),
        (["--year", "2023", "2024", "--event", "Baku", "--session", "Q"], "one --year for one session"),
        (["--year", "2023", "--event", "Baku"], "--session is required"),
    ]:
        run = subprocess.run([sys.executable, "-m", "apexflow_local.cli", "ingest", "fastf1", *argv], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and run.stderr.startswith(f"apexflow: error: {message}"), (argv, run.stderr)



def test_a_worker_that_dies_fails_its_sessions_and_the_backfill_still_reports(dsn, monkeypatch, tmp_path):
    import threading
    import time

    import psutil

    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("FASTF1_CACHE", str(tmp_path / "ff1"))
    me, killed = psutil.Process(), []

    def kill_the_worker():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for child in me.children(recursive=True):
                if "spawn_main" in " ".join(child.cmdline()):
                    child.kill()
                    killed.append(child.pid)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    reported = []
    specs = [{"source": "fastf1", "year": 2023, "event": "Azerbaijan", "session": s} for s in ("Q", "S")]
    outcomes = backfill.run(specs, jobs=1, report=reported.append)
    killer.join()
    assert killed
    assert [o.error.startswith("its worker process failed") for o in outcomes] == [True, True]
    assert sorted(o.name for o in reported) == ["2023 Azerbaijan Q", "2023 Azerbaijan S"]
