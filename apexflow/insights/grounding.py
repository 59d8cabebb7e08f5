"""The grounding check, claim by claim: every statement rests on claims, and every claim on a fact.

A claim (``schema.Claim``) names the fact it rests on by its path in the facts (``story.podium[0]``,
``driver.pit_stops[1]``, ``race_control.penalties[0]``). The check resolves the path and holds the claim
against that fact: it exists; its kind is the claim's (the fact's own ``kind``, the name of its list in the
singular, or ``winner``/``pole`` where its position or grid says so); the subject plays the role (the fact's
``driver``, ``winner``, ``by``, ... or, for a fact without one, its ``drivers``/``cars``); the lap is the fact's
(``lap``, a ``*_lap``, or within ``from_lap``..``to_lap``); the value is one of the fact's, sign and unit
included, within the rounding it is written with. Then the statement against its claims: every number it
writes is a claim's value or lap (a time ``m:ss.sss`` as seconds, ``+``/``-`` and "slower"/"faster" as
signs), every driver code and compound it names is in a fact it claims, and a win, pole, penalty or retirement
it speaks of is backed by a held claim of that kind. A statement without claims may state none of these.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from apexflow.insights.facts import evidence_unit
from apexflow.insights.schema import Claim, Statement

if TYPE_CHECKING:
    from typing_extensions import TypeIs

TIME = re.compile(r"(?<![\w.:])([-+]?)(\d{1,3}):(\d{2}(?:\.\d+)?)(?![\w:])")
NUMBER = re.compile(r"(?<![\w.])([-+]?)(\d+(?:\.\d+)?)(?:st|nd|rd|th|s)?(?![\w])|(?<![\w.])P(\d+)(?![\w])")
CODE = re.compile(r"\b[A-Z]{3}\b")
CAR = re.compile(r"\bcar (\d+)\b")  # a driver the source gave no code for, by car number
COMPOUNDS = ("SOFT", "MEDIUM", "HARD", "INTERMEDIATE", "WET")
COMPOUND = re.compile(r"\b(SOFT|MEDIUM|HARD|INTERMEDIATE|WET)\b|(?i:\b(soft|medium|hard|intermediate|wet)s?"
                      r"(?= (?:tyres?|tires?|compound|stint|rubber)))")
SIGNED_PACE = re.compile(r"(\d+(?:\.\d+)?)\s*s\s+(slower|faster)")
NOT_DRIVERS = frozenset({"VSC", "DRS", "DNF", "DNS", "DSQ", "FIA", "ERS", "RPM", "MGU", "GPS", "KPH", "UTC"})
PATH = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
ROLE = ("driver", "winner", "pole", "leader", "new_leader", "by", "entity_id")  # the one the fact is about
ROLES = ("drivers", "cars")  # for facts about several cars at once
RANGES = (("from_lap", "to_lap"), ("lap_from", "lap_to"))
ALIASES = {  # further kinds a fact of a list (or record) also holds
    "podium": {"result"}, "driver": {"result", "pace"}, "pace": {"result"}, "damage": {"sudden_damage"},
    "pitted_under_neutralisation": {"pit_stop"}, "detections_by_kind": {"count"}, "critical": {"detection"},
    "car_trouble": {"incident"}, "pit_window": {"stint"},
}
SESSION_NOT_A_RACE = re.compile(r"practice|qualifying|shootout", re.I)
SAYS = (  # what a sentence's words assert, and the kinds of held claim one of which must back it
    (re.compile(r"\b(?:wins|winner|victory|won (?:the|from|by|ahead|it))\b", re.I), "a win", ("winner",)),
    (re.compile(r"\bpole\b", re.I), "a pole", ("pole",)),
    (re.compile(r"\bpenal(?:ty|ties|ised|ized)\b", re.I), "a penalty", ("penalty",)),
    (re.compile(r"\b(?:retired|retires|retirement|crashed|DNF)\b"), "a retirement or crash",
     ("retirement", "did_not_start", "contact", "incident", "crash", "accident", "damage")),
)
POSITION_KEYS = frozenset({"position", "grid", "positions_gained", "gained", "from_position", "to_position",
                           "on_road", "classified"})


def ungrounded(statements: list[Statement], facts: dict) -> list[str]:
    """What in ``statements`` does not hold against ``facts``, one line each (empty: grounded)."""
    return [problem for s in statements for problem in check(s, facts)]


def check(statement: Statement, facts: dict) -> list[str]:
    """The problems of one statement: its claims against their facts, then its text against its claims."""
    text = statement.text
    quote = f"{text[:70]}{'...' if len(text) > 70 else ''}"
    problems, held = [], []
    for claim in statement.claims:
        fact = resolve(facts, claim.fact)
        why = _claim(claim, fact) if fact is not None else f"no fact at {claim.fact!r}"
        if why:
            problems.append(f"{quote!r}: {_describe(claim)}: {why}")
        elif fact is not None:
            held.append((claim, fact))
    problems += [f"{quote!r}: {why}" for why in _text(text, statement.claims, held)]
    return problems


class Fact:
    """A resolved fact: its record, the kinds it holds, the drivers it is about (its own role fields, else its
    owner's: a pit stop in ``driver.pit_stops`` is the driver's) and which of its values a claim may use."""

    def __init__(self, record: dict, kinds: set[str], role: list[str], crowd: list[str], only: str | None = None):
        self.record, self.kinds, self.role, self.crowd, self.only = record, kinds, role, crowd, only

    def values(self, subject: str | None = None) -> list[tuple[str, object]]:
        """(key, value) of every number and text of the fact, nested ones included (lists, evidence). For a
        ``subject``, a list of numbers running alongside a record's ``drivers`` (``team_mates[i].deg_s_per_lap``)
        gives only that driver's element, none where the record is about others."""
        return [(self.only, self.record[self.only])] if self.only is not None else _all(self.record, subject)

    def units(self) -> dict:
        units = self.record.get("units")
        return units if isinstance(units, dict) else {}

    def drivers(self) -> set[str]:
        """Every driver code the fact names, in any role."""
        return {*self.role, *self.crowd, *(v for _, v in _all(self.record) if isinstance(v, str) and CODE.fullmatch(v))}

    def backs(self, subject: str | None, kinds: tuple[str, ...]) -> bool:
        """Whether the fact, claimed for ``subject``, backs words of one of ``kinds``: it is of that kind, or
        its field of that name is the subject (the start fact's ``pole``, the finish's ``winner``)."""
        return any(k in kind for kind in self.kinds for k in kinds) or bool(
            subject and any(self.record.get(k) == subject for k in kinds))

    def strings(self) -> list[str]:
        return [v for _, v in _all(self.record) if isinstance(v, str)]


