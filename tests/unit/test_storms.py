"""Storms: incidents on one scope relate through one bounded record, and triage stays linear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.storms import (
    LEAD_NOTE_AT,
    MAX_ALERT_NAMES,
    MAX_SHOWN_MEMBERS,
    Storm,
    StormMember,
    storm_scope,
)
from bot.domain.timeline import EventKind
from bot.services.ingest_alerts import ingest_alerts
from bot.services.triage_incident import triage_incident
from tests.payloads import body

START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def node_group(index: int, at: datetime = START, **labels: str) -> dict[str, Any]:
    """A one-alert group scoped by its node and `labels` (no model unless given)."""
    alert_labels = {"alertname": f"GPUAlert{index % 60}", "Hostname": f"node-{index}", **labels}
    return {
        "version": "4",
        "groupKey": f"node-{index}-{sorted(labels.items())}",
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"Hostname": f"node-{index}"},
        "commonLabels": alert_labels,
        "commonAnnotations": {},
        "alerts": [
            {
                "status": "firing",
                "labels": alert_labels,
                "annotations": {},
                "startsAt": at.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{index:016x}{len(labels)}",
            }
        ],
    }


def ingest(store: SqlStore, payload: dict[str, Any], now: datetime = START) -> int:
    group = AlertGroup.model_validate(payload)
    result = ingest_alerts(store, group, delivery_hash(body(payload)), now, timedelta(minutes=30))
    return result.incident_ids[0]


def triage(store: SqlStore, incident_id: int, tmp_path: Path) -> dict[str, Any]:
    triage_incident(store, UnconfiguredMetricsSource(), incident_id, START, tmp_path)
    with store.transaction() as tx:
        document = tx.triages.get(incident_id)
    assert document is not None
    return document


def notes(store: SqlStore, incident_id: int) -> list[str]:
    with store.transaction() as tx:
        events = tx.timeline.for_incident(incident_id)
    return [e.message for e in events if e.kind is EventKind.NOTE]


def outbox_rows(store: SqlStore) -> int:
    with store.transaction() as tx:
        return len(tx.outbox.pending())


def test_scope_is_the_model_else_the_pool_else_the_node_never_a_fleet_label() -> None:
    """A model's incident relates on its model; without one on its node pool, else its node;
    `service`, `namespace` or `cluster` alone relate nothing."""
    fleet = {"service": "llm-serving", "namespace": "serving", "cluster": "prod"}
    assert storm_scope({**fleet, "model_name": "llama", "Hostname": "n1"}) == "model_name=llama"
    pool = {**fleet, "label_karpenter_sh_nodepool": "h100", "Hostname": "n1"}
    assert storm_scope(pool) == "label_karpenter_sh_nodepool=h100"
    assert storm_scope({**fleet, "Hostname": "n1"}) == "Hostname=n1"
    assert storm_scope({**fleet, "node": "n2"}) == "node=n2"
    assert storm_scope(fleet) is None


def test_a_storm_record_stays_bounded_however_large() -> None:
    """Three hundred members: the size is exact, shown members and alert names are capped."""
    storm = Storm.open("service=s", StormMember(1, "first"), {"A0"}, START)
    for i in range(2, 301):
        storm = storm.joined(StormMember(i, f"t{i}"), {f"A{i}"}, START + timedelta(seconds=i))
    assert storm.size == 300
    assert len(storm.members) == MAX_SHOWN_MEMBERS
    assert len(storm.alert_names) == MAX_ALERT_NAMES
    assert "A0" in storm.alert_names
    assert storm.describe(1).endswith("INC-6 (t6) and 294 more")
    assert Storm.from_dict(storm.to_dict()) == storm


def test_storm_on_one_pool_costs_each_incident_a_constant(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Forty incidents on forty nodes of one pool: one note each, a few on the lead, five tasks
    per triage."""
    ids = [
        ingest(sqlite_store, node_group(i, pool="h100", service="llm-serving")) for i in range(40)
    ]
    before = outbox_rows(sqlite_store)
    documents = [triage(sqlite_store, i, tmp_path) for i in ids]
    lead_notes = [n for n in LEAD_NOTE_AT if n <= 40]
    assert sum(len(notes(sqlite_store, i)) for i in ids) == 39 + len(lead_notes)
    assert len(notes(sqlite_store, ids[0])) == len(lead_notes)
    assert all(len(notes(sqlite_store, i)) == 1 for i in ids[1:])
    assert outbox_rows(sqlite_store) - before == 2 * 40 + len(lead_notes)
    last = documents[-1]
    assert (last["storm"]["size"], last["storm"]["lead"]) == (40, ids[0])
    assert len(last["related_incidents"]) == MAX_SHOWN_MEMBERS
    assert {"GPUAlert0", "GPUAlert39"} <= set(last["storm"]["alert_names"])


