"""A GPU-fault incident through triage, planning, approval and the drain, against the loopback
Kubernetes API through the real client: a hardware XID yields the gpu-node-drain run awaiting
approval naming the node; approved, the node is cordoned and drained and verification passes
on the model's ready replicas and error ratio; failed verification uncordons it; an
application XID yields no node action."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.adapters.kubernetes_nodes import CORDONED_BY
from bot.adapters.kubernetes_target import KubernetesTarget
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.runbooks import Run, RunState
from bot.domain.signals import Series
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import load_directory
from bot.runbook.targets import KubernetesTargetConfig, TargetRegistry
from bot.services.remediate import Remediation
from bot.services.run_journal import StoreRunJournal
from tests.fakes.remediation import FakeRunIndex, RecordingTaskQueue, drive
from tests.fakes.runbooks import FakeClock, FakeGuardStore
from tests.servers.kubernetes import KubernetesApiServer
from tests.unit.test_xid_catalogue import LABELS, NODE, triage_with_xid

RUNBOOKS = load_directory(Path(__file__).resolve().parents[2] / "runbooks")
MODEL = LABELS["model_name"]
NS = "genai"
ALERT = {"alertname": "GPUXidError", "model_name": MODEL, "Hostname": NODE, "gpu": "3"}


class ClusterMetrics:
    """Verification answers read off the loopback cluster: ready replicas are the model's pods
    on schedulable nodes; the error ratio is `error_ratio`, None for no traffic (NaN)."""

    def __init__(self, server: KubernetesApiServer, error_ratio: float | None) -> None:
        self.server = server
        self.error_ratio = error_ratio
        self.queries: list[str] = []

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        self.queries.append(promql)
        if "kube_pod_status_ready" in promql:
            api = self.server.api
            schedulable = {
                name
                for (kind, _, name), node in api.objects.items()
                if kind == "nodes" and not node["spec"].get("unschedulable")
            }
            ready = [
                pod
                for pod in api.pods_matching(NS, {"app": "llama"})
                if pod["spec"]["nodeName"] in schedulable
            ]
            return [Series(labels={}, points=[(0.0, float(len(ready)))])]
        if self.error_ratio is None:
            return []
        return [Series(labels={}, points=[(0.0, self.error_ratio)])]

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        return []


@pytest.fixture
def cluster() -> Iterator[KubernetesApiServer]:
    """The model's pods on the faulted node and a healthy peer, beside a DaemonSet pod."""
    with KubernetesApiServer() as running:
        api = running.api
        api.add_deployment("llama-primary", 2, ["v1.4.2"], NS)
        api.add_deployment("llama-secondary", 2, ["v1.4.2"], NS)
        for name in (NODE, "gpu-node-08"):
            api.add_node(name)
        owner = ("ReplicaSet", "llama-primary-h1")
        api.add_pod("llama-primary-h1-a", NODE, NS, owner, labels={"app": "llama"})
        api.add_pod("llama-primary-h1-b", "gpu-node-08", NS, owner, labels={"app": "llama"})
        api.add_pod("dcgm-exporter-x1", NODE, "gpu-operator", ("DaemonSet", "dcgm-exporter"))
        yield running


@dataclass
class Rig:
    store: SqlStore
    clock: FakeClock
    runs: FakeRunIndex
    remediation: Remediation

    def incident(self, xid: int) -> int:
        """An incident whose stored triage is correlate()'s report on a GPU showing `xid`."""
        report = triage_with_xid(xid).to_dict()
        with self.store.transaction() as tx:
            incident = tx.incidents.add(
                Incident(
                    id=0,
                    receiver="firebreak",
                    group_key=f"group-{xid}",
                    title="GPUXidError",
                    severity=Severity.CRITICAL,
                    status=IncidentStatus.TRIGGERED,
                    triggered_at=self.clock(),
                    labels=ALERT,
                )
            )
            tx.triages.save(incident.id, report)
        return incident.id

    def drive(self, run_id: int) -> Run:
        return drive(self.remediation, self.clock, run_id)

    def audit(self, incident_id: int) -> list[str]:
        with self.store.transaction() as tx:
            return [row["action"] for row in tx.audit.for_incident(incident_id)]


