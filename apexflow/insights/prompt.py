"""Prompts: the rules, the task of each scope, and the facts as compact JSON (units in the key names)."""
from __future__ import annotations

import json

PROMPT_VERSION = "4"
RULES = (
    "You are a Formula 1 race engineer's assistant. Write for race engineers: short, specific, no filler. "
    "Use ONLY the facts in the user message. Every number you write must appear in the facts, copied as given "
    "(you may round it, keep its unit: keys ending _s are seconds, _s_per_lap seconds per lap; lap numbers are "
    "laps). Never compute new numbers (no differences, sums or percentages), never guess, never use outside "
    "knowledge. Name drivers by their three-letter codes as in the facts and tyre compounds in capitals as in "
    "the facts (SOFT, MEDIUM, HARD, INTERMEDIATE, WET). If a fact is missing, leave the point out."
)
TASKS = {
    "session": "Summarise the session as its kind (session.kind) is told. A race or sprint: headline who won; "
               "race_story 5-10 sentences in race order: the start (story.start), each lead change and how it "
               "happened (story.lead_changes), each safety car, VSC and red flag with its cause and restart "
               "(neutralisations), stops that kept or won places (story.cheap_stops, story.crossover), penalties "
               "(race_control.penalties), retirements and non-starters with their incident, the finish "
               "(story.finish). Qualifying: pole, who was out in each part and by how much, deleted laps, who "
               "improved on the final run (qualifying). Practice: the timesheet and long runs (practice). Never "
               "write that anyone won qualifying or practice. Then strategy: pit windows from each stint's "
               "degradation (cliff_lap against pitted_lap), undercuts and overcuts. Then cars_at_risk from "
               "strategy.at_risk only (empty once the session is over).",
    "driver": "Summarise this driver's session: result, pace (median green lap, best lap, gap to the field), "
              "stints with compounds and degradation, pit stops, positions gained or lost, flags.",
    "detection": "Explain this critical detection to the race engineer: what happened, the evidence behind it, "
                 "and what to check next.",
}
MAX_OUTPUT_TOKENS = {"session": 900, "driver": 400, "detection": 400}


def facts_json(facts: dict) -> str:
    return json.dumps(facts, separators=(",", ":"), default=str)


def messages(scope: str, facts: dict, feedback: str | None = None) -> list[dict]:
    out = [{"role": "system", "content": f"{RULES}\n\nTask: {TASKS[scope]}"},
           {"role": "user", "content": "Facts:\n" + facts_json(facts)}]
    if feedback:
        out.append({"role": "user", "content": f"Your previous answer was rejected: {feedback}. Answer again "
                                               "using only the facts."})
    return out


def estimate_tokens(scope: str, facts: dict) -> int:
    """Upper estimate of a call's tokens (about 4 characters a token in, the output cap out): what a run
    reserves from its budget before calling."""
    chars = sum(len(m["content"]) for m in messages(scope, facts))
    return chars // 3 + MAX_OUTPUT_TOKENS[scope]
