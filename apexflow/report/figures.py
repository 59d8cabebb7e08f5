"""The report's charts as plotly figures, from the rows ``data`` reads."""
from __future__ import annotations

from collections import defaultdict

import plotly.graph_objects as go
from plotly.colors import qualitative

from apexflow.report.data import NEUTRALISED

COMPOUNDS = {"SOFT": "#da291c", "MEDIUM": "#ffd12e", "HARD": "#f0f0ec", "INTERMEDIATE": "#43b02a",
             "WET": "#0067ad"}
SEVERITY = {"info": "#7f8c8d", "warning": "#f39c12", "critical": "#c0392b"}
SHADE = {"SC": "rgba(255, 210, 0, 0.25)", "VSC": "rgba(255, 150, 0, 0.18)", "Red": "rgba(220, 0, 0, 0.18)"}
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), hovermode="closest",
              legend=dict(font=dict(size=10)))


def colours(drivers: list[str]) -> dict[str, str]:
    palette = qualitative.Dark24 + qualitative.Light24
    return {d: palette[i % len(palette)] for i, d in enumerate(drivers)}


def track_map(lap: list[dict], detections: list[dict]) -> go.Figure:
    """The fastest clean lap's line coloured by speed, and where each warning or critical detection began."""
    fig = go.Figure(go.Scatter(
        x=[s["x"] for s in lap], y=[s["y"] for s in lap], mode="markers",
        name=f"{lap[0]['Driver']} lap {lap[0]['Lap']}",
        marker=dict(color=[s["speed"] for s in lap], colorscale="Turbo", size=6,
                    colorbar=dict(title="km/h", thickness=12)),
        hovertemplate="%{marker.color:.0f} km/h<extra></extra>"))
    for severity in ("warning", "critical"):
        hits = [d for d in detections if d["Severity"] == severity and d["x"] is not None]
        if hits:
            fig.add_trace(go.Scatter(
                x=[d["x"] for d in hits], y=[d["y"] for d in hits], mode="markers", name=f"{severity} detections",
                marker=dict(symbol="x", size=13, color=SEVERITY[severity], line=dict(width=1, color="black")),
                text=[f"{d['Driver']} lap {d['Lap']}: {d['Description'] or d['Detection']}" for d in hits],
                hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(title="Track map: speed on the fastest clean lap, and where detections began",
                      **{**LAYOUT, "legend": dict(orientation="h", y=-0.05)})
    fig.update_yaxes(scaleanchor="x", scaleratio=1, visible=False)
    fig.update_xaxes(visible=False)
    return fig


def _shade_laps(fig: go.Figure, laps: list[dict]) -> None:
    """SC, VSC and red-flag laps (any car's lap under them) as shaded bands, labelled once each."""
    under: dict[str, set[int]] = defaultdict(set)
    for lap in laps:
        for column, label in NEUTRALISED.items():
            if lap[column]:
                under[label].add(lap["Lap"])
    for label, numbers in under.items():
        for n in sorted(numbers):
            fig.add_vrect(x0=n - 0.5, x1=n + 0.5, fillcolor=SHADE[label], line_width=0, layer="below",
                          annotation_text=label if n - 1 not in numbers else "", annotation_position="top left")


def lap_times(laps: list[dict], order: list[str]) -> go.Figure:
    """Each driver's lap times, a line per stint, markers in the tyre's colour; pit laps hollow."""
    fig, colour = go.Figure(), colours(order)
    by_driver = defaultdict(list)
    for lap in laps:
        if lap["Lap Time (s)"] is not None:
            by_driver[lap["Driver"]].append(lap)
    for driver in order:
        rows = by_driver.get(driver, [])
        xs: list[float | None] = []
        ys: list[float | None] = []
        for i, lap in enumerate(rows):
            if i and lap["Stint"] != rows[i - 1]["Stint"]:
                xs.append(None)  # a new stint: the line breaks
                ys.append(None)
            xs.append(lap["Lap"])
            ys.append(lap["Lap Time (s)"])
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=driver, legendgroup=driver,
            line=dict(color=colour[driver], width=1.5),
            marker=dict(size=8, color=[COMPOUNDS.get(r["Compound"] or "", "#bbbbbb") for r in rows],
                        symbol=["circle-open" if r["Pit In Lap"] or r["Pit Out Lap"] else "circle" for r in rows],
                        line=dict(width=1.5, color=colour[driver])),
            text=[f"{driver} lap {r['Lap']}: stint {r['Stint']}, {r['Compound'] or '?'}" for r in rows],
            hovertemplate="%{text}<br>%{y:.3f} s<extra></extra>"))
    _shade_laps(fig, laps)
    fig.update_layout(title="Lap times: a line per stint, markers in the tyre's colour (hollow: pit laps)", **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(title="lap time (s)")
    return fig


def positions(laps: list[dict], order: list[str]) -> go.Figure:
    fig, colour = go.Figure(), colours(order)
    for driver in order:
        rows = [r for r in laps if r["Driver"] == driver and r["Position"] is not None]
        fig.add_trace(go.Scatter(x=[r["Lap"] for r in rows], y=[r["Position"] for r in rows], mode="lines+markers",
                                 name=driver, line=dict(color=colour[driver]), marker=dict(size=4),
                                 hovertemplate=f"{driver}: P%{{y}} after lap %{{x}}<extra></extra>"))
    _shade_laps(fig, laps)
    fig.update_layout(title="Positions, lap by lap", **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(title="position", autorange="reversed", dtick=1)
    return fig


def detection_timeline(detections: list[dict], order: list[str], neutral: list[dict]) -> go.Figure:
    """Every detection at its start time, a row per car (the session's own on top), coloured by severity."""
    rows = ["session", *order, *sorted({d["Driver"] for d in detections if d["Driver"] and d["Driver"] not in order})]
    fig = go.Figure()
    for severity, colour in SEVERITY.items():
        hits = [d for d in detections if d["Severity"] == severity]
        if hits:
            fig.add_trace(go.Scatter(
                x=[d["Start Time"] for d in hits], y=[d["Driver"] or "session" for d in hits], mode="markers",
                name=severity, marker=dict(color=colour, size=[8 + 8 * float(d["Score"]) for d in hits],
                                           line=dict(width=0.5, color="black")),
                text=[f"{d['Driver'] or 'session'}: {d['Description'] or d['Detection']}"
                      + (f" (lap {d['Lap']})" if d["Lap"] else "") + (f", {d['Channel']}" if d["Channel"] else "")
                      for d in hits],
                hovertemplate="%{text}<br>%{x|%H:%M:%S}<extra></extra>"))
    for n in neutral:
        fig.add_vrect(x0=n["Start Time"], x1=n["End Time"], fillcolor=SHADE[NEUTRALISED[n["Event"]]], line_width=0,
                      layer="below", annotation_text=NEUTRALISED[n["Event"]], annotation_position="top left")
    fig.update_layout(title="Detections over the session (size: score)", height=max(420, 22 * len(rows)), **LAYOUT)
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1], type="category")
    fig.update_xaxes(title="time (UTC)")
    return fig
