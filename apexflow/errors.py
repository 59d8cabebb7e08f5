"""Every error ApexFlow raises on purpose, in one hierarchy. Each message says what was wrong and what to do.

::

    ApexFlowError
    ├── ContractError (ValueError)          data or a request that breaks the telemetry contract; ``parameter``
    │   │                                   names the field at fault (the CLI's exit 2, the API's 400/422)
    │   └── BadMessage                      one live message or recorded line that cannot be read: skipped
    │                                       and counted by ``kind``, never the end of a run
    ├── QueryError (ValueError)             a read the query side cannot answer; ``status`` is its HTTP status
    │   └── NotFound                        ... because what it names does not exist (404)
    ├── SessionNotFound (LookupError)       no session with that id is registered
    ├── RawDataMissing (LookupError)        the raw store lacks a session's current run or one of its chunks
    ├── DatabaseUnavailable (RuntimeError)  PostgreSQL could not be reached in time
    └── ProviderError                       an insight provider could not answer
        ├── ProviderThrottled               rate limited after the client's own retries   (transient)
        ├── ProviderTimeout                 no answer within the client's timeout        (transient)
        ├── ProviderUnavailable             a server error or no connection              (transient)
        └── ProviderRejected                refused as it stands: retrying cannot help

The insights state machine retries the transient provider errors by their class names.
"""
from __future__ import annotations


class ApexFlowError(Exception):
    """Base of the errors below."""


class ContractError(ApexFlowError, ValueError):
    """Data that breaks the telemetry contract; the message says what and how to fix it, ``parameter`` which
    field of a request is at fault (when one is)."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class BadMessage(ContractError):
    """One live message (or recorded line) that cannot be read: skipped and counted by ``kind`` (``unparseable``,
    ``no_timestamp``, ``undecodable_payload``, ``bad_time``, ``bad_value``, ``malformed``), never the end of a run."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class QueryError(ApexFlowError, ValueError):
    """A request the read side cannot answer; ``status`` is the HTTP status it means, ``parameter`` the culprit."""

    status = 400

    def __init__(self, parameter: str | None, message: str):
        super().__init__(message)
        self.parameter = parameter


class NotFound(QueryError):
    status = 404


class SessionNotFound(ApexFlowError, LookupError):
    """No session with that id is registered."""


class RawDataMissing(ApexFlowError, LookupError):
    """The raw store has no current run of the session, or lacks a chunk its manifest names."""


class DatabaseUnavailable(ApexFlowError, RuntimeError):
    """The database could not be reached in time; the message says where and what to check."""


class ProviderError(ApexFlowError):
    """The provider could not answer. The transient kinds below are retried by the state machine."""


class ProviderThrottled(ProviderError):
    """Rate limited (HTTP 429) after the client's own retries."""


class ProviderTimeout(ProviderError):
    """No answer within the client's timeout."""


class ProviderUnavailable(ProviderError):
    """Server error (5xx) or no connection."""


class ProviderRejected(ProviderError):
    """The request was refused as it stands (bad key, bad request): retrying cannot help."""


TRANSIENT = (ProviderThrottled, ProviderTimeout, ProviderUnavailable)
