"""Every setting ApexFlow reads from its environment, in one typed object: what AWS (CDK sets these on the
functions) and local mode (``apexflow_local.stack`` sets them for the same handlers) share.

``settings()`` parses the environment once and again only when one of these variables changed (local mode and
tests change them); a bad value is a ``ContractError`` naming the variable, which the CLI answers with exit 2.
An empty variable counts as unset. Plain dataclasses, not pydantic: the analyze function reads its database
settings on every cold start.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from dataclasses import field as _field
from functools import lru_cache
from pathlib import Path
from typing import Any

from apexflow.errors import ContractError


def _within(unit: str, high: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 < value < high:
            raise ContractError(f"{name}={raw!r} must be a number of {unit} between 0 and {high:g}", parameter=name)
        return value
    return parse


_seconds = _within("seconds", 86_400)


def _count(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ContractError(f"{name}={raw!r} must be a whole number, 0 or more", parameter=name)
    return value


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise ContractError(f"{name}={raw!r} must be one of {', '.join(allowed)}", parameter=name)
        return raw
    return parse


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def env(name: str, parse: Callable[[str, str], Any] = _text, default: Any = None) -> Any:
    return _field(default=default, metadata={"env": name, "parse": parse})


@dataclass(frozen=True)
class Settings:
    # PostgreSQL (apexflow.storage.db; in AWS the RDS Proxy login's secret, apexflow_aws.config)
    database_url: str | None = env("DATABASE_URL")
    database_secret_arn: str | None = env("DATABASE_SECRET_ARN")
    database_host: str | None = env("DATABASE_HOST")
    database_name: str | None = env("DATABASE_NAME")
    app_secret_arn: str | None = env("APP_SECRET_ARN")
    readonly_secret_arn: str | None = env("READONLY_SECRET_ARN")
    home: Path = env("APEXFLOW_HOME", _path, Path(".apexflow"))  # local mode's state (``apexflow --home``)
    pgdata: Path | None = env("APEXFLOW_PGDATA", _path)
    db_connect_timeout: float = env("APEXFLOW_DB_CONNECT_TIMEOUT", _seconds, 10.0)
    db_statement_timeout: float = env("APEXFLOW_DB_STATEMENT_TIMEOUT", _seconds, 60.0)
    # FastF1 (apexflow.sources.fastf1.cache)
    fastf1_cache: Path | None = env("FASTF1_CACHE", _path)
    fastf1_http_cache: Path | None = env("FASTF1_HTTP_CACHE", _path)
    # The raw store, the stream and the functions the API starts
    raw_bucket: str | None = env("RAW_BUCKET")
    stream_name: str | None = env("STREAM_NAME")
    ingest_function_name: str | None = env("INGEST_FUNCTION_NAME")
    insights_state_machine_arn: str | None = env("INSIGHTS_STATE_MACHINE_ARN")
    # Insights (apexflow_aws.insights)
    openai_secret_arn: str | None = env("OPENAI_SECRET_ARN")
    openai_model: str | None = env("OPENAI_MODEL")
    openai_base_url: str | None = env("OPENAI_BASE_URL")
    openai_timeout_seconds: float = env("OPENAI_TIMEOUT_SECONDS", _seconds, 30.0)
    openai_max_retries: int = env("OPENAI_MAX_RETRIES", _count, 2)
    insights_token_budget: int | None = env("INSIGHTS_TOKEN_BUDGET", _count)
    # The live task (functions/ingest/live_task.py, apexflow_aws.live_runner)
    live_source: str = env("LIVE_SOURCE", _choice("f1", "openf1"), "f1")
    live_lead_minutes: float = env("LIVE_LEAD_MINUTES", _within("minutes", 1_440), 15.0)
    f1_token_secret_arn: str | None = env("F1_TOKEN_SECRET_ARN")
    openf1_secret_arn: str | None = env("OPENF1_SECRET_ARN")
    alerts_topic_arn: str | None = env("ALERTS_TOPIC_ARN")  # where a critical feed gap is published

    def need(self, attribute: str) -> Any:
        """The value of a setting the caller cannot do without; a ``ContractError`` naming its variable if unset."""
        value = getattr(self, attribute)
        if value is None:
            name = next(f.metadata["env"] for f in fields(self) if f.name == attribute)
            raise ContractError(f"{name} is not set: the deployed stack sets it; locally, run inside the local "
                                f"stack (apexflow commands do)", parameter=name)
        return value


_NAMES = tuple(f.metadata["env"] for f in fields(Settings))


def settings() -> Settings:
    """The settings as the environment now holds them."""
    return _parse(tuple(os.environ.get(name) or None for name in _NAMES))


@lru_cache(maxsize=16)
def _parse(values: tuple[str | None, ...]) -> Settings:
    given = {f.name: f.metadata["parse"](f.metadata["env"], raw.strip() if f.metadata["parse"] is not _text else raw)
             for f, raw in zip(fields(Settings), values, strict=True) if raw is not None and raw.strip()}
    return Settings(**given)
