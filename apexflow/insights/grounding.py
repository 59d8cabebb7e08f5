"""The grounding check: every number, driver, lap and compound an insight states must be in its facts.

Numbers match within the rounding they are written with (``9.1`` matches 9.08; ``9`` matches 9.4), signs
aside; lap times written ``m:ss.sss`` count as seconds; laps and positions (``lap 12``, ``P3``, ``3rd``) are
numbers too. Drivers are three capital letters; compounds are FastF1's names.
"""
from __future__ import annotations

import bisect
import re

TIME = re.compile(r"(?<![\w.:])(\d{1,3}):(\d{2}(?:\.\d+)?)(?![\w:])")
NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+(?:\.\d+)?)(?:st|nd|rd|th|s)?(?![\w])|(?<![\w.])P(\d+)(?![\w])")
CODE = re.compile(r"\b[A-Z]{3}\b")
COMPOUND = re.compile(r"\b(SOFT|MEDIUM|HARD|INTERMEDIATE|WET)\b|(?i:\b(soft|medium|hard|intermediate|wet)s?"
                      r"(?= (?:tyres?|tires?|compound|stint|rubber)))")
NOT_DRIVERS = frozenset({"VSC", "DRS", "DNF", "DNS", "DSQ", "FIA", "ERS", "RPM", "MGU", "GPS", "KPH", "UTC"})


def numbers_in(text: str) -> list[tuple[str, float]]:
    """(as written, value) for every number in ``text``; times ``m:ss.sss`` as seconds."""
    out = [(m.group(0), int(m.group(1)) * 60 + float(m.group(2))) for m in TIME.finditer(text)]
    rest = TIME.sub(" ", text)
    return out + [(m.group(0), float(m.group(1) or m.group(2))) for m in NUMBER.finditer(rest)]


def _walk(value, strings: list[str], numbers: list[float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        numbers.append(abs(float(value)))
    elif isinstance(value, str):
        strings.append(value)
        numbers.extend(v for _, v in numbers_in(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            strings.append(str(k))
            _walk(v, strings, numbers)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, strings, numbers)


class Facts:
    """What a text may state: the numbers, codes and compounds in a facts dict."""

    def __init__(self, facts: dict):
        strings: list[str] = []
        numbers: list[float] = []
        _walk(facts, strings, numbers)
        self.numbers = sorted(set(numbers))
        self.codes = {c for s in strings for c in CODE.findall(s)}
        self.compounds = {c.upper() for s in strings for c in re.findall(r"\b(SOFT|MEDIUM|HARD|INTERMEDIATE|WET)\b", s)}

    def has_number(self, written: str, value: float) -> bool:
        digits = written.split(".")[1] if "." in written else ""
        decimals = len(re.match(r"\d*", digits).group(0))
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        i = bisect.bisect_left(self.numbers, abs(value) - tolerance)
        return i < len(self.numbers) and self.numbers[i] <= abs(value) + tolerance


def ungrounded(text: str, facts: dict | Facts) -> list[str]:
    """What ``text`` states that ``facts`` do not hold (empty: grounded)."""
    known = facts if isinstance(facts, Facts) else Facts(facts)
    found = [w.strip() for w, v in numbers_in(text) if not known.has_number(w, v)]
    found += [c for c in CODE.findall(text) if c not in known.codes and c not in NOT_DRIVERS]
    found += [m.group(0) for m in COMPOUND.finditer(text)
              if (m.group(1) or m.group(2)).upper() not in known.compounds]
    return list(dict.fromkeys(found))
