"""Incident memory on SQLite and PostgreSQL: triage remembers each incident, and a second
occurrence of the same fault names the first with what became of it.

Each incident goes through the real triage service (correlation over a fake metrics source
whose KV cache and queue jump at the fault), its runbook run is recorded in the real run store,
and its lifecycle moves through the real status service; the match is read back through the
chat card, the API and the postmortem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient

from bot.adapters.sql_runs import SqlRunStore
from bot.adapters.sql_store import SqlStore
from bot.cli import build_parser
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import OnFailure, Run, RunState, RunStep
from bot.domain.timeline import EventKind
from bot.postmortem.render import json_schema
from bot.services.change_status import change_status
from bot.services.export_postmortem import render_postmortem
from bot.services.notify_incident import build_card
from bot.services.recall_incidents import similar_incidents
from bot.services.triage_incident import triage_incident
from bot.settings import Settings
from bot.web.app import create_app
from tests.fakes.metrics import FakeMetricsSource, stepped
from tests.integration.conftest import API_TOKEN

FIRST = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
LABELS = {"alertname": "LLMKVCacheSaturated", "model_name": "llama-3-8b", "severity": "page"}
POD = {"namespace": "genai", "pod": "llama-3-8b-primary-7c9d5f8b6d-x2k4q"}
NODE = "gpu-node-01"


def saturated_fleet(onset: datetime) -> FakeMetricsSource:
    """One pod on one node; the KV cache and the queue jump at `onset`."""
    replicaset = {**POD, "node": NODE, "created_by_name": "llama-3-8b-primary-7c9d5f8b6d"}
    return FakeMetricsSource(
        {
            "group by (namespace, pod) ({__name__": stepped(POD, 1, 1, onset),
            "kube_pod_info{namespace": stepped(replicaset, 1, 1, onset),
            "vllm:kv_cache_usage_perc": stepped({}, 0.4, 0.98, onset),
            "vllm:num_requests_waiting{": stepped({}, 1, 60, onset),
        }
    )


def occur(store: SqlStore, at: datetime, charts: Path, name: str) -> int:
    """An incident of the saturation fault triggered at `at`, triaged 8 minutes later."""
    with store.transaction() as tx:
        incident = tx.incidents.add(
            Incident(
                0,
                "firebreak",
                name,
                "KV cache saturated",
                Severity.CRITICAL,
                IncidentStatus.TRIGGERED,
                at,
                labels=dict(LABELS),
            )
        )
    source = saturated_fleet(at - timedelta(minutes=3))
    report = triage_incident(store, source, incident.id, at + timedelta(minutes=8), charts)
    assert report is not None
    assert report.top is not None
    assert report.top.kind.value == "capacity_saturation"
    return incident.id


def remediate(store: SqlStore, incident_id: int, at: datetime, state: RunState) -> None:
    """A scale-out run that ended in `state`, then mitigation 4 minutes after the trigger."""
    runs = SqlRunStore.on(store)
    run = runs.add(
        Run(
            incident_id=incident_id,
            runbook="scale-out",
            target="llama-3-8b",
            model="llama-3-8b",
            steps=[
                RunStep(
                    action="scale", params={"replicas": 6}, timeout_s=30, on_failure=OnFailure.ABORT
                )
            ],
            verify={"query": "vllm:kv_cache_usage_perc", "success_condition": "< 0.9"},
            approval_required=False,
            cooldown_s=900,
            max_runs_per_hour=2,
            lock_ttl_s=600,
            created_at=at,
        )
    )
    for step in (RunState.APPROVED, RunState.RUNNING, RunState.VERIFYING, state):
        run.move_to(step, at)
    runs.save(run)
    change_status(
        store, incident_id, IncidentStatus.MITIGATED, "runbook", at + timedelta(minutes=4)
    )


@pytest.fixture
def store(database_url: str) -> SqlStore:
    return SqlStore.from_url(database_url)


def test_a_second_occurrence_names_the_first_with_its_outcome(
    store: SqlStore,
    tmp_path: Path,
    database_url: str,
    make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The repeat of a saturation links the first occurrence: same model, same cause, the same
    signals moved; scale-out verified, mitigated in 4 min, and — a day and more later with no
    recurrence — held. It shows on the timeline, the chat card, the API, the postmortem and
    `firebreak incidents show`."""
    first = occur(store, FIRST, tmp_path, "g1")
    remediate(store, first, FIRST, RunState.SUCCEEDED)
    again_at = FIRST + timedelta(hours=30)
    second = occur(store, again_at, tmp_path, "g2")
    now = again_at + timedelta(minutes=9)

    [match] = similar_incidents(store, second, now)
    assert match["ref"] == f"INC-{first}"
    assert {"same model llama-3-8b", "same cause capacity_saturation"} <= set(match["reasons"])
    assert any("moved signals alike" in r and "kv_cache" in r for r in match["reasons"])
    outcome = match["outcome"]
    assert (outcome["runbook"], outcome["verified"], outcome["held"]) == ("scale-out", True, "held")
    assert outcome["time_to_mitigate_s"] == 240.0
    assert 0.5 < match["score"] <= 1.0

    with store.transaction() as tx:
        notes = [e.message for e in tx.timeline.for_incident(second) if e.kind is EventKind.NOTE]
    assert any(n.startswith(f"Seen before: INC-{first} (30 h 00 min earlier") for n in notes)

    card, _, _ = build_card(store, second, now=now)
    assert len(card.similar) == 1
    assert "scale-out verified" in card.similar[0]
    assert "held" in card.similar[0]

    document = json.loads(render_postmortem(store, second, "json"))
    jsonschema.validate(document, json_schema())
    assert document["similar_incidents"][0]["incident"] == f"INC-{first}"
    assert "## Similar incidents" in render_postmortem(store, second, "md").decode()

    client = TestClient(create_app(make_settings(database_url=database_url, api_token=API_TOKEN)))
    answer = client.get(
        f"/api/v1/incidents/{second}/similar", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert answer.status_code == 200
    assert answer.json()[0]["outcome"]["held"] == "held"
    assert client.get(f"/api/v1/incidents/{second}/similar").status_code == 401
    assert (
        client.get(
            "/api/v1/incidents/999/similar", headers={"Authorization": f"Bearer {API_TOKEN}"}
        ).status_code
        == 404
    )

    settings = make_settings(database_url=database_url)
    for extra in ([], ["--json"]):
        args = build_parser().parse_args(["incidents", "show", f"INC-{second}", *extra])
        assert args.handler(args, settings) == 0
    text, document = capsys.readouterr().out.split("\n{", 1)
    assert f"seen before: INC-{first} (" in text
    assert "scale-out verified" in text
    assert json.loads("{" + document)["similar"][0]["ref"] == f"INC-{first}"


def test_a_fix_the_fault_outran_did_not_hold(store: SqlStore, tmp_path: Path) -> None:
    """When the same model fires again within 24 h of the mitigation, the first occurrence's
    fix did not hold — named as this incident when it is the one asking — and a fix whose
    verification failed says so; an incident still open is never offered as history."""
    first = occur(store, FIRST, tmp_path, "g1")
    remediate(store, first, FIRST, RunState.FAILED)
    concurrent = occur(store, FIRST + timedelta(minutes=1), tmp_path, "g2")
    again_at = FIRST + timedelta(hours=2)
    second = occur(store, again_at, tmp_path, "g3")

    found = similar_incidents(store, second, again_at + timedelta(minutes=9))
    assert [m["ref"] for m in found] == [f"INC-{first}"]  # the concurrent one never ended
    outcome = found[0]["outcome"]
    assert (outcome["verified"], outcome["held"]) == (False, "did_not_hold")
    assert outcome["recurred_incident_id"] == second
    assert "scale-out failed verification" in outcome["text"]
    assert "did not hold: this incident fired 116 min after" in outcome["text"]
    assert similar_incidents(store, concurrent, again_at) == []
