"""The command line says what concerns the user and nothing else: bad requests fail before anything
starts, a local ingest prints its progress bars and its report, no library's warnings."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from apexflow_local.cli import main
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Starting moto or reaching a database fails the test."""
    import apexflow_local.stack as stack

    def refuse(*args, **kwargs):
        raise AssertionError("the local stack started for a request that was bad from the start")

    monkeypatch.setattr(stack, "local_stack", refuse)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize("argv, message", [
    (["ingest", "csv", "missing.csv", "--entity-col", "car", "--time-col", "t"], "missing.csv: no such file"),
    (["ingest", "fastf1", "--year", "1900", "--event", "Monza", "--session", "R"],
     "year 1900 has no F1 season: give a year from 1950 to"),
])
def test_a_bad_request_fails_in_one_line_before_anything_starts(argv, message, nothing_may_start, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apexflow: error: {message}") and err.count("\n") == 1


def test_a_local_ingest_prints_progress_and_its_report_only(tmp_path):
    """A fresh interpreter, the embedded database started from nothing, no XDG_RUNTIME_DIR: the warnings
    of platformdirs, Powertools and the like never reach the terminal."""
    data = tmp_path / "rig.csv"
    data.write_text("unit,t,temp\n" + "".join(f"a,{i},{20 + i % 3}\n" for i in range(50)))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env.update(APEXFLOW_PGDATA=str(tmp_path / "pg"), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "apexflow_local.cli", "ingest", "csv", str(data),
                          "--entity-col", "unit", "--time-col", "t"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("wrote csv-rig (run ") and run.stdout.count("\n") == 1
    bars = re.compile(r"^(ingest |stream |analyze): +\d+%")
    other = [part for line in run.stderr.splitlines() for part in line.split("\r") if part and not bars.match(part)]
    assert other == []


def _local_env(**extra) -> dict:
    """The environment of a fresh local command: no database given, state placed only by ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR", "APEXFLOW_PGDATA", "APEXFLOW_S3_DIR", "APEXFLOW_HOME")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _apexflow(*argv, cwd, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "apexflow_local.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _postmaster(pgdata) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _gone(pid: int, seconds: float = 30) -> bool:
    import time

    import psutil

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def test_apexflow_home_and_home_place_all_local_state(tmp_path):
    """Two users (or checkouts) in one folder keep apart: the database, the buckets and nothing in ./.apexflow."""
    work, first, second = tmp_path / "work", tmp_path / "first", tmp_path / "second"
    work.mkdir()
    (work / "rig.csv").write_text("unit,t,temp\n" + "".join(f"a,{i},{20 + i % 3}\n" for i in range(50)))
    env = _local_env(APEXFLOW_HOME=str(first))
    run = _apexflow("ingest", "csv", "rig.csv", "--entity-col", "unit", "--time-col", "t", cwd=work, env=env)
    assert run.returncode == 0, run.stderr
    assert (first / "pgdata" / "PG_VERSION").exists() and list((first / "s3").rglob("manifest.json"))
    assert str(first / "s3") in run.stdout and not (work / ".apexflow").exists()
    run = _apexflow("--home", str(second), "sessions", cwd=work, env=env)  # the option wins over the variable
    assert run.returncode == 0 and run.stdout.strip() == "no sessions found", run.stderr
    assert (second / "pgdata" / "PG_VERSION").exists()
    run = _apexflow("sessions", cwd=work, env=env)
    assert run.returncode == 0 and "csv-rig" in run.stdout and "analyzed" in run.stdout, run.stderr
    run = _apexflow("--home", str(second), "reprocess", "csv-rig", cwd=work, env=env)
    assert run.returncode == 2 and str(second / "s3") in run.stderr
    assert not (work / ".apexflow").exists()


def test_sigterm_stops_serve_and_the_embedded_postgres_it_started(tmp_path):
    import signal

    home = tmp_path / "home"
    serve = subprocess.Popen([sys.executable, "-m", "apexflow_local.cli", "--home", str(home), "serve", "--port", "0"],
                             cwd=tmp_path, env=_local_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in serve.stderr:
            if line.startswith("ApexFlow API on"):
                break
        postgres = _postmaster(home / "pgdata")
        assert postgres and not _gone(postgres, 0.5)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(120) == 0
    finally:
        serve.kill()
    assert "stopping" in serve.stderr.read()
    assert _gone(postgres) and _postmaster(home / "pgdata") is None


def test_a_server_left_by_a_killed_command_is_reused_then_stopped(tmp_path):
    """``kill -9`` runs no handler: the server it leaves is found by the next command, used, and stopped after."""
    home = tmp_path / "home"
    env = _local_env(APEXFLOW_HOME=str(home))
    killed = subprocess.run([sys.executable, "-c", "import os, signal\nfrom apexflow.storage.db import database_url\n"
                             "database_url()\nos.kill(os.getpid(), signal.SIGKILL)"],
                            cwd=tmp_path, env=env, timeout=120)
    assert killed.returncode == -9
    left = _postmaster(home / "pgdata")
    assert left and not _gone(left, 0.5)
    run = _apexflow("sessions", cwd=tmp_path, env=env)
    assert run.returncode == 0 and run.stdout.strip() == "no sessions found", run.stderr
    assert _gone(left) and _postmaster(home / "pgdata") is None


def test_a_server_that_will_not_start_is_tried_again_then_one_line(tmp_path):
    home = tmp_path / "home"
    env = _local_env(APEXFLOW_HOME=str(home))
    assert _apexflow("sessions", cwd=tmp_path, env=env).returncode == 0
    with open(home / "pgdata" / "postgresql.conf", "a") as conf:
        conf.write("shared_buffers = banana\n")
    run = _apexflow("sessions", cwd=tmp_path, env=env)
    assert run.returncode == 1
    assert run.stderr.startswith("apexflow: error: the embedded PostgreSQL in ") and run.stderr.count("\n") == 1
    assert "did not start after 3 tries" in run.stderr and "shared_buffers" in run.stderr
    assert "Traceback" not in run.stderr
    log = (home / "pgdata" / "log").read_text()
    assert log.count('invalid value for parameter "shared_buffers"') == 3


def test_an_ingest_stopped_by_sigterm_says_so_and_stops_the_embedded_postgres(tmp_path):
    import signal
    import time

    home = tmp_path / "home"
    data = tmp_path / "big.csv"
    with open(data, "w") as fh:
        fh.write("unit,t,temp,flow\n")
        for i in range(60_000):
            fh.writelines(f"u{u},{i * 0.1:.1f},{20 + (i + u) % 7},{u + i % 5}\n" for u in range(4))
    ingest = subprocess.Popen([sys.executable, "-m", "apexflow_local.cli", "--home", str(home), "ingest", "csv",
                               str(data), "--entity-col", "unit", "--time-col", "t"], cwd=tmp_path, env=_local_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _postmaster(home / "pgdata") is None and ingest.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        postgres = _postmaster(home / "pgdata")
        assert postgres and ingest.poll() is None, "the ingest ended before it could be stopped"
        ingest.send_signal(signal.SIGTERM)
        _, err = ingest.communicate(timeout=120)
    finally:
        ingest.kill()
    assert ingest.returncode == 143, err
    assert err.rstrip().splitlines()[-1].split("\r")[-1].startswith("apexflow: stopped by SIGTERM")
    assert "Traceback" not in err
    assert _gone(postgres) and _postmaster(home / "pgdata") is None
