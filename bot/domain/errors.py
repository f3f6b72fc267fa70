"""Firebreak's own errors; adapters translate vendor exceptions into these.

FirebreakError
├── UpstreamUnavailableError   a dependency (Prometheus, Alertmanager, Slack, LLM) failed
│   └── RateLimitedError       it asked us to come back after retry_after_s
├── BrokerUnavailableError     the Celery broker cannot take a message now
├── StoreUnavailableError      the database cannot be reached
├── StepInFlightError          another task holds a side effect's claim; retry after retry_after_s
├── NotFoundError              an id that does not exist
└── RefusedError               a request that cannot be carried out as asked; the message says why
    └── NotConfiguredError     it needs a setting that is not set (the message names it)
"""

from __future__ import annotations


class FirebreakError(Exception):
    """Base of every error Firebreak raises on purpose."""


class UpstreamUnavailableError(FirebreakError):
    """A dependency failed or timed out; the caller may retry later."""


class RateLimitedError(UpstreamUnavailableError):
    """A dependency rate-limited us; retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BrokerUnavailableError(FirebreakError):
    """The task broker refused or dropped a publish; the outbox keeps the message."""


class StoreUnavailableError(FirebreakError):
    """The database cannot be reached."""


class StepInFlightError(FirebreakError):
    """Another task holds the ledger claim of a side effect; retry after `retry_after_s`, when
    it has completed or its lease has run out (then the side effect is looked for first)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFoundError(FirebreakError):
    """No such incident, run or runbook."""


class RefusedError(FirebreakError):
    """A request that cannot be carried out as asked (a dependency refused it, or it names
    nothing to act on); retrying the same request will not help."""


class NotConfiguredError(RefusedError):
    """The request needs a dependency whose setting is not set; the message names the setting."""
