"""What remediation adds to the runbook engine's types: a target already taken by another
run, and the lease that keeps two workers from ticking one run at once. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import FirebreakError


class TargetBusyError(FirebreakError):
    """Another unfinished run already holds this target; one run per target at a time."""

    def __init__(self, target: str, run_id: int | None = None) -> None:
        self.target = target
        self.run_id = run_id
        held_by = f" (run {run_id})" if run_id is not None else ""
        super().__init__(f"another run is active on {target}{held_by}")


@dataclass(frozen=True)
class TickLease:
    """Whether this worker may tick a run now; when not, until when another one holds it."""

    granted: bool
    held_until: datetime | None = None