def resolve(facts: dict, path: str) -> Fact | None:
    """The fact at ``path`` (``story.podium[0]``, ``driver.pit_stops[1]``, ``drivers.VER``, ``driver.laps``);
    None where nothing is there."""
    path = path.strip()
    steps = [(int(i) if i else None, key) for i, key in PATH.findall(path)]
    if not steps or "".join(f"[{i}]" if i is not None else f".{k}" for i, k in steps).lstrip(".") != path:
        return None
    owner_roles: tuple[list[str], list[str]]
    node, parent, names, index, owner_roles = facts, None, [], None, ([], [])
    for i, key in steps:
        if isinstance(node, dict) and node is not facts:
            owner_roles = _roles(node) if any(_roles(node)) else owner_roles
        parent = node
        if i is not None:
            if not isinstance(node, list) or i >= len(node):
                return None
            node, index = node[i], i
        else:
            if not isinstance(node, dict) or key not in node:
                return None
            node, index = node[key], None
            names.append(key)
    name = next((n for n in reversed(names) if not CODE.fullmatch(n)), "")
    if isinstance(node, dict):
        return Fact(node, _kinds(node, name, index, facts), *_about(node, owner_roles))
    if isinstance(node, str) and isinstance(parent, list):  # a list of drivers
        return Fact({"driver": node}, _kinds({}, name, index, facts), [node], [])
    if isinstance(parent, dict) and index is None and (_is_number(node) or isinstance(node, str)):
        key = names[-1]
        owner = next((n for n in reversed(names[:-1]) if not CODE.fullmatch(n)), "")
        kinds = (_kinds(parent, owner, None, facts) if owner else set()) | {key}
        return Fact(parent, kinds, *_about(parent, owner_roles), only=key)
    return None


def _roles(record: dict) -> tuple[list[str], list[str]]:
    """The driver the record is about (its role fields) and, for a record about several, those."""
    return ([record[k] for k in ROLE if isinstance(record.get(k), str) and record[k]],
            [c for k in ROLES if isinstance(record.get(k), list) for c in record[k] if isinstance(c, str)])


