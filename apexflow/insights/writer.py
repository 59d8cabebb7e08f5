"""One insight record from a provider: budget, grounding check, one retry, and the offline fallback.

Statuses: ``ok`` (every claim holds, ``grounding.py``), ``ungrounded`` (a claim still fails, or a statement states
what no claim carries, after one retry: those statements are left out, the rest kept, each problem listed),
``fallback`` (the offline record, with why: a refusal, malformed output
twice, the token budget spent, or the provider failing every retry of the workflow).
"""
from __future__ import annotations

from typing import Protocol

from apexflow.insights.grounding import check, ungrounded
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.pricing import cost_usd, priced
from apexflow.insights.prompt import estimate_tokens
from apexflow.insights.provider import Provider
from apexflow.insights.schema import render, statements

OFFLINE = OfflineProvider()


class Budget(Protocol):
    def reserve(self, tokens: int) -> bool:
        """Take ``tokens`` from the run's budget; False (nothing taken) when they are not left."""

    def settle(self, reserved: int, used: int) -> None:
        """Replace a reservation by what the call used."""


def write(provider: Provider, scope: str, facts: dict, budget: Budget) -> dict:
    """The record to store for ``scope`` from ``facts``."""
    if provider.name == OFFLINE.name:
        return offline(scope, facts)
    feedback, spent, last = None, [0, 0], None
    for _ in range(2):
        estimate = estimate_tokens(scope, facts, provider.model)
        if not budget.reserve(estimate):
            return offline(scope, facts, "fallback", "the session's token budget is spent", spent, provider.model)
        try:
            reply = provider.write(scope, facts, feedback)
        except BaseException:
            budget.settle(estimate, 0)
            raise
        used = ((reply.tokens_in, reply.tokens_out) if reply.tokens_in is not None and reply.tokens_out is not None
                else (estimate, 0))
        budget.settle(estimate, sum(used))
        spent = [spent[0] + used[0], spent[1] + used[1]]
        if reply.refusal:
            return offline(scope, facts, "fallback", f"the model refused: {reply.refusal}", spent, provider.model)
        if reply.body is None:
            feedback = problem = reply.problem
            continue
        missing = ungrounded(statements(reply.body), facts)
        if not missing:
            return _record(provider, reply.body, render(scope, reply.body), "ok", "", [], spent)
        last, feedback = (reply.body, missing), "these claims do not hold against the facts: " + "; ".join(
            missing[:12])
    if last is None:
        return offline(scope, facts, "fallback", f"malformed output twice: {problem}", spent, provider.model)
    body, missing = last
    kept = _grounded_part(scope, body, facts)
    return _record(provider, kept, render(scope, kept), "ungrounded",
                   f"{len(missing)} problem(s) left after one retry: the statements with them are left out",
                   missing, spent)


def _grounded_part(scope: str, body, facts: dict):
    """``body`` without the statements that fail the check; a failing single statement (a headline) is the
    offline record's."""
    kept, own = {}, None
    for name in type(body).model_fields:
        value = getattr(body, name)
        if isinstance(value, list):
            kept[name] = [s for s in value if not check(s, facts)]
        elif check(value, facts):
            own = own or OFFLINE.write(scope, facts).body
            kept[name] = getattr(own, name)
        else:
            kept[name] = value
    return type(body)(**kept)


def offline(scope: str, facts: dict, status: str = "ok", note: str = "", spent=(0, 0), model: str | None = None
            ) -> dict:
    """The offline record; a fallback keeps the tokens (and their cost, at ``model``'s price) spent before it."""
    body = OFFLINE.write(scope, facts).body
    assert body is not None  # the offline provider always answers
    missing = ungrounded(statements(body), facts)  # the same check as the model's answers
    record = _record(OFFLINE, body, render(scope, body), "ungrounded" if missing and status == "ok" else status,
                     note, missing, spent)
    if model:
        record["cost_usd"] = cost_usd(model, *spent)
        record["note"] = _unpriced(record["note"], model, spent)
    return record


def _record(provider, body, text: str, status: str, note: str, missing: list[str], spent) -> dict:
    own = provider is not OFFLINE
    return {"provider": provider.name, "model": provider.model, "status": status,
            "note": _unpriced(note, provider.model, spent) if own else note, "body": body.model_dump(),
            "content": text, "ungrounded": missing, "tokens_in": spent[0], "tokens_out": spent[1],
            "cost_usd": cost_usd(provider.model, *spent) if own else 0.0}


def _unpriced(note: str, model: str, spent) -> str:
    """The note, saying the cost is unknown (``cost_usd`` null) when tokens were spent on a model without a price."""
    if priced(model) or not any(spent):
        return note
    return "; ".join(x for x in (note, f"cost unknown: {model} is not in the price table") if x)