def test_triaging_again_does_not_join_again(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """A follow-up or redelivered triage reads its storm; no new member, note or task for it."""
    first = ingest(sqlite_store, node_group(1, pool="h100", service="llm-serving"))
    second = ingest(sqlite_store, node_group(2, pool="h100", service="llm-serving"))
    triage(sqlite_store, first, tmp_path)
    triage(sqlite_store, second, tmp_path)
    again = triage(sqlite_store, second, tmp_path)
    assert again["storm"]["size"] == 2
    assert again["related_incidents"] == [first]
    assert len(notes(sqlite_store, second)) == 1
    assert len(notes(sqlite_store, first)) == 1


def test_models_relate_on_their_model_only(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """Incidents of different models on one service are unrelated, and so are service-only ones
    on other nodes."""
    llama = ingest(sqlite_store, node_group(1, model_name="llama", service="llm-serving"))
    reranker = ingest(sqlite_store, node_group(2, model_name="reranker", service="llm-serving"))
    node = ingest(sqlite_store, node_group(3, service="llm-serving"))
    llama_again = ingest(sqlite_store, node_group(4, model_name="llama", service="llm-serving"))
    for incident_id in (llama, reranker, node):
        assert triage(sqlite_store, incident_id, tmp_path)["related_incidents"] == []
    assert triage(sqlite_store, llama_again, tmp_path)["related_incidents"] == [llama]
    assert notes(sqlite_store, reranker) == notes(sqlite_store, node) == []


def test_an_incident_after_the_window_opens_a_new_storm(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Two hours after a storm's last incident, the next one on its scope leads a storm of one."""
    early = ingest(sqlite_store, node_group(1, pool="a100", service="svc"))
    late = ingest(
        sqlite_store, node_group(2, START + timedelta(hours=2), pool="a100", service="svc")
    )
    triage(sqlite_store, early, tmp_path)
    document = triage(sqlite_store, late, tmp_path)
    assert (document["storm"]["lead"], document["storm"]["size"]) == (late, 1)
    assert document["related_incidents"] == []


def test_fleet_wide_labels_relate_nothing_nodes_and_pools_do(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Five node alerts sharing only `service` and `namespace` stay unrelated; a second alert on
    one of those nodes joins that node's storm; nodes of one pool relate through the pool."""
    fleet = {"service": "llm-serving", "namespace": "serving"}
    nodes = [ingest(sqlite_store, node_group(i, **fleet)) for i in range(5)]
    for incident_id in nodes:
        assert triage(sqlite_store, incident_id, tmp_path)["related_incidents"] == []
    again = node_group(2, **fleet)
    again["groupKey"] = "node-2-thermal"
    again["alerts"][0]["labels"]["alertname"] = "GPUThermalThrottle"
    again["alerts"][0]["fingerprint"] = "thermal-node-2"
    same_node = ingest(sqlite_store, again)
    document = triage(sqlite_store, same_node, tmp_path)
    assert document["storm"]["scope"] == "Hostname=node-2"
    assert document["related_incidents"] == [nodes[2]]
    pooled = [
        ingest(sqlite_store, node_group(i, label_eks_amazonaws_com_nodegroup="gpu-a", **fleet))
        for i in (10, 11)
    ]
    triage(sqlite_store, pooled[0], tmp_path)
    assert triage(sqlite_store, pooled[1], tmp_path)["related_incidents"] == [pooled[0]]
