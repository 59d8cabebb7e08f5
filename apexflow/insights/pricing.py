"""The default model, what tokens cost, and the token budget of a run."""
from __future__ import annotations

DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_TOKEN_BUDGET = 60_000  # per run; a 20-car race needs 14-17 k, at most 26 k (benchmarks/insight_tokens.py)
PRICES = {  # USD per million tokens (input, output), list prices when written; check before relying on them
    "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1-nano": (0.10, 0.40), "gpt-4o-mini": (0.15, 0.60),
    "gpt-5-mini": (0.25, 2.00), "gpt-5-nano": (0.05, 0.40),
}


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float | None:
    """Estimated cost of one call; None for a model without a known price."""
    price = PRICES.get(model)
    return None if price is None else round((tokens_in * price[0] + tokens_out * price[1]) / 1e6, 6)
