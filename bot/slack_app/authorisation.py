"""Who may do what from Slack: approvers, operators and everyone else.

| permission | verbs and buttons                                           | who                 |
|------------|-------------------------------------------------------------|---------------------|
| READ       | help, list, show, timeline, runbooks, postmortem            | anyone              |
| RESPOND    | ack, resolve, silence, unsilence (and Silence 1h)           | anyone              |
| OPERATE    | run (Confirm button), pause, resume, freeze, unfreeze       | operators, approvers|
| APPROVE    | approve, deny, allow-deploy                                 | approvers           |

Principals are Slack user ids (`U…`, `W…`) or user-group ids (`S…`), from the settings
`slack_approvers` and `slack_operators`. Group membership is asked of `members_of` (Slack's
usergroups.users.list, cached). A decision that cannot be made (Slack unreachable) is a
refusal that says so. The runbook engine still checks a run's own approvers on top of this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import structlog

from bot.domain.errors import UpstreamUnavailableError

log = structlog.get_logger(__name__)


class Permission(StrEnum):
    READ = "read"
    RESPOND = "respond"
    OPERATE = "operate"
    APPROVE = "approve"


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and a reason a person can read when not."""

    allowed: bool
    reason: str = ""


ALLOWED = Decision(True)
_SETTING = {
    Permission.OPERATE: "FIREBREAK_SLACK_OPERATORS",
    Permission.APPROVE: "FIREBREAK_SLACK_APPROVERS",
}


def _is_group(principal: str) -> bool:
    return principal.startswith("S")


class SlackAuthoriser:
    """Decides whether a Slack user holds a permission."""

    def __init__(
        self,
        approvers: Iterable[str] = (),
        operators: Iterable[str] = (),
        members_of: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self._approvers = tuple(p.strip() for p in approvers if p.strip())
        self._operators = tuple(p.strip() for p in operators if p.strip())
        self._members_of = members_of

    def principals(self, permission: Permission) -> tuple[str, ...]:
        """The configured users and groups holding `permission` (empty for open ones)."""
        if permission is Permission.APPROVE:
            return self._approvers
        if permission is Permission.OPERATE:
            return self._operators + self._approvers
        return ()

    def check(self, user_id: str, permission: Permission) -> Decision:
        """May `user_id` use `permission`? Open permissions are always allowed."""
        if permission in {Permission.READ, Permission.RESPOND}:
            return ALLOWED
        principals = self.principals(permission)
        role = "approvers" if permission is Permission.APPROVE else "operators"
        if not principals:
            return Decision(False, f"no Slack {role} are configured ({_SETTING[permission]})")
        if user_id in principals:
            return ALLOWED
        unknown: list[str] = []
        for group in (p for p in principals if _is_group(p)):
            if self._members_of is None:
                unknown.append(group)
                continue
            try:
                if user_id in self._members_of(group):
                    return ALLOWED
            except UpstreamUnavailableError as exc:
                log.warning("slack_group_lookup_failed", group=group, reason=str(exc))
                unknown.append(group)
        if unknown:
            groups = ", ".join(unknown)
            return Decision(False, f"could not check membership of {groups}; try again shortly")
        return Decision(False, f"only Firebreak {role} may do this")
