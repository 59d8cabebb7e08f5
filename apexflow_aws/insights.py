"""The insights function's AWS side: the OpenAI key (Secrets Manager, once per container) and the provider a
run uses."""
from __future__ import annotations

import json
from functools import lru_cache

from apexflow.insights.offline import OfflineProvider
from apexflow.insights.pricing import DEFAULT_MODEL
from apexflow.settings import settings

PROVIDERS = ("openai", "offline")


@lru_cache(maxsize=1)
def openai_key() -> str | None:
    """The key in the secret ``OPENAI_SECRET_ARN`` names (its ``api_key`` field, or the whole string), None when
    none is configured. Read once per container; never logged, never passed on."""
    from apexflow_aws.config import client

    arn = settings().openai_secret_arn
    if not arn:
        return None
    value = client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"].strip()
    if value.startswith("{"):
        value = (json.loads(value).get("api_key") or "").strip()
    return value or None


def model(provider_name: str) -> str:
    if provider_name == "offline":
        return OfflineProvider.model
    return settings().openai_model or DEFAULT_MODEL


def choose(requested: str | None) -> str:
    """The provider a run uses: as requested, else OpenAI where a key is configured, else offline."""
    if requested not in (None, "", *PROVIDERS):
        raise ValueError(f"provider {requested!r} is not one of {', '.join(PROVIDERS)}")
    if requested == "openai" and openai_key() is None:
        raise ValueError("provider openai asked for, but no OpenAI key is configured: put it in the secret "
                         "OPENAI_SECRET_ARN names (locally: OPENAI_API_KEY), or use the offline provider")
    return requested or ("openai" if openai_key() else "offline")


@lru_cache(maxsize=4)
def provider(name: str, model_name: str):
    """One provider (and its HTTP client) per container."""
    if name == "offline":
        return OfflineProvider()
    from apexflow.insights.openai_provider import OpenAIProvider

    given = settings()
    return OpenAIProvider(openai_key(), model=model_name, base_url=given.openai_base_url,
                          timeout_s=given.openai_timeout_seconds, max_retries=given.openai_max_retries)


def reset() -> None:
    """Forget the key and providers read so far (a new local stack is a new container)."""
    openai_key.cache_clear()
    provider.cache_clear()
