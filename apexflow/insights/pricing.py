"""The default model, what tokens cost, and the token budget of a run."""
from __future__ import annotations

import re

DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_TOKEN_BUDGET = 150_000  # per run; a 20-car race with claims needs about 40 k, 70 k at every cap
# (benchmarks/insight_tokens.py), and a reasoning model more
PRICES = {  # USD per million tokens (input, output), list prices when written; check before relying on them
    "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60),
    "gpt-5": (1.25, 10.00), "gpt-5-mini": (0.25, 2.00), "gpt-5-nano": (0.05, 0.40),
    "o3": (2.00, 8.00), "o4-mini": (1.10, 4.40),
}
SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # gpt-4.1-mini-2025-04-14 is priced as gpt-4.1-mini


def price(model: str) -> tuple[float, float] | None:
    return PRICES.get(model) or PRICES.get(SNAPSHOT.sub("", model))


def priced(model: str) -> bool:
    return price(model) is not None


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float | None:
    """Estimated cost of one call; None (unknown, never $0) for a model without a known price. Reasoning
    tokens are billed as output: they are in ``tokens_out`` (the API's ``completion_tokens``)."""
    known = price(model)
    return None if known is None else round((tokens_in * known[0] + tokens_out * known[1]) / 1e6, 6)
