"""Block Kit views, checked against slack_sdk's own block models and Slack's limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.domain.alerts import Severity
from bot.domain.cards import IncidentCard
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import Run, RunState
from bot.domain.timeline import EventKind, TimelineEvent
from bot.services.run_views import card_state
from bot.slack_app.views import (
    ActionId,
    SlackMessage,
    incident_list,
    incident_message,
    notice,
    plan_message,
    runbooks_message,
    timeline_message,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_incident(**overrides: Any) -> Incident:
    values: dict[str, Any] = {
        "id": 7,
        "receiver": "firebreak",
        "group_key": '{}:{alertname="VllmQueueSaturated"}',
        "title": "vLLM queue saturated on llama-3-70b",
        "severity": Severity.CRITICAL,
        "status": IncidentStatus.TRIGGERED,
        "triggered_at": T0,
        "labels": {"model_name": "llama-3-70b"},
    }
    values.update(overrides)
    return Incident(**values)


def make_card(**overrides: Any) -> IncidentCard:
    values: dict[str, Any] = {
        "incident": make_incident(),
        "alert_count": 3,
        "firing_count": 2,
        "scope": {"model_name": "llama-3-70b", "namespace": "serving"},
        "hypothesis": "capacity_saturation (82%): queue depth up 6x over baseline",
        "runbook_state": "scale-out planned",
    }
    values.update(overrides)
    return IncidentCard(**values)


def validated(message: SlackMessage) -> list[dict[str, Any]]:
    """Parse every block with slack_sdk's models, whose to_dict() runs their validators."""
    assert message.text
    assert len(message.blocks) <= 50
    parsed = [Block.parse(b) for b in message.blocks]
    assert all(p is not None for p in parsed)
    dicts = [p.to_dict() for p in parsed if p is not None]
    action_ids = [e["action_id"] for b in dicts if b["type"] == "actions" for e in b["elements"]]
    assert len(action_ids) == len(set(action_ids))
    for block in dicts:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["value"]) <= 2000
    return dicts


def buttons(message: SlackMessage) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    }


def test_root_message_shows_reference_severity_status_scope_and_hypothesis() -> None:
    """The root message has a header with INC-n and title, and fields for its state."""
    message = incident_message(make_card())
    blocks = validated(message)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"].startswith(":rotating_light: INC-7 vLLM queue")
    rendered = json.dumps(blocks)
    assert "critical" in rendered
    assert "triggered" in rendered
    assert "model_name=llama-3-70b" in rendered
    assert "capacity_saturation (82%)" in rendered
    assert "scale-out planned" in rendered
    assert "INC-7" in message.text


def test_buttons_offer_ack_resolve_summarise_timeline_postmortem_without_approval() -> None:
    """A triggered incident without a pending run has no Approve / Deny buttons."""
    ids = set(buttons(incident_message(make_card())))
    assert ids == {
        ActionId.ACK,
        ActionId.RESOLVE,
        ActionId.SILENCE,
        ActionId.SUMMARISE,
        ActionId.TIMELINE,
        ActionId.POSTMORTEM,
    }


def test_approve_and_deny_appear_when_a_run_awaits_approval() -> None:
    """With awaiting_run_id set, Approve and Deny carry the run and incident ids."""
    message = incident_message(make_card(awaiting_run_id=41))
    validated(message)
    found = buttons(message)
    assert json.loads(found[ActionId.APPROVE]["value"]) == {"incident_id": 7, "run_id": 41}
    assert found[ActionId.DENY]["style"] == "danger"
    assert "RUN-41 awaits approval" in json.dumps(message.blocks)


def test_resolved_incident_keeps_only_summarise_timeline_and_postmortem() -> None:
    """Resolution edits the same message: status resolved and the buttons reduced."""
    incident = make_incident(status=IncidentStatus.RESOLVED, resolved_at=T0, resolved_by="U0ALICE")
    message = incident_message(make_card(incident=incident, awaiting_run_id=41))
    validated(message)
    assert set(buttons(message)) == {ActionId.SUMMARISE, ActionId.TIMELINE, ActionId.POSTMORTEM}
    assert message.blocks[0]["text"]["text"].startswith(":white_check_mark:")
    assert "resolved" in message.text


