"""What every insight provider gives back, and the errors the workflow retries (by their class names)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel


@dataclass
class Reply:
    """A provider's answer: the record (None when malformed), its usage (None where the answer did not say),
    and a refusal or problem if any."""

    body: BaseModel | None = None
    tokens_in: int | None = 0
    tokens_out: int | None = 0
    refusal: str | None = None
    problem: str | None = None


class Provider(Protocol):
    name: str
    model: str

    def write(self, scope: str, facts: dict, feedback: str | None = None) -> Reply:
        """One record of ``scope`` from ``facts``; ``feedback`` says what was wrong with the previous answer."""


