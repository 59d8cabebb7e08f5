"""The session report: one self-contained HTML page (plotly's JavaScript inlined, nothing fetched).

``render(cur, session_id)`` is what ``apexflow report`` writes and the API serves. Sections: the track map
coloured by speed with detection markers (sessions with position data), lap times with stints, compounds
and SC/VSC shading, the position chart, the detection timeline and the stored insights.
"""
from __future__ import annotations

from html import escape

import plotly.io
from plotly.offline import get_plotlyjs

from apexflow.report import data, figures

_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 0 20px 40px; color: #1d232a; background: #fff; }
header { border-bottom: 3px solid #c0392b; margin-bottom: 12px; }
h1 { margin: 18px 0 4px; } h2 { margin-top: 28px; } .facts { color: #555; margin: 0 0 12px; }
.note { background: #fff8e1; border-left: 4px solid #f39c12; padding: 8px 12px; }
.chart { min-height: 420px; }
.insights { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 10px; }
.insight { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; font-size: 14px; }
.insight.session { grid-column: 1 / -1; background: #f4f8fb; font-size: 15px; }
.insight h3 { margin: 0 0 4px; font-size: 14px; white-space: normal; }
footer { color: #888; font-size: 12px; margin-top: 30px; }
"""


class SessionNotFound(LookupError):
    """No session with that id is registered."""


def render(cur, session_id: str) -> str:
    """The report of one session as a complete HTML document; ``SessionNotFound`` when it is not registered."""
    session = data.session(cur, session_id)
    if session is None:
        raise SessionNotFound(f"session {session_id!r} is not registered")
    laps, order = data.laps(cur, session_id), data.order(cur, session_id)
    detections = data.detections(cur, session_id)
    track = data.track_lap(cur, session_id)
    sections = [_section("track", "Track map", figures.track_map(track, detections) if track else None,
                         "No car position data for this session, so no map."),
                _section("laps", "Lap times, stints and tyres", figures.lap_times(laps, order) if laps else None,
                         "No lap timing for this session."),
                _section("positions", "Race positions", figures.positions(laps, order)
                         if any(lap["Position"] for lap in laps) else None, "No positions in the lap timing."),
                _section("detections", "Detection timeline", figures.detection_timeline(
                    detections, order, data.neutralisations(cur, session_id)) if detections else None,
                    "Nothing was detected."),
                _insights(data.insights(cur, session_id))]
    return _page(session, detections, sections)


def _section(key: str, title: str, figure, empty: str) -> str:
    body = (plotly.io.to_html(figure, include_plotlyjs=False, full_html=False, div_id=f"chart-{key}",
                              config=_CONFIG, default_height=520) if figure is not None
            else f'<p class="note">{escape(empty)}</p>')
    return f'<section id="{key}"><h2>{escape(title)}</h2><div class="chart">{body}</div></section>'


def _insights(rows: list[dict]) -> str:
    if not rows:
        return ('<section id="insights"><h2>Insights</h2><p class="note">No insights written for this session '
                "yet.</p></section>")
    cards = "".join(
        f'<article class="insight {r["Scope"].lower()}">'
        f'<h3>{escape(_heading(r))}</h3>{escape(r["Summary"])}</article>' for r in rows)
    source = escape(f"{rows[0]['Provider']} / {rows[0]['Model']}")
    return (f'<section id="insights"><h2>Insights <small>({source})</small></h2>'
            f'<div class="insights">{cards}</div></section>')


def _heading(row: dict) -> str:
    """A card's title: what it is about, and a warning where the text did not hold to the facts."""
    about = {"Session": "Session summary", "Driver": row["Driver"] or "",
             "Detection": f"{row['Driver'] or 'Session'}: critical detection"}[row["Scope"]]
    return about + {"ok": "", "ungrounded": " (not all of it found in the facts)",
                    "fallback": " (offline summary: the model gave none)"}.get(row["Check"], "")


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


def _page(session: dict, detections: list[dict], sections: list[str]) -> str:
    counts = {s: sum(d["Severity"] == s for d in detections) for s in ("critical", "warning", "info")}
    facts = (f"{escape(session['Circuit'] or '')} · {session['Start Time']:%Y-%m-%d %H:%M} UTC · "
             f"{session['Cars']} cars · source {escape(session['Source'])} · detections: "
             + ", ".join(f"{n} {s}" for s, n in counts.items()))
    missing = (f'<p class="note">Not available from the source: {escape(session["Missing Data"])}</p>'
               if session["Missing Data"] else "")
    title = escape(f"{session['Session']} — ApexFlow session report")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style>'
            f"<script>{get_plotlyjs()}</script></head><body>"
            f'<header><h1>{escape(session["Session"])}</h1><p class="facts">{facts}</p></header>{missing}'
            f"{_gaps(session, detections)}"
            + "".join(sections)
            + f'<footer>ApexFlow session report · session {escape(session["Session Key"])}</footer></body></html>\n')