def make_rig(store: SqlStore, server: KubernetesApiServer, error_ratio: float | None) -> Rig:
    config = KubernetesTargetConfig.model_validate(
        {
            "kind": "kubernetes",
            "name": MODEL,
            "host": server.url,
            "namespace": NS,
            "pools": {
                "primary": {"deployment": "llama-primary"},
                "secondary": {"deployment": "llama-secondary"},
            },
            "rollback_pool": "primary",
            "drain_retry_interval_s": 0.05,
        }
    )
    registry = TargetRegistry.build([config], KubernetesTarget)
    clock = FakeClock()
    runs = FakeRunIndex()
    guards = Guards(FakeGuardStore(), clock)
    metrics = ClusterMetrics(server, error_ratio)
    journal = StoreRunJournal(store, clock)
    executor = RunbookExecutor(runs, registry, guards, metrics, journal, clock)
    remediation = Remediation(
        store, runs, RUNBOOKS, registry, guards, executor, RecordingTaskQueue(), clock
    )
    return Rig(store, clock, runs, remediation)


def drain_run(rig: Rig, incident_id: int) -> Run:
    outcomes = rig.remediation.plan_incident(incident_id)
    created = [o for o in outcomes if o.runbook == "gpu-node-drain"]
    assert [o.outcome for o in created] == ["created"]
    run = rig.runs.load(created[0].run_id or 0)
    assert run is not None
    return run


def test_hardware_xid_drains_the_named_node_after_approval(
    sqlite_store: SqlStore, cluster: KubernetesApiServer
) -> None:
    """XID 79: the drain run waits for approval naming the node; approved, it cordons and
    drains it, the model's pods move, and verification succeeds and mitigates."""
    rig = make_rig(sqlite_store, cluster, error_ratio=0.001)
    incident_id = rig.incident(79)
    run = drain_run(rig, incident_id)
    assert run.state is RunState.AWAITING_APPROVAL
    assert run.steps[1].action == "drain"
    assert run.steps[1].params["node"] == NODE
    assert run.revert_steps[0].params == {"node": NODE}
    assert cluster.api.get("nodes", "", NODE)["spec"].get("unschedulable") is None
    rig.remediation.approve(run.id or 0, "U123")
    done = rig.drive(run.id or 0)
    assert done.state is RunState.SUCCEEDED, done.reason
    node = cluster.api.get("nodes", "", NODE)
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"][CORDONED_BY] == "firebreak"
    assert cluster.api.evictions == [f"{NS}/llama-primary-h1-a"]
    assert cluster.api.pods_on(NODE) == ["gpu-operator/dcgm-exporter-x1"]
    assert {"run_approved", "step_completed", "node_drained"} <= set(rig.audit(incident_id))
    with sqlite_store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
    assert incident is not None
    assert incident.status is IncidentStatus.MITIGATED


def test_failed_verification_uncordons_the_node(
    sqlite_store: SqlStore, cluster: KubernetesApiServer
) -> None:
    """Errors still high after the drain: the run reverts and the node takes pods again."""
    rig = make_rig(sqlite_store, cluster, error_ratio=0.2)
    run = drain_run(rig, rig.incident(48))
    rig.remediation.approve(run.id or 0, "U123")
    done = rig.drive(run.id or 0)
    assert done.state is RunState.REVERTED, done.reason
    node = cluster.api.get("nodes", "", NODE)
    assert node["spec"]["unschedulable"] is False
    assert CORDONED_BY not in node["metadata"]["annotations"]


def test_application_xid_yields_no_node_action(
    sqlite_store: SqlStore, cluster: KubernetesApiServer
) -> None:
    """XID 13 is the program's fault: no drain run is planned and no node is touched."""
    rig = make_rig(sqlite_store, cluster, error_ratio=0.001)
    incident_id = rig.incident(13)
    outcomes = rig.remediation.plan_incident(incident_id)
    assert "gpu-node-drain" not in {o.runbook for o in outcomes}
    assert all(r.runbook != "gpu-node-drain" for r in rig.runs.for_incident(incident_id))
    assert cluster.api.get("nodes", "", NODE)["spec"].get("unschedulable") is None
    assert not [c for c in cluster.api.calls if c.method in ("PATCH", "POST")]
