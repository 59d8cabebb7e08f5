"""The three insight records, as structured outputs (JSON schema from pydantic), and their text.

Every sentence is a ``Statement``: its text and the claims it rests on, each naming the fact it is checked
against (``grounding.py``).
"""
from __future__ import annotations

from typing import cast

from pydantic import BaseModel, Field, model_validator


class Claim(BaseModel):
    subject: str | None = Field(description="the driver code the fact is about (its driver, winner, by, ... "
                                            "field), null when the fact is about no one driver")
    kind: str = Field(description="the fact's own kind field, else the name of its list in the singular "
                                  "(retirements -> retirement, pit_stops -> pit_stop); winner or pole for the "
                                  "car classified first or starting first")
    lap: int | None = Field(description="the lap the fact gives (lap, *_lap, or within from_lap..to_lap), or null")
    value: float | str | None = Field(description="a number or text copied from the fact, with its sign; null "
                                                  "when the sentence states none")
    unit: str | None = Field(description="the value's unit: s, laps, position, s/lap, or the unit the fact "
                                         "gives; null for a count or a text")
    fact: str = Field(description="the path of the fact in the facts JSON, e.g. story.podium[0], "
                                  "driver.pit_stops[1], neutralisations[0], session")


class Statement(BaseModel):
    text: str = Field(description="one sentence for the reader")
    claims: list[Claim] = Field(description="one claim per fact the sentence states: every number, lap, "
                                            "driver and compound in the text")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value):
        """A bare sentence is a statement without claims (the check then lets it state no number, driver or
        compound)."""
        return {"text": value, "claims": []} if isinstance(value, str) else value

    def __str__(self) -> str:
        return self.text


def say(text: str, *claims: dict) -> Statement:
    """A statement from its text and claims given as dicts (the fields left out are null)."""
    return Statement(text=text, claims=[Claim(**{"subject": None, "lap": None, "value": None, "unit": None, **c})
                                        for c in claims])


class SessionInsight(BaseModel):
    headline: Statement = Field(description="one sentence: who won and how, or what the session was")
    race_story: list[Statement] = Field(description="the race story in order: result, safety cars, retirements, "
                                                    "incidents, decisive pit stops, fastest lap")
    strategy: list[Statement] = Field(description="pit windows against each stint's degradation, undercuts and "
                                                  "overcuts")
    cars_at_risk: list[Statement] = Field(description="cars still running with warnings from their detections")


class DriverInsight(BaseModel):
    headline: Statement = Field(description="one sentence: the driver's result and what shaped it")
    points: list[Statement] = Field(description="pace, stints and degradation, pit stops, positions, incidents")


class DetectionExplanation(BaseModel):
    what_happened: Statement
    evidence: list[Statement]
    what_to_check: list[Statement]


SCHEMAS: dict[str, type[BaseModel]] = {"session": SessionInsight, "driver": DriverInsight,
                                       "detection": DetectionExplanation}


def statements(body: BaseModel) -> list[Statement]:
    """Every statement of a record, in reading order."""
    out: list[Statement] = []
    for name in type(body).model_fields:
        value = getattr(body, name)
        out.extend(value if isinstance(value, list) else [value])
    return out


def render(scope: str, body: BaseModel) -> str:
    """Readable text of a record, the race story first."""
    if scope == "session":
        s = cast(SessionInsight, body)
        return "\n".join([str(s.headline), *map(str, s.race_story), *_section("Strategy", s.strategy),
                          *_section("Cars at risk", s.cars_at_risk)])
    if scope == "driver":
        d = cast(DriverInsight, body)
        return "\n".join([str(d.headline), *(f"- {p}" for p in d.points)])
    e = cast(DetectionExplanation, body)
    return "\n".join([str(e.what_happened), *_section("Evidence", e.evidence),
                      *_section("What to check", e.what_to_check)])


def _section(title: str, lines: list) -> list[str]:
    return [f"{title}:", *(f"  {line}" for line in lines)] if lines else []
