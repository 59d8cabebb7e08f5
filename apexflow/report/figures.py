"""The report's charts as plotly figures (scatter and bar traces only: the page ships plotly's basic bundle)."""
from __future__ import annotations

from collections import defaultdict
from statistics import median

import plotly.graph_objects as go
from plotly.colors import qualitative

from apexflow.query.report import NEUTRALISED

COMPOUNDS = {"SOFT": "#da291c", "MEDIUM": "#ffd12e", "HARD": "#f0f0ec", "INTERMEDIATE": "#43b02a",
             "WET": "#0067ad"}
SEVERITY = {"info": "#7f8c8d", "warning": "#f39c12", "critical": "#c0392b"}
SHADE = {"SC": "rgba(255, 210, 0, 0.25)", "VSC": "rgba(255, 150, 0, 0.18)", "Red": "rgba(220, 0, 0, 0.18)",
         "start": "rgba(120, 120, 120, 0.12)"}
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), hovermode="closest",
              legend=dict(font=dict(size=10)))
RACING_SPREAD = 1.15  # a racing lap is within 15 % of the median green lap: slower ones do not set the axis


def colours(drivers: list[str]) -> dict[str, str]:
    palette = qualitative.Dark24 + qualitative.Light24
    return {d: palette[i % len(palette)] for i, d in enumerate(drivers)}


