"""Who may approve, operate, respond and read from Slack."""

from __future__ import annotations

import pytest

from bot.domain.errors import UpstreamUnavailableError
from bot.slack_app.authorisation import Permission, SlackAuthoriser

GROUPS = {"S0SRE": frozenset({"U0CAROL"})}


def members_of(group: str) -> frozenset[str]:
    return GROUPS.get(group, frozenset())


def unreachable(group: str) -> frozenset[str]:
    raise UpstreamUnavailableError("slack down")


def make(**kw: object) -> SlackAuthoriser:
    values: dict[str, object] = {
        "approvers": ["U0ALICE", "S0SRE"],
        "operators": ["U0BOB"],
        "members_of": members_of,
    }
    values.update(kw)
    return SlackAuthoriser(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("permission", [Permission.READ, Permission.RESPOND])
def test_anyone_may_read_and_respond(permission: Permission) -> None:
    """List, show, ack and resolve are open to every workspace member."""
    assert make().check("U0STRANGER", permission).allowed


def test_approvers_may_approve_directly_or_through_a_group() -> None:
    """A listed user and a member of a listed user group may approve."""
    authoriser = make()
    assert authoriser.check("U0ALICE", Permission.APPROVE).allowed
    assert authoriser.check("U0CAROL", Permission.APPROVE).allowed


def test_operators_may_operate_but_not_approve() -> None:
    """An operator runs and pauses runbooks but cannot approve runs."""
    authoriser = make()
    assert authoriser.check("U0BOB", Permission.OPERATE).allowed
    refused = authoriser.check("U0BOB", Permission.APPROVE)
    assert not refused.allowed
    assert "approvers" in refused.reason


def test_approvers_may_also_operate() -> None:
    """Approvers hold the operator permission too."""
    assert make().check("U0CAROL", Permission.OPERATE).allowed


def test_strangers_are_refused_with_a_reason() -> None:
    """Someone in no list and no group is refused, with a readable reason."""
    refused = make().check("U0STRANGER", Permission.OPERATE)
    assert not refused.allowed
    assert refused.reason == "only Firebreak operators may do this"


def test_nobody_configured_names_the_setting() -> None:
    """With no approvers configured the refusal names the setting to set."""
    refused = make(approvers=[], operators=[]).check("U0ALICE", Permission.APPROVE)
    assert not refused.allowed
    assert "FIREBREAK_SLACK_APPROVERS" in refused.reason


def test_unreachable_group_lookup_refuses_and_says_so() -> None:
    """When Slack cannot say who is in a group, the user is refused and told to retry."""
    refused = make(members_of=unreachable).check("U0CAROL", Permission.APPROVE)
    assert not refused.allowed
    assert "S0SRE" in refused.reason
    assert make(members_of=unreachable).check("U0ALICE", Permission.APPROVE).allowed
