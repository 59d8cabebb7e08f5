"""The session report: one self-contained HTML page, for the demo's session and a real FastF1 session, rendered
in headless Chromium (skipped, saying why, where Chromium is absent): not blank, every chart drawn, no console
message, nothing fetched."""
import logging
import re
import shutil
import subprocess

import psycopg2
import pytest

from apexflow.errors import SessionNotFound
from apexflow.insights import tasks
from apexflow.insights.offline import OfflineProvider
from apexflow.pipeline.ingest import register
from apexflow.report import render
from apexflow.storage.db import transaction
from apexflow_local.cli import main

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
CHARTS = ("track", "laps", "positions", "detections")


def chromium(page, tmp_path, *args) -> subprocess.CompletedProcess:
    """Headless Chromium on a file:// page, offline (a dead proxy for anything else), its console on stderr."""
    if BROWSER is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
         "--virtual-time-budget=20000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def rendered(dsn, session_id, tmp_path):
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        html = render(cur, session_id)
    conn.close()
    page = tmp_path / f"{session_id}.html"
    page.write_text(html)
    return html, page


def drawn(page, tmp_path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and every console message."""
    run = chromium(page, tmp_path, "--dump-dom")
    return run.stdout, [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


def charts_drawn(dom: str) -> set[str]:
    """Charts plotly drew (its SVG inside the chart's div)."""
    return {key for key in CHARTS if re.search(rf'id="chart-{key}"[^>]*>.*?class="main-svg"', dom, re.S)}


def test_the_demo_report_is_self_contained_and_draws_every_section(demo_dsn, tmp_path):
    html, page = rendered(demo_dsn, "sim-s7-l6", tmp_path)
    assert not re.search(r"""<(script|img|link|iframe)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert html.count('<article class="insight driver') == 20 and "Session summary" in html
    assert html.count('<article class="insight detection') >= 1
    dom, console = drawn(page, tmp_path)
    assert console == []
    assert charts_drawn(dom) == set(CHARTS)
    assert "critical detections" in dom and "SC" in dom  # detection markers on the map, safety car shading


def test_the_demo_report_screenshot_is_not_blank(demo_dsn, tmp_path):
    from PIL import Image

    _, page = rendered(demo_dsn, "sim-s7-l6", tmp_path)
    shot = tmp_path / "shot.png"
    chromium(page, tmp_path, "--window-size=1300,2400", f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB").resize((260, 480))
    pixels = [image.getpixel((x, y)) for y in range(image.height) for x in range(image.width)]
    inked = sum(1 for p in pixels if sum(p) < 700) / len(pixels)  # not white: text, lines, shading
    assert inked > 0.1 and len(set(pixels)) > 200, (inked, len(set(pixels)))


def test_the_report_command_writes_the_page_and_refuses_an_unknown_session(demo_dsn, tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.setenv("DATABASE_URL", demo_dsn)
    out = tmp_path / "report.html"
    assert main(["report", "sim-s7-l6", "--out", str(out)]) == 0
    assert f"to {out}" in capsys.readouterr().out and out.read_text().startswith("<!DOCTYPE html>")
    assert main(["report", "no-such-session"]) == 2
    assert "session 'no-such-session' is not registered" in capsys.readouterr().err
    with psycopg2.connect(demo_dsn) as conn, conn.cursor() as cur, pytest.raises(SessionNotFound):
        render(cur, "no-such-session")


def test_a_real_fastf1_session_reports_laps_positions_events_and_insights(dsn, shared_cache, tmp_path,
                                                                           monkeypatch, capsys):
    """2025 Miami Sprint from the frozen responses: timing, race control and results, no car data (so no map)."""
    from apexflow.sources.fastf1 import FastF1Source

    logging.getLogger("fastf1").setLevel(logging.ERROR)
    source = FastF1Source(2025, "Miami", "S", cache_dir=tmp_path / "parsed", http_cache=shared_cache, telemetry=False)
    session = source.session()
    conn = psycopg2.connect(dsn)
    with transaction(conn) as cur:
        register(cur, session, source.facts(), "run-1")
    run = tasks.start(conn, session.session_id, "offline", "template", drivers=["NOR"])
    for scope, key in (("session", None), ("driver", "NOR")):
        tasks.summarize(conn, lambda name, model: OfflineProvider(), run["run_id"], scope, key)
    conn.close()
    monkeypatch.setenv("DATABASE_URL", dsn)
    page = tmp_path / "miami.html"
    assert main(["report", session.session_id, "--out", str(page)]) == 0
    html = page.read_text()
    assert "2025 Miami Grand Prix Sprint" in html and "No car position data for this session" in html
    assert "Winner: NOR" in html and "Contact between" in html  # the offline summary and a race event
    dom, console = drawn(page, tmp_path)
    assert console == []
    assert charts_drawn(dom) == {"laps", "positions", "detections"}