def test_chart_image_block_only_with_a_public_url() -> None:
    """An image block appears when a chart URL is given, and not otherwise."""
    with_chart = incident_message(make_card(), chart_url="https://charts.example.com/inc-7.png")
    types = [b["type"] for b in validated(with_chart)]
    assert "image" in types
    assert "image" not in [b["type"] for b in incident_message(make_card()).blocks]


def test_long_texts_are_clipped_to_slack_limits() -> None:
    """A 5000-character title and summary still make valid blocks."""
    incident = make_incident(title="x" * 5000)
    message = incident_message(make_card(incident=incident, summary="<&>" * 3000))
    blocks = validated(message)
    assert blocks[0]["text"]["text"].endswith("…")
    assert len(message.text) <= 3000


def test_mrkdwn_control_characters_are_escaped() -> None:
    """Alert text with <, > and & cannot inject links or mentions."""
    card = make_card(hypothesis="<!channel> see <http://evil|here> & more")
    rendered = json.dumps(incident_message(card).blocks)
    assert "<!channel>" not in rendered
    assert "&lt;!channel&gt;" in rendered


def test_redaction_hook_sees_every_human_string() -> None:
    """A redactor that replaces a secret removes it from text, header and fields alike."""

    def redact(text: str) -> str:
        return text.replace("hunter2", "[REDACTED]")

    card = make_card(
        incident=make_incident(title="token hunter2 leaked"),
        scope={"password": "hunter2"},
        summary="key hunter2",
    )
    message = incident_message(card, redact=redact)
    rendered = json.dumps(message.blocks) + message.text
    assert "hunter2" not in rendered
    assert "[REDACTED]" in rendered


def test_timeline_packs_many_events_within_fifty_blocks() -> None:
    """Two thousand long events still fit in at most fifty valid blocks."""
    events = [
        TimelineEvent(7, T0, EventKind.NOTE, f"event {n} " + "y" * 200, id=n) for n in range(2000)
    ]
    message = timeline_message(make_incident(), events)
    blocks = validated(message)
    assert len(blocks) <= 50
    assert "more sections" in json.dumps(blocks[-1])


@pytest.mark.parametrize(
    "build",
    [
        lambda: incident_list([make_incident(id=n) for n in range(1, 40)]),
        lambda: incident_list([]),
        lambda: runbooks_message([("scale-out", "add replicas"), ("failover", "shift traffic")]),
        lambda: plan_message(7, "scale-out", ["1. set replicas default 2 → 4"]),
        lambda: notice("Refused: only approvers may approve runs."),
    ],
)
def test_every_other_view_is_valid_block_kit(build: Callable[[], SlackMessage]) -> None:
    """Lists, runbooks, plans and notices all pass slack_sdk's validators."""
    validated(build())


def test_plan_offers_confirm_and_cancel_with_the_runbook_and_incident() -> None:
    """The dry-run plan's Confirm button carries what to start."""
    found = buttons(plan_message(7, "scale-out", ["step"]))
    assert set(found) == {ActionId.CONFIRM_RUN, ActionId.CANCEL_RUN}
    value = json.loads(found[ActionId.CONFIRM_RUN]["value"])
    assert value == {"incident_id": 7, "runbook": "scale-out"}


def test_card_says_why_triage_holds_a_run_for_approval() -> None:
    """A run waiting because triage disagreed shows its reason beside Approve and Deny."""
    reason = "triage says gpu_fault 0.91, not capacity_saturation"
    run = Run(
        id=41,
        incident_id=7,
        runbook="scale-out",
        target="llama-3-70b",
        model="llama-3-70b",
        steps=[],
        approval_required=True,
        triage_hold=reason,
        cooldown_s=900,
        max_runs_per_hour=2,
        lock_ttl_s=600,
        created_at=T0,
        state=RunState.AWAITING_APPROVAL,
        reason=reason,
    )
    line, awaiting = card_state([run])
    message = incident_message(make_card(runbook_state=line, awaiting_run_id=awaiting))
    rendered = json.dumps(validated(message))
    assert f"scale-out on llama-3-70b: awaiting approval ({reason})" in rendered
    assert ActionId.APPROVE in buttons(message)
