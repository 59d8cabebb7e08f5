"""The session report: one self-contained HTML page, for the demo's session and a real FastF1 session, rendered
in headless Chromium (skipped, saying why, where Chromium is absent): not blank, every chart drawn, no console
message, nothing fetched; the story first, clock times on the session's own clock, critical detections as
sentences in time order, lap times scaled to racing laps."""
import logging
import re
import shutil
import subprocess

import pandas as pd
import psycopg2
import pytest

from apexflow.errors import SessionNotFound
from apexflow.insights import tasks
from apexflow.insights.offline import OfflineProvider
from apexflow.pipeline.ingest import register
from apexflow.query import report as q
from apexflow.report import figures, render
from apexflow.report.bundle import BASIC
from apexflow.storage.db import transaction
from apexflow_local.cli import main

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
CHARTS = ("track", "laps", "stints", "gaps", "positions", "detections")
WHEN = re.compile(r'<div class="when">(\d\d:\d\d:\d\d) UTC')


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


def cards_of(html: str) -> list[str]:
    return re.findall(r'<li class="card">(.*?)</li>', html, re.S)


def test_the_demo_report_is_self_contained_and_draws_every_section(demo_dsn, tmp_path):
    html, page = rendered(demo_dsn, "sim-s7-l6", tmp_path)
    assert not re.search(r"""<(script|img|link|iframe)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert html.count('<article class="insight driver') == 20
    # the story leads: the stored session summary's first lines, before any chart
    story = re.search(r'<div class="story">(.*?)</div>', html, re.S).group(1)
    assert "wins" in story and html.index('id="story"') < html.index('id="laps"')
    # critical detections: every one a card, as sentences (no key: value evidence), in time order
    with psycopg2.connect(demo_dsn) as conn, conn.cursor() as cur:
        critical = [d for d in q.detections(cur, "sim-s7-l6") if d["Severity"] == "critical"]
    found = cards_of(html)
    assert len(found) == len(critical) >= 1
    times = [WHEN.search(card).group(1) for card in found]
    assert times == sorted(times)
    for card in found:
        text = re.sub(r"<[^>]+>", "\n", card)
        assert "Evidence" not in text and not re.search(r"^\s*\w+: [-\d.]+( \w+/?\w*)?\s*$", text, re.M), text
        assert re.search(r"<p>[A-Z].*\.</p>", card), card
    dom, console = drawn(page, tmp_path)
    assert console == []
    assert charts_drawn(dom) == set(CHARTS)
    assert "critical detections" in dom and "SC" in dom  # detection markers on the map, safety car shading


def test_the_page_carries_plotlys_basic_bundle_of_the_version_plotly_py_writes_for(demo_dsn, tmp_path):
    from plotly.offline import get_plotlyjs_version

    if not BASIC.is_file():
        pytest.skip(f"{BASIC.name} is not built: `make report-js` (make test builds it)")
    html, _ = rendered(demo_dsn, "sim-s7-l6", tmp_path)
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in html
    assert html.count("plotly.js (") == 1  # one copy


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
    """2025 Miami Sprint from the frozen responses: timing, race control and results, no car data (so no map).
    It started 28 minutes late; truth comes from FastF1's own data (race-control messages, laps, track status)."""
    from apexflow.sources.fastf1 import FastF1Source

    logging.getLogger("fastf1").setLevel(logging.ERROR)
    source = FastF1Source(2025, "Miami", "S", cache_dir=tmp_path / "parsed", http_cache=shared_cache, telemetry=False)
    session, facts = source.session(), source.facts()
    conn = psycopg2.connect(dsn)
    with transaction(conn) as cur:
        register(cur, session, facts, "run-1")
    with conn.cursor() as cur:
        assert "No session summary written yet" in render(cur, session.session_id)  # no story yet: said so
    run = tasks.start(conn, session.session_id, "offline", "template", drivers=["NOR"])
    for scope, key in (("session", None), ("driver", "NOR")):
        tasks.summarize(conn, lambda name, model: OfflineProvider(), run["run_id"], scope, key)
    with conn.cursor() as cur:
        laps = q.laps(cur, session.session_id)
    conn.close()
    monkeypatch.setenv("DATABASE_URL", dsn)
    page = tmp_path / "miami.html"
    assert main(["report", session.session_id, "--out", str(page)]) == 0
    html = page.read_text()
    assert "2025 Miami Grand Prix Sprint" in html and 'id="track"' not in html  # no positions: no map box
    assert re.search(r'<p class="lacks" title="[^"]*FastF1[^"]*">Not in the source: car telemetry, car positions '
                     r"and weather\.</p>", html)  # one short line; the source's own words only on hover
    assert html.index('id="story"') < html.index("Winner: NOR") < html.index('id="critical"')

    # the session's own clock: the red flag's card at the time race control announced it, the start after it
    red = next(m for m in facts.race_control_messages if m["Message"].startswith("RED FLAG"))
    said = pd.Timestamp(red["Date"])
    card = next(c for c in cards_of(html) if "Red flag" in c)
    shown = pd.Timestamp(f"{said:%Y-%m-%d} {WHEN.search(card).group(1)}", tz="UTC")
    assert abs((shown - said).total_seconds()) < 5, (shown, said)
    # the collision race control reported, as one sentence naming both cars, on the lap one of them ended
    collision = next(m for m in facts.race_control_messages if "CAUSING A COLLISION" in m["Message"])
    cars = sorted(re.findall(r"\((\w{3})\)", collision["Message"]))
    lap = int(re.search(rf"Contact between {cars[0]} and {cars[1]} on lap (\d+)\.", html).group(1))
    assert lap in {max(r["LapNumber"] for r in facts.laps if r["Driver"] == car) for car in cars}

    # lap times scaled to racing laps: laps wholly under the safety car run off the top, green racing laps inside
    low, high = figures.racing_range(laps)
    assert f'"range":[{low},{high}]' in html
    under_sc = [lap["LapTime"] for lap in facts.laps if lap["LapTime"] and lap["TrackStatus"] == "4"]
    assert under_sc and min(under_sc) > high
    opening = figures.start_laps(laps)
    green = [lap["LapTime"] for lap in facts.laps if lap["LapTime"] and str(lap["TrackStatus"]) == "1"
             and lap["PitInTime"] is None and lap["PitOutTime"] is None and lap["LapNumber"] not in opening]
    assert sum(low <= t <= high for t in green) >= 0.9 * len(green)

    dom, console = drawn(page, tmp_path)
    assert console == []
    assert charts_drawn(dom) == {"laps", "stints", "gaps", "positions", "detections"}


def test_the_story_is_the_summarys_lead_and_a_card_drops_the_key_value_evidence():
    from apexflow.report import cards

    summary = ("NOR won from P3. PIA led until the safety car on lap 15.\nVER took a 10 s penalty.\n\n"
               "Strategy:\n  NOR stint 1 on INTERMEDIATE\n")
    assert cards.story(summary) == (["NOR won from P3. PIA led until the safety car on lap 15.",
                                     "VER took a 10 s penalty."], "Strategy:\n  NOR stint 1 on INTERMEDIATE")
    assert cards.story("- only a list") == ([], "- only a list")
    said = cards._explanation("Incident (critical) for SAI on lap 51.\nEvidence:\n  loss: 272.8\n  lap: 51\n"
                              "What to check:\n  speed, brake and throttle\n  the car's laps after it")
    assert said == "What to check: speed, brake and throttle; the car's laps after it."
    assert cards.lacking(["car_data", "position_data", "weather"]) == "car telemetry, car positions and weather"
