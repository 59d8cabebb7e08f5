"""Recorded live sessions: read (ours or FastF1's recorder's), and written in FastF1's format.

Two formats, told apart by content (gzip or plain text alike, by the file's first bytes):

- **FastF1's** (``python -m fastf1.livetiming save FILE``): one ``str([topic, data, utc])`` a line (Python
  repr: single quotes, ``True``); ``.z`` topics base64 of deflated JSON; the snapshot sent on subscribing as
  ``[topic, "<JSON text>", ""]``. ``write`` writes this format (plain text, or gzip for a ``.gz`` name), for
  OpenF1's messages too (``[topic, document, date]``), so FastF1's ``LiveTimingData`` reads what we record.
- **ours** (``apexflow.simulator.live_stream``): gzip JSON Lines, each a FastF1 line as a JSON string (F1)
  or a ``[topic, document]`` pair (OpenF1).

A damaged line is skipped and counted by kind: ``unparseable`` (neither format, not a message, cut short),
``no_timestamp`` (an F1 line without a time that parses), ``undecodable_payload`` (a ``.z`` payload that is
not base64 of deflated JSON, or snapshot text that is not JSON); a gzip file cut short ends at its last whole
line and counts one ``truncated_file``. ``.z`` and snapshot payloads come back decoded, so they are decoded once.
"""
from __future__ import annotations

import ast
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from apexflow.errors import BadMessage, ContractError
from apexflow.sources.live import f1

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Recording:
    """The messages of a recording, in file order, and what was skipped."""

    messages: list = field(default_factory=list)
    lines: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    first_bad_line: int | None = None

    def skip(self, line_number: int, kind: str) -> None:
        self.bad[kind] = self.bad.get(kind, 0) + 1
        if self.first_bad_line is None:
            self.first_bad_line = line_number

    def summary(self) -> dict:
        return {"lines": self.lines, "messages": len(self.messages), "bad": dict(self.bad),
                "first_bad_line": self.first_bad_line}


def _lines(path: Path, recording: Recording) -> Iterator[str]:
    """The file's text lines, gunzipped when it is gzip; a gzip stream cut short stops at its last whole line."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != GZIP_MAGIC:
        with open(path, encoding="utf-8", errors="replace") as fh:
            yield from fh
        return
    inflater, pending = zlib.decompressobj(16 + zlib.MAX_WBITS), b""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            try:
                pending += inflater.decompress(block)
            except zlib.error:
                break
            *whole, pending = pending.split(b"\n")
            for line in whole:
                yield line.decode("utf-8", errors="replace")
            if inflater.eof and inflater.unused_data:  # a second gzip member (files appended to)
                rest, inflater = inflater.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
                pending += inflater.decompress(rest)
        if inflater.eof:
            if pending:
                yield pending.decode("utf-8", errors="replace")
            return
    recording.skip(recording.lines + 1, "truncated_file")


def _literal(text: str):
    """A line as JSON (ours), else as FastF1's recorder writes it (Python repr); None when it is neither."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _f1_message(item) -> list:
    if not (isinstance(item, (list, tuple)) and len(item) in (2, 3) and isinstance(item[0], str)
            and isinstance(item[1], (dict, str))):
        raise BadMessage("unparseable", "not a [topic, data, utc] line")
    if len(item) == 2 or not isinstance(item[2], str):
        raise BadMessage("no_timestamp", "no time stamp")
    topic, data, utc = item
    if utc:
        try:
            f1.utc_seconds(utc)
        except BadMessage:
            raise BadMessage("no_timestamp", f"a time stamp that does not parse: {utc!r}") from None
    if topic.endswith(".z") and isinstance(data, str):
        data = f1.inflate(data)
    elif isinstance(data, str):
        try:
            data = json.loads(data) if data else {}
        except ValueError:
            raise BadMessage("undecodable_payload", "snapshot text that is not JSON") from None
    return [topic, data, utc]


def _openf1_message(item) -> tuple:
    if not (isinstance(item, (list, tuple)) and len(item) in (2, 3) and isinstance(item[0], str)
            and isinstance(item[1], (dict, str))):
        raise BadMessage("unparseable", "not a [topic, document] line")
    doc = item[1]
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            raise BadMessage("undecodable_payload", "a document that is not JSON") from None
        if not isinstance(doc, dict):
            raise BadMessage("undecodable_payload", "a document that is not a JSON object")
    return item[0], doc


def parse(line: str, source: str):
    """One line of either format -> a message the source's adapter takes; ``BadMessage`` when damaged."""
    item = _literal(line.strip())
    if source == "f1" and isinstance(item, str):  # ours: the FastF1 line as a JSON string
        item = _literal(item.strip())
    return _f1_message(item) if source == "f1" else _openf1_message(item)


def read(path: Path, source: str) -> Recording:
    """Every readable message of a recording of ``source`` (``f1`` | ``openf1``), damaged lines counted."""
    if source not in ("f1", "openf1"):
        raise ContractError(f"unknown live source {source!r}; known: f1, openf1")
    recording = Recording()
    for text in _lines(path, recording):
        recording.lines += 1
        if not text.strip():
            continue
        try:
            recording.messages.append(parse(text, source))
        except BadMessage as e:
            recording.skip(recording.lines, e.kind)
    if not recording.messages:
        raise ContractError(f"{path} holds no {source} live messages ({recording.lines} lines; damaged: "
                            f"{recording.bad or 'none'}): give a recording of FastF1's recorder or of apexflow")
    return recording


def line_of(message, source: str) -> str:
    """A message as FastF1's recorder writes it: ``str([topic, data, utc])`` (OpenF1: the document's date)."""
    if source == "f1":
        topic, data, utc = message
        if topic.endswith(".z") and isinstance(data, dict):  # decoded on reading: deflated again, as sent
            data = f1.deflate(data)
        return str([topic, data, utc])
    topic, doc = message[0], message[1]
    if isinstance(doc, (bytes, str)):
        text = doc.decode("utf-8", errors="replace") if isinstance(doc, bytes) else doc
        try:
            doc = json.loads(text)
        except ValueError:
            return str([topic, text, ""])  # kept as it came; reading it back counts it
    return str([topic, doc, (doc.get("date") if isinstance(doc, dict) else None) or ""])


def opened(path: Path) -> IO[str]:
    """``path`` opened for writing FastF1's format: gzip when its name ends ``.gz``, plain text otherwise."""
    return gzip.open(path, "wt", encoding="utf-8") if path.suffix == ".gz" else open(path, "w", encoding="utf-8")
