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
    run = subprocess.run([sys.executable, "-m", "apexflow_local.cli", "ingest", "csv", str(data), "--entity-col", "unit",
                          "--time-col", "t"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("wrote csv-rig (run ") and run.stdout.count("\n") == 1
    bars = re.compile(r"^(ingest |stream |analyze): +\d+%")
    other = [part for line in run.stderr.splitlines() for part in line.split("\r") if part and not bars.match(part)]
    assert other == []
