"""The change gate's rules: what closes a model's gate, the Slack verbs that freeze it, announced
deploys in triage, and the Argo Rollouts analysis that asks it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.correlation.engine import correlate
from bot.correlation.evidence import announced_rollout
from bot.domain.alerts import Severity
from bot.domain.changes import (
    ALL_MODELS,
    Change,
    ChangeKind,
    DeployException,
    FiringAlert,
    Freeze,
    decide,
    freeze_span,
    is_page_burn,
)
from bot.domain.findings import Direction, Finding, FindingStatus, HypothesisKind
from bot.domain.incidents import Incident, IncidentStatus
from bot.slack_app.commands import Command, UsageError, Verb, parse_command
from tests.fakes.metrics import stepped
from tests.unit.test_correlation_engine import ALERT_AT, NOW, ONSET, fleet

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MODEL = "reranker-v2"


def incident(incident_id: int, status: IncidentStatus = IncidentStatus.TRIGGERED) -> Incident:
    return Incident(
        incident_id, "firebreak", f"k{incident_id}", "error ratio after deploy", Severity.CRITICAL,
        status, T, labels={"model_name": MODEL},
    )  # fmt: skip


def shipped_alert_labels() -> list[dict[str, str]]:
    """Each alert rule of deploy/prometheus/rules/genai.yml as the labels its alerts carry."""
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules/genai.yml").read_text())
    return [
        {"alertname": rule["alert"], **rule.get("labels", {})}
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_only_the_shipped_fast_ttft_burn_pages_the_gate() -> None:
    """Of the shipped alert rules, the TTFT fast burn (critical) is a paging burn-rate alert;
    its slow-burn ticket and every non-SLO alert, critical or not, are not."""
    paging = {
        (labels["alertname"], labels["severity"])
        for labels in shipped_alert_labels()
        if is_page_burn(labels)
    }
    assert paging == {("LLMTTFTErrorBudgetBurn", "critical")}


def test_open_incidents_burns_and_freezes_each_close_the_gate_and_say_so() -> None:
    """Each blocker is named: the incident (INC-n), a burn alert of another incident, a freeze."""
    burn = FiringAlert(
        "LLMTTFTErrorBudgetBurn",
        {"alertname": "LLMTTFTErrorBudgetBurn", "severity": "critical", "slo": "ttft"},
        9,
    )
    own_burn = FiringAlert("LLMTTFTErrorBudgetBurn", dict(burn.labels), 12)
    freeze = Freeze(ALL_MODELS, T + timedelta(hours=1), "U0ALICE", T, "release train")
    decision = decide(MODEL, [incident(12)], [burn, own_burn], [freeze], None, T)
    assert not decision.allowed
    assert [b.kind for b in decision.blockers] == ["incident", "alert", "freeze"]
    assert decision.reasons[0].startswith(f"INC-12 open on {MODEL} (triggered)")
    assert "INC-9" in decision.reasons[1]
    assert decision.reasons[2].startswith("every model frozen until 2026-05-01 13:00 UTC")
    assert decision.incident_ids == (12,)


def test_resolved_incidents_expired_freezes_and_tickets_leave_the_gate_open() -> None:
    """Nothing that has ended, or only opens a ticket, holds a change."""
    ticket = FiringAlert("LLMTTFTErrorBudgetBurn", {"severity": "warning", "slo": "ttft"}, 3)
    expired = Freeze(MODEL, T - timedelta(minutes=1), "U0ALICE", T - timedelta(hours=1))
    resolved = incident(4, IncidentStatus.RESOLVED)
    decision = decide(MODEL, [resolved], [ticket], [expired], None, T)
    assert decision.allowed
    assert decision.reasons == ()


def test_an_unused_exception_opens_a_closed_gate_and_is_named() -> None:
    """A usable exception opens the gate, listed after what it overrides; a used one does not."""
    exception = DeployException(MODEL, "U0ALICE", T, T + timedelta(hours=1), "hotfix", id=3)
    opened = decide(MODEL, [incident(12)], [], [], exception, T)
    assert opened.allowed
    assert opened.reasons[-1].startswith(f"exception for the next change to {MODEL} by U0ALICE")
    used = DeployException(MODEL, "U0ALICE", T, T + timedelta(hours=1), used_at=T, id=3)
    assert not decide(MODEL, [incident(12)], [], [], used, T).allowed


def test_held_line_names_the_change_and_the_incident() -> None:
    """A held deploy's thread line reads as on-call expects it."""
    change = Change(MODEL, "2.4.1", ChangeKind.DEPLOY, T, id=5)
    assert change.held_line(incident(12)) == "deploy of reranker-v2 2.4.1 held: INC-12 open"
    assert not Change(MODEL, "2.3.0", ChangeKind.ROLLBACK, T).gated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "freeze reranker-v2 2h release train",
            Command(Verb.FREEZE, model=MODEL, span=timedelta(hours=2), reason="release train"),
        ),
        ("freeze all 1h30m", Command(Verb.FREEZE, model=ALL_MODELS, span=timedelta(minutes=90))),
        ("unfreeze ALL", Command(Verb.UNFREEZE, model=ALL_MODELS)),
        (
            "allow-deploy reranker-v2 hotfix",
            Command(Verb.ALLOW_DEPLOY, model=MODEL, reason="hotfix"),
        ),
    ],
)
def test_gate_verbs_parse(text: str, expected: Command) -> None:
    """freeze, unfreeze and allow-deploy parse their model (or all), duration and reason."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    ["freeze reranker-v2", "freeze reranker-v2 soon", "freeze all 90d", "unfreeze", "unfreeze a b",
     "allow-deploy", "allow-deploy all"],
)  # fmt: skip
def test_gate_verbs_refuse_wrong_usage(text: str) -> None:
    """A missing or unreadable argument, or an exception for every model, shows the usage."""
    with pytest.raises(UsageError) as refused:
        parse_command(text)
    assert refused.value.usage.startswith(f"/firebreak {text.split()[0]}")


def test_freeze_span_bounds() -> None:
    """Freezes last between a minute and thirty days."""
    assert freeze_span("30d") == timedelta(days=30)
    for text in ("30s", "31d", "2 hours"):
        with pytest.raises(ValueError, match=r"freeze|duration"):
            freeze_span(text)


INFERRED = Finding(
    "rollout", "rollout", "", FindingStatus.MOVED,
    reason="rollout to ReplicaSet m-7c9d (image tag 2.3.0 → 2.4.0), replacing m-5b8c",
    direction=Direction.UP, onset_at=T + timedelta(seconds=90),
    series_labels={"replicaset": "m-7c9d", "version": "2.4.0", "previous_version": "2.3.0"},
)  # fmt: skip


def test_an_announced_deploy_outranks_the_inferred_rollout() -> None:
    """The finding cites the change and its source, keeps what the pods show, and dates from
    when the new pods began serving; held and out-of-window changes count for nothing."""
    held = Change(MODEL, "2.5.0", ChangeKind.DEPLOY, T, held=True, id=4)
    deploy = Change(MODEL, "2.4.0", ChangeKind.DEPLOY, T, source="https://ci/run/7", id=5)
    late = Change(MODEL, "2.4.1", ChangeKind.DEPLOY, T + timedelta(hours=2), id=6)
    found = announced_rollout(
        [held, late, deploy], T - timedelta(minutes=5), T + timedelta(hours=1), INFERRED
    )
    assert found is not None
    assert found.moved
    assert found.reason.startswith(
        "CHG-5 deploy of reranker-v2 2.4.0 announced by https://ci/run/7"
    )
    assert "image tag 2.3.0 → 2.4.0" in found.reason
    assert found.series_labels["change"] == "CHG-5"
    assert found.series_labels["previous_version"] == "2.3.0"
    assert found.onset_at == INFERRED.onset_at
    assert (
        announced_rollout([held, late], T - timedelta(minutes=5), T + timedelta(hours=1), INFERRED)
        is None
    )


def test_triage_cites_an_announced_deploy_the_pods_do_not_show() -> None:
    """With one ReplicaSet all along (no rollout to infer), errors right after an announced
    deploy make triage name a bad deploy, citing the change."""
    errors: dict[str, Any] = {
        "vllm:kv_cache_usage_perc": stepped({}, 0.4, 0.4, ONSET),
        "vllm:num_requests_waiting{": stepped({}, 1, 1, ONSET),
        "http_requests_total": stepped({}, 10, 10, ONSET),
        'handler=~"/v1/.*", status="5xx"': stepped({}, 0.001, 0.25, ONSET),
    }
    deploy = Change(
        "llama-3-8b", "2.4.0", ChangeKind.DEPLOY, ONSET - timedelta(seconds=30), source="ci", id=7
    )
    announced = correlate(
        fleet(**errors), {"model_name": "llama-3-8b"}, [], ALERT_AT, NOW, changes=[deploy]
    )
    assert announced.top is not None
    assert announced.top.kind is HypothesisKind.BAD_DEPLOY
    assert "rollout" in announced.top.evidence
    assert "CHG-7 deploy of llama-3-8b 2.4.0 announced by ci" in announced.top.explanation
    silent = correlate(fleet(**errors), {"model_name": "llama-3-8b"}, [], ALERT_AT, NOW)
    assert silent.top is None or silent.top.kind is not HypothesisKind.BAD_DEPLOY


def test_argo_analysis_template_asks_the_gate_and_waits_while_it_is_closed() -> None:
    """The shipped AnalysisTemplate polls GET /api/v1/gate with the bearer token, succeeds on
    `allowed`, never fails on a closed gate (it waits), and declares every argument it uses."""
    path = ROOT / "deploy/kubernetes/argo-rollouts/change-gate-analysis.yaml"
    template = yaml.safe_load(path.read_text())
    assert (template["apiVersion"], template["kind"]) == (
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
    )
    spec = template["spec"]
    (metric,) = spec["metrics"]
    web = metric["provider"]["web"]
    assert web["url"] == "{{ args.firebreak-url }}/api/v1/gate?model={{ args.model }}"
    assert web["jsonPath"] == "{$}"
    assert {"key": "Authorization", "value": "Bearer {{ args.api-token }}"} in web["headers"]
    assert metric["successCondition"] == "result.allowed == true"
    assert metric["failureLimit"] == -1
    assert metric["consecutiveSuccessLimit"] >= 1
    assert "failureCondition" not in metric
    declared = {arg["name"] for arg in spec["args"]}
    used = set(re.findall(r"\{\{ args\.([\w-]+) \}\}", yaml.safe_dump(metric)))
    assert used == declared == {"model", "firebreak-url", "api-token"}
    secret = next(a for a in spec["args"] if a["name"] == "api-token")["valueFrom"]["secretKeyRef"]
    assert set(secret) == {"name", "key"}
    kustomization = (ROOT / "deploy/kubernetes/kustomization.yaml").read_text()
    assert "argo-rollouts" not in kustomization  # applies on clusters without Argo's CRDs
