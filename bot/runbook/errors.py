"""Errors of the runbook engine: bad runbook files, bad templates, targets that refuse.

FirebreakError
├── RunbookError            a runbook file is invalid (file, line, reason)
├── TemplateError           a `{{ labels.x }}` / `{{ params.x }}` reference cannot be filled
├── PlanError               a step cannot be planned against the target's state
└── UpstreamUnavailableError
    └── TargetError         a target's control API or Kubernetes refused or failed
"""

from __future__ import annotations

from pathlib import Path

from bot.domain.errors import FirebreakError, UpstreamUnavailableError


class RunbookError(FirebreakError):
    """A runbook that cannot load: which file, which line (1-based, 0 if unknown), and why."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {reason}")


class TemplateError(FirebreakError):
    """A template names a label or parameter that the incident or runbook does not have."""


class PlanError(FirebreakError):
    """A step cannot be planned: e.g. no known-good version, an unknown pool."""


class ApprovalRefusedError(FirebreakError):
    """Someone not listed among a runbook's approvers tried to approve or deny a run."""


class TargetError(UpstreamUnavailableError):
    """A target answered with an error; `status` is its HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
