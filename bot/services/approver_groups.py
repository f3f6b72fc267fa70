"""Which of a run's approving user groups a person belongs to.

A runbook's `approval.approvers` may name chat user groups (Slack `S…` ids) as well as people.
Deciding on a run awaiting approval, the decider's groups among them are asked of the chat
(bot/ports/chat.py `UserGroups`, Slack's usergroups.users.list, cached), so a member of a listed
group may approve or deny. Without a chat that knows groups, none count; when the chat cannot
say, UpstreamUnavailableError reaches the caller (the task retries) rather than a refusal.
"""

from __future__ import annotations

from bot.domain.runbooks import RunState
from bot.ports import RunIndex, UserGroups


def approver_groups(
    runs: RunIndex, groups: UserGroups | None, run_id: int, actor: str
) -> tuple[str, ...]:
    """The run's approving user groups that `actor` belongs to; none are asked about when the
    run no longer waits, lists no approvers, or lists the actor by name."""
    run = runs.load(run_id)
    if groups is None or run is None or run.state is not RunState.AWAITING_APPROVAL:
        return ()
    if not run.approvers or actor in run.approvers:
        return ()
    return tuple(sorted(groups.groups_of(actor, run.approvers)))
