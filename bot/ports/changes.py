"""The change gate: changes, deploy freezes and exceptions, what is going on on a scope
(bot/services/record_change.py, check_gate.py, freeze_deploys.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.domain.changes import Change, DeployException, FiringAlert, Freeze, GateAnswer


class ChangeLog(Protocol):
    """Changes to models and services, as pipelines, people and Firebreak announce them."""

    def add(self, change: Change, recorded_at: datetime) -> Change: ...
    def on_scope(
        self, scope: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[Change]:
        """Changes to `scope` (`model_name=…` or `service=…`) from `start` to `end`, oldest
        first."""
        ...


class DeployFreezes(Protocol):
    """One freeze per scope (a model, or every model); freezing a scope again replaces it."""

    def put(self, freeze: Freeze) -> None: ...
    def lift(self, scope: str) -> Freeze | None:
        """Remove the scope's freeze; answer it (None when there was none)."""
        ...

    def covering(self, model: str, now: datetime) -> list[Freeze]:
        """Freezes in force for `model`: its own and every model's."""
        ...


class DeployExceptions(Protocol):
    """Approvers' single-use exceptions; granting one replaces the model's unused one."""

    def grant(self, exception: DeployException) -> DeployException: ...
    def usable(self, model: str, now: datetime) -> DeployException | None: ...
    def use(self, exception_id: int, now: datetime) -> bool:
        """Mark the exception used, only if it is unused and unexpired: True for the one caller
        that did (two transactions racing for it cannot both)."""
        ...


class ScopeWatch(Protocol):
    """What is going on on a scope: its incidents and its firing alerts."""

    def incident_ids(self, label: str, value: str, resolved_since: datetime | None) -> list[int]:
        """Incidents whose `label` is `value`: open ones, and with `resolved_since` those
        resolved since then; newest first."""
        ...

    def firing_for_model(self, model: str) -> list[FiringAlert]: ...


class ChangeGate(Protocol):
    """The gate as a pipeline sees it, over the API or on the local database. Raises
    UpstreamUnavailableError when it cannot be asked, RefusedError when refused."""

    def check(self, model: str) -> GateAnswer: ...
    def record(self, change: Change) -> GateAnswer: ...
