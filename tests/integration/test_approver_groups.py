"""Runbook approvers named by Slack user group: the composition root's remediation (what the
approve and deny tasks call) asks Slack's usergroups.users.list, through the real SDK against
the loopback Slack server, whether the decider belongs to one of the run's approving groups."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot.bootstrap import Container
from bot.domain.alerts import Severity
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import Run, RunState
from bot.domain.task_names import TaskName
from bot.runbook.errors import ApprovalRefusedError
from bot.settings import Settings
from tests.servers.slack import BOT_TOKEN, SlackServer

GROUP = "S0ONCALL"


def awaiting_run(container: Container, approvers: tuple[str, ...]) -> Run:
    """An incident and a rollback run on it awaiting approval by `approvers`."""
    now = datetime.now(UTC)
    with container.store.transaction() as tx:
        incident = tx.incidents.add(
            Incident(
                id=0,
                receiver="firebreak",
                group_key="drift",
                title="LLMModelDrift",
                severity=Severity.CRITICAL,
                status=IncidentStatus.TRIGGERED,
                triggered_at=now,
                labels={"alertname": "LLMModelDrift", "model_name": "reranker-v2"},
            )
        )
    return container.runs.add(
        Run(
            incident_id=incident.id,
            runbook="rollback",
            target="reranker-v2",
            model="reranker-v2",
            steps=[],
            approval_required=True,
            approvers=approvers,
            approval_deadline=now + timedelta(minutes=30),
            cooldown_s=3600,
            max_runs_per_hour=1,
            lock_ttl_s=600,
            state=RunState.AWAITING_APPROVAL,
            created_at=now,
        )
    )


def queued_tasks(redis_url: str) -> list[tuple[str, list[object]]]:
    """The tasks waiting in the broker's queues (Celery's Redis transport: a list per queue)."""
    broker = redis.Redis.from_url(redis_url)
    found = []
    for key in broker.scan_iter():
        if broker.type(key) != b"list":
            continue
        for raw in broker.lrange(key, 0, -1):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            found.append((str(message["headers"]["task"]), list(args)))
    return found


@pytest.fixture
def container(database_url: str, redis_url: str, slack: SlackServer, tmp_path: Path) -> Container:
    slack.set_usergroup(GROUP, ["U0ALICE", "U0BOB"])
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
    )
    return Container(settings)


def test_a_member_of_an_approving_group_approves(container: Container, slack: SlackServer) -> None:
    """U0ALICE is in S0ONCALL, the run's only approver: her approval moves it and queues a
    tick; U0MALLORY, in no listed group, is refused and the refusal is audited."""
    run = awaiting_run(container, (GROUP,))
    assert run.id is not None
    with pytest.raises(ApprovalRefusedError):
        container.remediation.approve(run.id, "U0MALLORY")
    approved = container.remediation.approve(run.id, "U0ALICE")
    assert approved.state is RunState.APPROVED
    assert approved.history[-1].by == "U0ALICE"
    with container.store.transaction() as tx:
        actions = [row["action"] for row in tx.audit.for_incident(run.incident_id)]
    assert "approval_refused" in actions
    assert "run_approved" in actions
    assert (TaskName.TICK_RUN, [run.id]) in queued_tasks(container.settings.redis_url)
    lookups = slack.calls_to("usergroups.users.list")
    assert [c.body["usergroup"] for c in lookups] == [GROUP]  # cached for the second decider


def test_a_group_member_may_deny_and_a_named_approver_needs_no_lookup(
    container: Container, slack: SlackServer
) -> None:
    """U0BOB denies through the group; a run listing U0CAROL by name asks Slack nothing."""
    grouped = awaiting_run(container, ("U0CAROL", GROUP))
    assert grouped.id is not None
    assert container.remediation.deny(grouped.id, "U0BOB").state is RunState.DENIED
    named = awaiting_run(container, ("U0CAROL",))
    assert named.id is not None
    calls = len(slack.calls_to("usergroups.users.list"))
    assert container.remediation.approve(named.id, "U0CAROL").state is RunState.APPROVED
    assert len(slack.calls_to("usergroups.users.list")) == calls


def test_slack_down_is_an_outage_not_a_refusal(container: Container, slack: SlackServer) -> None:
    """When Slack cannot say who is in the group the decision fails as retryable, and the run
    still waits for approval."""
    run = awaiting_run(container, (GROUP,))
    assert run.id is not None
    slack.fail_next(5, status=503)
    with pytest.raises(UpstreamUnavailableError):
        container.remediation.approve(run.id, "U0ALICE")
    stored = container.runs.load(run.id)
    assert stored is not None
    assert stored.state is RunState.AWAITING_APPROVAL
