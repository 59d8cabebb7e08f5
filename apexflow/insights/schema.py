"""The three insight records, as structured outputs (JSON schema from pydantic), and their text."""
from __future__ import annotations

from pydantic import BaseModel, Field


class SessionInsight(BaseModel):
    headline: str = Field(description="one sentence: who won and how, or what the session was")
    race_story: list[str] = Field(description="the race story in order: result, safety cars, retirements, "
                                              "incidents, decisive pit stops, fastest lap")
    strategy: list[str] = Field(description="pit windows against each stint's degradation, undercuts and overcuts")
    cars_at_risk: list[str] = Field(description="cars still running with warnings from their detections")


class DriverInsight(BaseModel):
    headline: str = Field(description="one sentence: the driver's result and what shaped it")
    points: list[str] = Field(description="pace, stints and degradation, pit stops, positions, incidents")


class DetectionExplanation(BaseModel):
    what_happened: str
    evidence: list[str]
    what_to_check: list[str]


SCHEMAS = {"session": SessionInsight, "driver": DriverInsight, "detection": DetectionExplanation}


def render(scope: str, body: BaseModel) -> str:
    """Readable text of a record, the race story first."""
    if scope == "session":
        return "\n".join([body.headline, *body.race_story, *_section("Strategy", body.strategy),
                          *_section("Cars at risk", body.cars_at_risk)])
    if scope == "driver":
        return "\n".join([body.headline, *(f"- {p}" for p in body.points)])
    return "\n".join([body.what_happened, *_section("Evidence", body.evidence),
                      *_section("What to check", body.what_to_check)])


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"{title}:", *(f"  {line}" for line in lines)] if lines else []
