"""Detections against injected ground truth: per kind, what was found, missed and false."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

LEAD = 5.0   # a detection may start this much before the truth (smoothing, chunk edges)
LAG = 30.0   # ... and this much after the truth ends


def matches(truth: dict, det: dict) -> bool:
    if det["kind"] != truth["kind"] or det["entity_id"] != truth["entity_id"]:
        return False
    if truth.get("channel") and det.get("channel") and truth["channel"] != det["channel"]:
        return False
    return truth["t_start"] - LEAD <= det["t_start"] <= truth["t_end"] + LAG


def score(truth: list[dict], detections: list[dict]) -> dict[str, dict]:
    """``{kind: {"injected", "found", "missed", "false_alarms", "delays"}}`` over the kinds of either side."""
    out: defaultdict[str, dict[str, Any]] = defaultdict(
        lambda: {"injected": 0, "found": 0, "missed": 0, "false_alarms": 0, "delays": []})
    used: set[int] = set()
    for t in truth:
        row = out[t["kind"]]
        row["injected"] += 1
        hit = next((i for i, d in enumerate(detections) if i not in used and matches(t, d)), None)
        if hit is None:
            row["missed"] += 1
        else:
            used.add(hit)
            row["found"] += 1
            row["delays"].append(round(detections[hit]["t_start"] - t["t_start"], 2))
    for i, d in enumerate(detections):
        if i not in used and not any(matches(t, d) for t in truth):
            out[d["kind"]]["false_alarms"] += 1
    return dict(sorted(out.items()))
