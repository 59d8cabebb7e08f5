"""FastF1's caches: the parsed-data cache and, optionally, a frozen folder of HTTP responses.

The parsed data cache lives in ``FASTF1_CACHE`` (default ``<system temp>/fastf1``, i.e. ``/tmp/fastf1`` in
Lambda), created if absent. ``FASTF1_HTTP_CACHE`` (or ``http_cache=``) points at a frozen folder of HTTP
responses in ``requests-cache`` file format; when set, FastF1 runs offline from it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from apexflow.errors import ContractError
from apexflow.settings import settings

_configured: tuple | None = None


def default_cache_dir() -> Path:
    return settings().fastf1_cache or Path(tempfile.gettempdir()) / "fastf1"


def configure_cache(cache_dir: str | os.PathLike | None = None,
                    http_cache: str | os.PathLike | None = None) -> Path:
    """Point FastF1 at its parsed-data cache (created if absent) and, optionally, a frozen HTTP cache.

    With ``http_cache`` (or ``FASTF1_HTTP_CACHE``) FastF1 reads HTTP responses only from that
    folder and never goes to the network. This is the single use of FastF1's private
    ``Cache.configure(_backend=...)`` argument in the project (``tests/test_fastf1_source.py``
    fails loudly if FastF1 changes it).
    """
    global _configured
    from fastf1.req import Cache

    path = Path(cache_dir) if cache_dir else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    http_cache = http_cache or settings().fastf1_http_cache
    key = (str(path.resolve()), str(http_cache) if http_cache else None)
    if key == _configured:
        return path
    if http_cache:
        from requests_cache import FileCache

        if not Path(http_cache).is_dir():
            raise ContractError(f"FastF1 HTTP cache folder {http_cache} does not exist")
        Cache.configure(cache_dir=str(path), _backend=FileCache(str(http_cache)))
        Cache.offline_mode(True)
    else:
        Cache.configure(cache_dir=str(path))
        Cache.offline_mode(False)
    _configured = key
    return path
