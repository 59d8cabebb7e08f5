"""What every read shares: errors naming their parameter, comparison filters, keyset pages.

A resource is a ``Select``: a SELECT whose output columns are what its filters and its order name.
All values travel as query parameters; column names and operators come from this code only.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, create_model

from apexflow.errors import QueryError

DEFAULT_PAGE, MAX_PAGE = 100, 1000
_COMPARISON = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(<=|>=|<|>|=)(.*)$", re.DOTALL)


def rows(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def page_model(name: str, key: str, row: type[BaseModel]) -> type[BaseModel]:
    """``{key: [row, ...], "next_cursor": str | None}``: one page of a list."""
    fields: dict[str, Any] = {key: (list[row], ...), "next_cursor": (str | None, None)}  # type: ignore[valid-type]
    return create_model(name, **fields)


def comparisons(raw_query: str, fields: tuple[str, ...]) -> list[tuple[str, str, float]]:
    """OpenF1-style filters in a raw query string: ``lap_time<=92.5``, ``score>0.8``, ``lap_number=10``.

    ``=`` on a name outside ``fields`` is an ordinary parameter and left alone; ``<``/``>`` on one is an error.
    """
    found = []
    for part in raw_query.split("&") if raw_query else []:
        match = _COMPARISON.match(unquote_plus(part))
        if not match:
            continue
        name, op, text = match.groups()
        if name not in fields:
            if op == "=":
                continue
            raise QueryError(name, f"{name!r} cannot be compared here; comparable fields: "
                                   f"{', '.join(fields) or 'none'}")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise QueryError(name, f"{name}{op}{text!r}: the value must be a finite number")
        found.append((name, op, value))
    return found


def _encode(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, order: tuple[tuple[str, type], ...]) -> list:
    bad = QueryError("cursor", "cursor is not one this list gave; start again without it")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(order):
        raise bad
    for value, (_, kind) in zip(values, order):
        ok = {str: lambda v: isinstance(v, str) and "\x00" not in v, int: lambda v: type(v) is int,
              float: lambda v: type(v) in (int, float) and math.isfinite(v)}.get(kind)
        if kind is datetime:
            try:
                datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise bad from None
        elif ok is None or not ok(value):  # (every kind a list orders by has a check)
            raise bad
    return values


@dataclass
class Select:
    """A SELECT over named output columns, narrowed by filters, read whole or a page at a time.

    ``order`` is a unique key, ``(column, type)`` each: the page cursor carries the last row's key.
    """

    sql: str
    params: tuple = ()
    order: tuple[tuple[str, type], ...] = ()
    desc: bool = False
    where: list[str] = field(default_factory=list)
    args: list = field(default_factory=list)

    def filter(self, condition: str, *args) -> Select:
        self.where.append(condition)
        self.args.extend(args)
        return self

    def equal(self, column: str, value) -> Select:
        return self if value is None else self.filter(f"{column} = %s", value)

    def at_least(self, column: str, value) -> Select:
        return self if value is None else self.filter(f"{column} >= %s", value)

    def at_most(self, column: str, value) -> Select:
        return self if value is None else self.filter(f"{column} <= %s", value)

    def compare(self, raw_query: str, fields: tuple[str, ...]) -> Select:
        for name, op, value in comparisons(raw_query, fields):
            self.filter(f"{name} {op} %s", value)
        return self

    def all(self, cur) -> list[dict]:
        return self._run(cur, self.where, self.args, None)

    def page(self, cur, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """Up to ``limit`` rows after ``cursor``, and the cursor of the next page (None on the last)."""
        where, args = list(self.where), list(self.args)
        if cursor:
            columns = [c for c, _ in self.order]
            where.append(f"({', '.join(columns)}) {'<' if self.desc else '>'} ({', '.join(['%s'] * len(columns))})")
            args += _decode(cursor, self.order)
        found = self._run(cur, where, args, limit + 1)
        if len(found) <= limit:
            return found, None
        return found[:limit], _encode([found[limit - 1][c] for c, _ in self.order])

    def _run(self, cur, where: list[str], args: list, limit: int | None) -> list[dict]:
        sql = f"SELECT * FROM ({self.sql}) q"
        if where:
            sql += " WHERE " + " AND ".join(f"({w})" for w in where)
        if self.order:
            sql += " ORDER BY " + ", ".join(c + (" DESC" if self.desc else "") for c, _ in self.order)
        if limit is not None:
            sql += " LIMIT %s"
            args = [*args, limit]
        cur.execute(sql, [*self.params, *args])
        return rows(cur)