def track_map(lap: list[dict], detections: list[dict]) -> go.Figure:
    """The fastest clean lap's line coloured by speed, and where each warning or critical detection began."""
    fig = go.Figure(go.Scatter(
        x=[s["x"] for s in lap], y=[s["y"] for s in lap], mode="markers",
        name=f"{lap[0]['Driver']} lap {lap[0]['Lap']}",
        marker=dict(color=[round(s["speed"]) for s in lap], colorscale="Turbo", size=6,
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


def neutralised_laps(laps: list[dict]) -> dict[str, set[int]]:
    """Laps run (by any car) under a safety car, VSC or red flag, by label."""
    under: dict[str, set[int]] = defaultdict(set)
    for lap in laps:
        for column, label in NEUTRALISED.items():
            if lap[column]:
                under[label].add(lap["Lap"])
    return under


def start_laps(laps: list[dict]) -> set[int]:
    """The first lap, and the laps after it that the field ran far off racing pace (extra formation laps behind
    the safety car on a wet track, a start delayed on the road): until the field's median comes within 25 % of the
    median clean lap."""
    if not laps:
        return set()
    first = min(lap["Lap"] for lap in laps)
    clean = [lap["Lap Time (s)"] for lap in laps if lap["Clean Lap"] and lap["Lap Time (s)"]]
    by_lap = defaultdict(list)
    for lap in laps:
        if lap["Lap Time (s)"]:
            by_lap[lap["Lap"]].append(lap["Lap Time (s)"])
    opening, n = {first}, first + 1
    while clean and by_lap.get(n) and median(by_lap[n]) > 1.25 * median(clean):
        opening.add(n)
        n += 1
    return opening


def racing(laps: list[dict], race: bool = True) -> list[dict]:
    """Laps that set the axes: clean (green, no pit, not deleted) and, in a race, not among the start laps; in
    qualifying and practice, flying laps only (within 107 % of the fastest clean lap: no out or cool-down laps)."""
    clean = [lap for lap in laps if lap["Clean Lap"] and lap["Lap Time (s)"]]
    if not race:
        fastest = min((lap["Lap Time (s)"] for lap in clean), default=0)
        return [lap for lap in clean if lap["Lap Time (s)"] <= 1.07 * fastest]
    opening = start_laps(laps)
    return [lap for lap in clean if lap["Lap"] not in opening]


def _shade_laps(fig: go.Figure, laps: list[dict], race: bool = True) -> None:
    """The start laps (a race's) and SC, VSC and red-flag laps as shaded bands, labelled once per run of laps."""
    under = neutralised_laps(laps)
    if race:
        under["start"] = start_laps(laps)
    for label, numbers in under.items():
        for n in sorted(numbers):
            if n - 1 not in numbers:  # one band per run of laps
                end = next(m for m in range(n, n + len(numbers) + 1) if m + 1 not in numbers)
                fig.add_vrect(x0=n - 0.5, x1=end + 0.5, fillcolor=SHADE[label], line_width=0, layer="below",
                              annotation_text=label,  # "start" below, clear of a neutralisation's label
                              annotation_position="bottom left" if label == "start" else "top left")


def racing_range(laps: list[dict], race: bool = True) -> list[float] | None:
    """The lap-time axis from racing laps: the fastest to the 97.5th percentile, so slow laps of any kind
    (neutralised, pit, formation and start laps, an incident) never set it."""
    clean = sorted(lap["Lap Time (s)"] for lap in racing(laps, race))
    if not clean:
        return None
    typical = median(clean)
    low = next(t for t in clean if t >= typical * 0.85)  # a timing glitch faster than any real lap is not the floor
    high = clean[min(len(clean) - 1, int(0.975 * len(clean)))]
    pad = 0.06 * (high - low) + 0.3
    return [round(low - pad, 3), round(high + pad, 3)]


def lap_times(laps: list[dict], order: list[str], race: bool = True) -> go.Figure:
    """Each driver's racing laps as a line per stint; the axis fits them. The other laps (start and formation, pit
    in and out, neutralised, deleted) are faint hollow markers that may run off the top. Lines, not a marker per
    lap: a race's 1 000+ markers were most of the page's drawing time (tyres are in the stints chart)."""
    fig, colour = go.Figure(), colours(order)
    keys = {(lap["Driver"], lap["Lap"]) for lap in racing(laps, race)}
    by_driver = defaultdict(list)
    for lap in laps:
        if lap["Lap Time (s)"] is not None:
            by_driver[lap["Driver"]].append(lap)
    for driver in order:
        rows = by_driver.get(driver, [])
        xs: list[int | None] = []
        ys: list[float | None] = []
        info: list[str | None] = []
        others = []
        for i, lap in enumerate(rows):
            if (driver, lap["Lap"]) not in keys:
                others.append(lap)
                continue
            if xs and (lap["Stint"] != rows[i - 1]["Stint"] or (driver, rows[i - 1]["Lap"]) not in keys):
                xs.append(None)  # the line joins racing laps of one stint
                ys.append(None)
                info.append(None)
            xs.append(lap["Lap"])
            ys.append(round(lap["Lap Time (s)"], 3))
            info.append(f"{lap['Compound'] or '?'}, stint {lap['Stint']}")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=driver, legendgroup=driver, customdata=info,
            line=dict(color=colour[driver], width=1.5),
            hovertemplate=f"{driver} lap %{{x}}: %{{y:.3f}} s<br>%{{customdata}}<extra></extra>"))
        alone = [(x, y, text, True) for i, (x, y, text) in enumerate(zip(xs, ys, info))
                 if x is not None and y is not None and (i == 0 or xs[i - 1] is None)
                 and (i == len(xs) - 1 or xs[i + 1] is None)]  # a racing lap between others: no line shows it
        marks = [(r["Lap"], r["Lap Time (s)"], f"{r['Compound'] or '?'}, stint {r['Stint']}, not racing", False)
                 for r in others] + alone
        fig.add_trace(go.Scatter(
            x=[m[0] for m in marks], y=[round(m[1], 3) for m in marks], mode="markers", name=driver,
            legendgroup=driver, showlegend=False, customdata=[m[2] for m in marks],
            marker=dict(size=6, color=colour[driver], symbol=["circle" if m[3] else "circle-open" for m in marks],
                        opacity=[1 if m[3] else 0.5 for m in marks]),
            hovertemplate=f"{driver} lap %{{x}}: %{{y:.3f}} s<br>%{{customdata}}<extra></extra>"))
    _shade_laps(fig, laps, race)
    fig.update_layout(title=("Racing laps set the scale; hollow: start, pit and neutralised laps" if race else
                             "Flying laps set the scale; hollow: out, in and cool-down laps"), **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(title="lap time (s)", range=racing_range(laps, race))
    return fig


def stints(laps: list[dict], order: list[str]) -> go.Figure:
    """Each driver's stints as bars along the laps, in the tyre's colour."""
    runs: dict[str, list[dict]] = defaultdict(list)
    for lap in sorted(laps, key=lambda r: (r["Driver"], r["Lap"])):
        run = runs[lap["Driver"]][-1] if runs[lap["Driver"]] else None
        if run and run["Stint"] == lap["Stint"] and run["Compound"] == lap["Compound"]:
            run["Last"] = lap["Lap"]
        else:
            runs[lap["Driver"]].append({"Stint": lap["Stint"], "Compound": lap["Compound"], "First": lap["Lap"],
                                        "Last": lap["Lap"]})
    fig = go.Figure()
    for compound in [*COMPOUNDS, None]:
        bars = [(d, r) for d in order for r in runs.get(d, []) if (r["Compound"] if r["Compound"] in COMPOUNDS
                                                                     else None) == compound]
        if bars:
            fig.add_trace(go.Bar(
                y=[d for d, _ in bars], x=[r["Last"] - r["First"] + 1 for _, r in bars],
                base=[r["First"] - 0.5 for _, r in bars], orientation="h", name=compound or "unknown",
                marker=dict(color=COMPOUNDS[compound] if compound else "#bbbbbb", line=dict(color="#555", width=0.5)),
                customdata=[f"{d} stint {r['Stint']}: laps {r['First']}-{r['Last']}" for d, r in bars],
                hovertemplate=f"%{{customdata}}, {compound or 'unknown'}<extra></extra>"))
    _shade_laps(fig, laps)
    fig.update_layout(title="Stints and tyres", barmode="overlay", height=max(360, 22 * len(order) + 120),
                      **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], type="category")
    return fig


def gaps(laps: list[dict], order: list[str]) -> go.Figure:
    """Each driver's gap to the leader at the end of every lap (the leader on top)."""
    fig, colour = go.Figure(), colours(order)
    for driver in order:
        rows = [r for r in laps if r["Driver"] == driver and r["Gap To Leader (s)"] is not None]
        fig.add_trace(go.Scatter(x=[r["Lap"] for r in rows], y=[round(r["Gap To Leader (s)"], 3) for r in rows],
                                 mode="lines", name=driver, line=dict(color=colour[driver], width=1.5),
                                 hovertemplate=f"{driver} after lap %{{x}}: +%{{y:.3f}} s<extra></extra>"))
    _shade_laps(fig, laps)
    fig.update_layout(title="Gap to the leader at the end of each lap", **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(title="gap to the leader (s)", autorange="reversed", rangemode="tozero")
    return fig


def positions(laps: list[dict], order: list[str]) -> go.Figure:
    fig, colour = go.Figure(), colours(order)
    for driver in order:
        rows = [r for r in laps if r["Driver"] == driver and r["Position"] is not None]
        fig.add_trace(go.Scatter(x=[r["Lap"] for r in rows], y=[r["Position"] for r in rows], mode="lines",
                                 name=driver, line=dict(color=colour[driver]),
                                 hovertemplate=f"{driver}: P%{{y}} after lap %{{x}}<extra></extra>"))
    _shade_laps(fig, laps)
    fig.update_layout(title="Positions, lap by lap", **LAYOUT)
    fig.update_xaxes(title="lap")
    fig.update_yaxes(title="position", autorange="reversed", dtick=1)
    return fig


def detection_timeline(detections: list[dict], order: list[str], neutral: list[dict]) -> go.Figure:
    """Every detection when it happened (``cards.place``), a row per car (the session's own on top), coloured by
    severity."""
    others = sorted({d["Driver"] for d in detections if d["Driver"] and d["Driver"] not in order})
    rows = ["session", *order, *others]
    fig = go.Figure()
    for severity, colour in SEVERITY.items():
        hits = [d for d in detections if d["Severity"] == severity]
        if hits:
            fig.add_trace(go.Scatter(
                x=[d["At"] for d in hits], y=[d["Driver"] or "session" for d in hits], mode="markers",
                name=severity, marker=dict(color=colour, size=[round(8 + 8 * float(d["Score"]), 1) for d in hits],
                                           line=dict(width=0.5, color="black")),
                text=[f"{d['Description'] or d['Detection']}" + (f" (lap {d['Lap']})" if d["Lap"] else "")
                      for d in hits],
                hovertemplate="%{y}: %{text}<br>%{x|%H:%M:%S} UTC<extra></extra>"))
    for n in neutral:
        fig.add_vrect(x0=n["Start Time"], x1=n["End Time"], fillcolor=SHADE[NEUTRALISED[n["Event"]]], line_width=0,
                      layer="below", annotation_text=NEUTRALISED[n["Event"]], annotation_position="top left")
    fig.update_layout(title="Detections over the session (size: score)", height=max(420, 22 * len(rows)), **LAYOUT)
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1], type="category")
    fig.update_xaxes(title="time (UTC, the session's own clock)")
    return fig
