"""Rows out: CSV (the API's ``format=csv``, the command line's ``--format csv``) and readable tables."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    if isinstance(value, float):
        return str(round(value, 6))
    return str(value)


def _columns(rows: list[dict], columns: list[str] | None) -> list[str]:
    return columns or list(dict.fromkeys(k for r in rows for k in r))


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    """One header line and one line per row; nested values as compact JSON, None as an empty cell."""
    out = io.StringIO()
    names = _columns(rows, columns)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([_cell(r.get(n)) for n in names] for r in rows)
    return out.getvalue()


def to_table(rows: list[dict], columns: list[str] | None = None, width: int = 40) -> str:
    """Aligned columns for a terminal; cells longer than ``width`` are cut with an ellipsis."""
    names = _columns(rows, columns)
    cells = [[c if len(c) <= width else c[:width - 1] + "…" for c in (_cell(r.get(n)) for n in names)]
             for r in rows]
    widths = [max([len(n), *(len(row[i]) for row in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)
