"""The session report: one self-contained HTML page (plotly's JavaScript inlined, nothing fetched).

``render(cur, session_id)`` is what ``apexflow report`` writes and the API serves. It tells the session: the
story (the lead of the stored session summary), what the source lacks in one line, the critical detections as
sentences in the order they happened, lap times scaled to racing laps, the gap to the leader, positions, the track
map (only with position data), the detection timeline and the drivers' insights. Clock times are the session's own.
"""
from __future__ import annotations

from datetime import timedelta
from html import escape

import plotly.io

from apexflow.errors import SessionNotFound
from apexflow.query import report as q
from apexflow.report import cards, figures
from apexflow.report.bundle import plotly_js

_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 0 20px 40px; color: #1d232a; background: #fff; }
header { border-bottom: 3px solid #c0392b; margin-bottom: 12px; }
h1 { margin: 18px 0 4px; } h2 { margin-top: 28px; } .facts { color: #555; margin: 0 0 8px; }
.lacks { color: #6b5a2e; font-size: 14px; margin: 0 0 10px; }
.note { background: #fff8e1; border-left: 4px solid #f39c12; padding: 8px 12px; }
.story { background: #f4f8fb; border-left: 4px solid #2c6e9b; padding: 6px 16px; font-size: 16px; }
.story p { margin: 6px 0; } details { margin: 6px 0 8px; } details pre { white-space: pre-wrap; font-size: 13px; }
.chart { min-height: 420px; }
.cards { list-style: none; padding: 0; margin: 0; }
.card { border-left: 4px solid #c0392b; background: #fdf3f2; padding: 6px 12px; margin: 0 0 8px; }
.card .when { color: #7b241c; font-weight: 600; font-size: 13px; } .card p { margin: 3px 0; }
.card .why { color: #444; font-size: 14px; }
.insights { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 10px; }
.insight { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; font-size: 14px; }
.insight h3 { margin: 0 0 4px; font-size: 14px; white-space: normal; }
footer { color: #888; font-size: 12px; margin-top: 30px; }
"""
RACES = ("Race", "Sprint")  # sessions raced from a grid (FastF1 names 2021-22 sprints "Sprint" too)
_CHECK = {"ok": "", "ungrounded": " (statements the facts did not hold left out)",
          "fallback": " (offline summary: the model gave none)", "incomplete": " (the analysis stopped short)"}


def render(cur, session_id: str) -> str:
    """The report of one session as a complete HTML document; ``SessionNotFound`` when it is not registered."""
    session = q.session(cur, session_id)
    if session is None:
        raise SessionNotFound(f"session {session_id!r} is not registered")
    laps, order = q.laps(cur, session_id), q.order(cur, session_id)
    detections, written = q.detections(cur, session_id), q.insights(cur, session_id)
    summary = next((r for r in written if r["Scope"] == "Session"), None)
    cards.place(detections, {(r["Driver"], r["Lap"]): r["Lap Start"] for r in laps if r["Lap Start"]})
    track = q.track_lap(cur, session_id) if "position_data" not in session["Missing Streams"] else []
    timed = [lap for lap in laps if lap["Lap Time (s)"] is not None]
    race = session["Session Type"] in RACES
    charts = [("laps", "Lap times", timed and figures.lap_times(laps, order, race)),
              ("stints", "Stints and tyres", any(lap["Stint"] for lap in laps) and figures.stints(laps, order)),
              ("gaps", "Gap to the leader", any(lap["Gap To Leader (s)"] is not None for lap in laps)
               and figures.gaps(laps, order)),
              ("positions", "Race positions", any(lap["Position"] for lap in laps) and figures.positions(laps, order)),
              ("track", "Track map", track and figures.track_map(track, detections)),
              ("detections", "Detection timeline", detections and figures.detection_timeline(
                  detections, order, q.neutralisations(cur, session_id)))]
    body = [_story(summary, session_id), _critical(cards.critical(detections))]
    body += [_chart(key, title, figure) for key, title, figure in charts if figure]  # no box without a chart
    body.append(_insights([r for r in written if r["Scope"] == "Driver"]))
    return _page(session, detections, body, not timed)


def _chart(key: str, title: str, figure) -> str:
    div = plotly.io.to_html(figure, include_plotlyjs=False, full_html=False, div_id=f"chart-{key}", config=_CONFIG,
                            default_height=520)
    return f'<section id="{key}"><h2>{escape(title)}</h2><div class="chart">{div}</div></section>'


def _story(summary: dict | None, session_id: str) -> str:
    if summary is None:
        return ('<section id="story"><p class="note">No session summary written yet: '
                f"<code>apexflow insights {escape(session_id)}</code> or "
                f"<code>POST /sessions/{escape(session_id)}/insights</code> writes one.</p></section>")
    lead, rest = cards.story(summary["Summary"])
    if not lead:  # a summary that opens with a section or a list: shown whole
        lead, rest = summary["Summary"].strip().splitlines(), ""
    source = f"{summary['Provider']} / {summary['Model']}{_CHECK.get(summary['Check'], '')}"
    more = (f"<details><summary>The whole session summary</summary><pre>{escape(rest)}</pre></details>"
            if rest else "")
    return (f'<section id="story"><h2>The story <small>({escape(source)})</small></h2><div class="story">'
            + "".join(f"<p>{escape(line)}</p>" for line in lead) + f"</div>{more}</section>")


def _critical(found: list[dict]) -> str:
    if not found:
        return ""
    items = "".join(
        f'<li class="card"><div class="when">{c["at"]:%H:%M:%S} UTC'
        + (f" · lap {c['lap']}" if c["lap"] else "") + (f" · {escape(', '.join(c['drivers']))}" if c["drivers"] else "")
        + f' · {escape(c["title"])}</div><p>{escape(c["sentence"])}</p>'
        + (f'<p class="why">{escape(c["explanation"])}</p>' if c["explanation"] else "") + "</li>"
        for c in found)
    return (f'<section id="critical"><h2>Critical detections, in the order they happened ({len(found)})</h2>'
            f'<ul class="cards">{items}</ul></section>')


def _insights(rows: list[dict]) -> str:
    if not rows:
        return ""
    body = "".join(f'<article class="insight driver"><h3>{escape((r["Driver"] or "") + _CHECK.get(r["Check"], ""))}'
                   f'</h3>{escape(r["Summary"])}</article>' for r in rows)
    source = escape(f"{rows[0]['Provider']} / {rows[0]['Model']}")
    return (f'<section id="insights"><h2>Drivers <small>({source})</small></h2>'
            f'<div class="insights">{body}</div></section>')


def _gaps(session: dict, detections: list[dict]) -> str:
    """The live feed gaps (``feed_gap`` detections, ``apexflow.sources.live.health``): which source, when and
    how long, so a missing lap or a hole in a car's data is explained."""
    gaps = [d for d in detections if d["Kind"] == "feed_gap"]
    if not gaps:
        return ""
    items = ", ".join(
        f"{'every source' if g['Channel'] == 'all' else g['Channel']}{' (' + g['Driver'] + ')' if g['Driver'] else ''}"
        f" {_clock((g['Start Time'] - session['Start Time']).total_seconds())} for {g['Duration (s)'] or 0:.0f} s"
        for g in gaps)
    return f'<p class="note">Live feed gaps: {escape(items)}</p>'


def _clock(t: float) -> str:
    minutes, seconds = divmod(max(t, 0.0), 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def _page(session: dict, detections: list[dict], body: list[str], no_laps: bool) -> str:
    counts = {s: sum(d["Severity"] == s for d in detections) for s in ("critical", "warning", "info")}
    clock = (" (from the schedule: the source gave no clock of its own)"
             if (session["Clock Basis"] or "").startswith("scheduled") else "")
    started = session["Session Started"] + timedelta(seconds=30)
    facts = (f"{escape(session['Circuit'] or '')} · started {started:%Y-%m-%d %H:%M} UTC{clock} · "
             f"{session['Cars']} cars · source {escape(session['Source'])} · detections: "
             + ", ".join(f"{n} {s}" for s, n in counts.items()))
    lacks = list(session["Missing Streams"]) + (["laps"] if no_laps and "laps" not in session["Missing Streams"]
                                                else [])
    missing = (f'<p class="lacks" title="{escape(session["Missing Data"] or "")}">Not in the source: '
               f'{escape(cards.lacking(lacks))}.</p>' if lacks else "")
    title = escape(f"{session['Session']} — ApexFlow session report")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style>'
            f"<script>{plotly_js()}</script></head><body>"
            f'<header><h1>{escape(session["Session"])}</h1><p class="facts">{facts}</p>{missing}</header>'
            f"{_gaps(session, detections)}"
            + "".join(body)
            + f'<footer>ApexFlow session report · session {escape(session["Session Key"])}</footer></body></html>\n')