def _about(record: dict, owner: tuple[list[str], list[str]]) -> tuple[list[str], list[str]]:
    """Who a fact is about: its own role fields, else its owner's (a pit stop in ``driver.pit_stops``), else the
    driver codes in its fields (``{"from": "NOR", "to": "PIA"}``)."""
    if any(_roles(record)):
        return _roles(record)
    if any(owner):
        return owner
    named = [v for k, v in record.items() if k != "kind" and isinstance(v, str) and CODE.fullmatch(v)]
    named += [c for v in record.values() for r in (v if isinstance(v, list) else []) if isinstance(r, dict)
              for c in _roles(r)[1]]  # records within it about several cars (a compound's team-mate pairs)
    return [], [v for v in dict.fromkeys(named) if v not in NOT_DRIVERS and v not in COMPOUNDS]


def _kinds(record: dict, name: str, index: int | None, facts: dict) -> set[str]:
    kind = _singular(name)
    out = {kind, *ALIASES.get(kind, ()), *ALIASES.get(name, ())}
    if isinstance(record.get("kind"), str):
        out.add(record["kind"])
    race = not SESSION_NOT_A_RACE.search(str((facts.get("session") or {}).get("session") or ""))
    first = record.get("position") == 1 or (name == "podium" and index == 0)
    if first:
        out.add("winner" if race else "pole")
    if record.get("grid") == 1:
        out.add("pole")
    if record.get("retired_lap") is not None:
        out.add("retirement")
    if record.get("did_not_start") is True:
        out.add("did_not_start")
    return out


def _claim(claim: Claim, fact: Fact) -> str:
    """Why ``claim`` does not hold against ``fact`` ("" when it does)."""
    if claim.kind not in fact.kinds:
        return f"the fact is {' / '.join(sorted(fact.kinds))}, not {claim.kind}"
    rec = fact.record
    if claim.subject:
        if fact.role and claim.subject not in fact.role:
            return f"the fact is about {'/'.join(fact.role)}, not {claim.subject}"
        if not fact.role and claim.subject not in fact.crowd:
            return f"the fact names {', '.join(fact.crowd) or 'no driver'}, not {claim.subject}"
    if claim.lap is not None and not _lap_holds(claim.lap, rec):
        laps = _laps(rec)
        return f"the fact's lap is {laps or 'not given'}, not {claim.lap}"
    if claim.value is not None and not _value_holds(claim, fact):
        return f"the fact holds no {_value_text(claim)}"
    return ""


def _lap_holds(lap: int, rec: dict) -> bool:
    for lo, hi in RANGES:
        if _is_number(rec.get(lo)) and _is_number(rec.get(hi)) and rec[lo] <= lap <= rec[hi]:
            return True
    return any(_is_number(v) and v == lap for k, v in rec.items() if k == "lap" or k.endswith("_lap"))


def _laps(rec: dict) -> str:
    ranges = [f"{rec[lo]}-{rec[hi]}" for lo, hi in RANGES if rec.get(lo) is not None and rec.get(hi) is not None]
    return ", ".join(ranges + [str(v) for k, v in rec.items() if (k == "lap" or k.endswith("_lap")) and _is_number(v)])


def _value_holds(claim: Claim, fact: Fact) -> bool:
    units = fact.units()
    if isinstance(claim.value, str):
        want = claim.value.strip().lower()
        return any(isinstance(v, str) and (v.lower() == want or re.search(rf"\b{re.escape(want)}\b", v.lower()))
                   for _, v in fact.values(claim.subject))
    assert claim.value is not None  # only claims with a value are checked here
    tolerance = _tolerance(claim.value)
    for key, v in fact.values(claim.subject):
        if not _is_number(v):
            continue
        unit = None if "count" in fact.kinds else units.get(key.rsplit(".", 1)[-1]) or unit_of(key)
        if (unit or None) == (claim.unit or None) and abs(float(v) - float(claim.value)) <= tolerance:
            return True
    return False


def unit_of(key: str) -> str | None:
    """The unit of a fact's value by its key: ``s``, ``laps``, ``position``, ``s/lap``, ``%``, ... or None."""
    key = key.rsplit(".", 1)[-1]
    if key.endswith("_s_per_lap"):
        return "s/lap"
    if key in POSITION_KEYS or "position" in key:
        return "position"
    if key in ("lap", "laps") or key.endswith(("_lap", "_laps")) or key.startswith(("laps", "tyre_life",
                                                                                      "tyre_age")):
        return "laps"
    return evidence_unit(key) or None


