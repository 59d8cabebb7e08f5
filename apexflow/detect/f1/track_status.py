"""Yellow, safety car, virtual safety car and red flag periods from FastF1's track-status rows."""
from __future__ import annotations

from apexflow.detect.base import Detection, severity
from apexflow.detect.f1.lap import VERSION

STATUS_KIND = {"2": "yellow_flag", "4": "safety_car", "5": "red_flag", "6": "virtual_safety_car",
               "7": "virtual_safety_car"}
_RANK = {"yellow_flag": 1, "virtual_safety_car": 2, "safety_car": 3, "red_flag": 4}


def track_status_events(session_id: str, track_status: list[dict], end_time: float | None = None) -> list[Detection]:
    """Periods of yellow, SC, VSC and red from FastF1's track-status rows (``Time``, ``Status``).

    A state machine over the status changes: the safety car holds until the track is clear
    (a yellow shown under the SC does not end it), VSC (``6``) and VSC ending (``7``) are
    one VSC period, and a period ends when a different period starts or the track is
    clear. SC and VSC are separate kinds, never merged. A period still open at the end of
    the data ends at ``end_time`` (or its last change) and says so in its evidence.
    Session-level: ``entity_id`` is empty (stored as NULL, see migration 0002).
    """
    rows = sorted((float(r["Time"]), str(r["Status"]), r.get("Message", "")) for r in track_status
                  if r.get("Time") is not None)
    out: list[Detection] = []
    cur: dict | None = None

    def close(t_end: float, open_: bool = False) -> None:
        nonlocal cur
        if cur is not None:
            out.append(_status_detection(session_id, cur, t_end, open_))
            cur = None

    for t, status, message in rows:
        kind = STATUS_KIND.get(status)
        if kind is None:  # "1" all clear (or an unknown code): whatever was shown ends
            close(t)
            continue
        if cur is not None and cur["kind"] == kind:
            cur["statuses"].append(status)
            continue
        if cur is not None and cur["kind"] == "safety_car" and kind == "yellow_flag":
            cur["statuses"].append(status)  # a local yellow under the SC: the SC holds
            continue
        close(t)
        cur = {"kind": kind, "t0": t, "statuses": [status], "message": message}
    if cur is not None:
        last = end_time if end_time is not None else (rows[-1][0] if rows else cur["t0"])
        close(max(last, cur["t0"]), open_=True)
    return out


def _status_detection(session_id: str, ev: dict, t_end: float, open_: bool) -> Detection:
    score = _RANK[ev["kind"]] / 4.0
    evidence = {"statuses": "".join(ev["statuses"]), "message": ev["message"],
                "seconds": round(t_end - ev["t0"], 3)}
    if open_:
        evidence["open_at_end_of_data"] = True
    return Detection(session_id, "", ev["kind"], severity(score), score, ev["t0"], t_end, "track_status", VERSION,
                     evidence=evidence)