def _text(text: str, claims: list[Claim], held: list[tuple[Claim, Fact]]) -> list[str]:
    """What ``text`` writes that its claims do not carry. Text a claim quotes from its fact (a team's name, a
    race-control message) is the fact's, not the statement's: it is left out of the scan."""
    for claim, fact in held:
        if isinstance(claim.value, str) and len(claim.value) > 3 and claim.value in fact.strings():
            text = text.replace(claim.value, " ")
    out = []
    named = {c.subject for c in claims if c.subject} | {d for _, f in held for d in f.drivers()}
    text = CAR.sub(lambda m: " " if m.group(1) in named else m.group(0), text)  # a claimed car's number is the
    # car, not a number the statement states; any other is a number like the rest
    numbers = [c.value for c in claims if _is_number(c.value)]
    numbers += [v for c, _ in held if isinstance(c.value, str) for _, _, v in numbers_in(c.value)]  # quoted text's
    laps = [c.lap for c in claims if c.lap is not None]
    for written, sign, value in numbers_in(text):
        if not claims:
            out.append(f"states {written} with no claim")
            continue
        signed = [n for n in numbers if _near(written, abs(value), abs(n))]
        if sign and signed and not any((n < 0) == (sign == "-") for n in signed):
            out.append(f"writes {written} but its claim is {signed[0]:+g}")
        elif not signed and not (not sign and any(_near(written, value, lap) for lap in laps)):
            out.append(f"states {written}, which no claim carries")
    for magnitude, word in SIGNED_PACE.findall(text):
        signed = [n for n in numbers if _near(magnitude, float(magnitude), abs(n))]
        if signed and not any((n > 0) == (word == "slower") for n in signed):
            out.append(f"says {magnitude} s {word} but its claim is {signed[0]:+g} s")
    for words, what, kinds in SAYS:
        if words.search(text) and not any(f.backs(c.subject, kinds) for c, f in held):
            out.append(f"says {what}, which no held claim of that kind backs")
    for code in dict.fromkeys(CODE.findall(text)):
        if code not in NOT_DRIVERS and code not in COMPOUNDS and code not in named:
            out.append(f"names {code}, which " + ("no claim carries" if claims else "has no claim"))
    strings = " ".join(s.upper() for _, f in held for s in f.strings())
    for m in COMPOUND.finditer(text):
        compound = (m.group(1) or m.group(2)).upper()
        if compound not in strings:
            out.append(f"names {m.group(0)}, which " + ("no claimed fact holds" if claims else "has no claim"))
    return list(dict.fromkeys(out))


def numbers_in(text: str) -> list[tuple[str, str, float]]:
    """(as written, sign, value) for every number in ``text``; times ``m:ss.sss`` as seconds."""
    out = [(m.group(0), m.group(1), int(m.group(2)) * 60 + float(m.group(3))) for m in TIME.finditer(text)]
    rest = TIME.sub(" ", text)
    return out + [(m.group(0), m.group(1) or "", float(m.group(2) or m.group(3))) for m in NUMBER.finditer(rest)]


def _near(written: str, value: float, other: float) -> bool:
    """``value`` as written (with its rounding) against ``other``."""
    digits = re.search(r"\.(\d+)", written)
    tolerance = 0.5 * 10 ** -(len(digits.group(1)) if digits else 0) + 1e-9
    return abs(value - other) <= tolerance


def _tolerance(value) -> float:
    text = repr(float(value))
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 0
    return 0.5 * 10 ** -decimals + 1e-9


def _values(node, prefix: str, out: list, subject: str | None = None) -> None:
    if isinstance(node, dict):
        cars = next((node[k] for k in ROLES if isinstance(node.get(k), list)), None)
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            if k == "units":
                continue
            if subject and cars and _per_car(v, cars):
                if subject in cars:  # a number per car: only the subject's
                    _values(v[cars.index(subject)], key, out, subject)
                continue
            _values(v, key, out, subject)
    elif isinstance(node, list):
        for v in node:
            _values(v, prefix, out, subject)
    elif _is_number(node) or isinstance(node, str):
        out.append((prefix, node))


def _per_car(value, cars: list) -> bool:
    """A list of numbers running alongside a record's list of cars (one value each)."""
    return (isinstance(value, list) and len(value) == len(cars)
            and all(v is None or _is_number(v) for v in value) and any(_is_number(v) for v in value))


def _all(record: dict, subject: str | None = None) -> list[tuple[str, object]]:
    out: list = []
    _values(record, "", out, subject)
    return out


def _is_number(v: object) -> TypeIs[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _describe(c: Claim) -> str:
    parts = [c.kind, c.subject or "", f"lap {c.lap}" if c.lap is not None else "",
             _value_text(c) if c.value is not None else "", f"at {c.fact}"]
    return "claim " + " ".join(p for p in parts if p)


def _value_text(c: Claim) -> str:
    if isinstance(c.value, str):
        return repr(c.value)
    return f"{c.value:g}" + (f" {c.unit}" if c.unit else "")
