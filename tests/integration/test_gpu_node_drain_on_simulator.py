"""GPU-node remediation on the simulated fleet, end to end on real components: the simulator's
dcgm-exporter reports an XID, real Prometheus scrapes it and evaluates the shipped rules, and
Firebreak's services run in process -- ingest of the alert Prometheus raised, triage through
`PrometheusMetricsSource`, planning, approval and the executor's ticks -- against the loopback
Kubernetes API through the real `kubernetes` client, holding a mirror of the simulator's
cluster (its nodes, each pool's Deployment, the model's pods where the simulator placed them, a
dcgm-exporter DaemonSet pod per node, a PodDisruptionBudget per pool).

A hardware XID (79) on one of llama's GPUs yields the gpu-node-drain run, awaiting approval,
naming the simulator's node; approved, the node is cordoned and drained, and verification
reads the model's ready replicas and 5xx ratio from real Prometheus. An application XID (43)
on the reranker's GPU yields no node action.

Driven in process rather than through Celery workers: the runbook's own waits (60 s, checks 30 s
apart) run on a FakeClock, so verification's measurements are taken a moment apart in wall
time, each one a real instant query. The simulator does not see the drain (it has no node
actions): its pod on the faulted GPU keeps crash-looping, so verification passes on the pods
that were serving all along. One simulator and one Prometheus serve the module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from bot.adapters.kubernetes_nodes import CORDONED_BY
from bot.adapters.prometheus import PrometheusMetricsSource
from bot.adapters.redis_guards import RedisGuardStore
from bot.adapters.sql_runs import SqlRunStore
from bot.adapters.sql_store import SqlStore
from bot.bootstrap import build_targets
from bot.correlation.facts import evidence_facts
from bot.demo.monitoring import PROMETHEUS_RULES, RunningProcess, start_prometheus
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.incidents import IncidentStatus
from bot.domain.runbooks import Run, RunState
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import load_directory
from bot.services.ingest_alerts import ingest_alerts
from bot.services.remediate import Remediation
from bot.services.run_journal import StoreRunJournal
from bot.services.triage_incident import TriageWindows, triage_incident
from simulator.server import RunningSimulator, start_in_thread
from tests.fakes.remediation import RecordingTaskQueue, drive
from tests.fakes.runbooks import FakeClock
from tests.payloads import ZERO, body, group
from tests.processes import wait_for
from tests.servers.kubernetes import FakeKubernetes, KubernetesApiServer

LLAMA, RERANKER = "llama-3-70b-instruct", "reranker-v2"
HARDWARE_XID, APPLICATION_XID = 79, 43
NAMESPACE = "genai"
SPEED = 20.0
# Triage looks back the lead plus the baseline from the alert's start: the fleet runs that long
# (in wall seconds, Prometheus scraping every second) before the faults.
WINDOWS = TriageWindows(baseline_s=5.0, lead_s=3.0, step_s=1.0, rate_window_s=5.0)
RUNBOOKS = load_directory(Path(__file__).resolve().parents[2] / "runbooks")
NODE_ACTIONS = {"cordon", "uncordon", "drain"}


@dataclass
class Fleet:
    """The simulator, the Prometheus scraping it, and the fault injected on each model."""

    simulator: RunningSimulator
    prometheus: RunningProcess
    faults: dict[str, dict[str, Any]]
    injected_at: datetime

    def models(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.simulator.url}/control/models", timeout=5)
        answer.raise_for_status()
        models: list[dict[str, Any]] = answer.json()["models"]
        return models

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": promql})
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def firing(self, alertname: str, model: str) -> list[dict[str, Any]]:
        """Prometheus's firing alerts of that name for that model (labels, activeAt, value)."""
        answer = httpx.get(f"{self.prometheus.url}/api/v1/alerts", timeout=5)
        answer.raise_for_status()
        return [
            a
            for a in answer.json()["data"]["alerts"]
            if a["state"] == "firing"
            and a["labels"].get("alertname") == alertname
            and a["labels"].get("model_name") == model
        ]


def first_replica_node(models: list[dict[str, Any]], model: str) -> str:
    described = next(m for m in models if m["model"] == model)
    node: str = described["pools"]["primary"]["replicas"][0]["node"]
    return node


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The fleet at 20x, scraped every second with the shipped rules, run long enough for a
    baseline; then XID 79 on a GPU of llama and XID 43 on a GPU of the reranker."""
    simulator = start_in_thread(port=0, seed=3, speed=SPEED)
    prometheus = start_prometheus(
        tmp_path_factory.mktemp("gpu-drain"), [f"127.0.0.1:{simulator.port}"], [PROMETHEUS_RULES]
    )
    try:
        running = Fleet(simulator, prometheus, {}, datetime.now(UTC))
        history_s = WINDOWS.baseline_s + WINDOWS.lead_s
        wait_for(
            lambda: running.query(f"count_over_time(up[1m]) >= {history_s:g}"),
            timeout_s=history_s + 10,
            interval_s=0.25,
        )
        models = running.models()
        running.injected_at = datetime.now(UTC)
        for model, xid in ((LLAMA, HARDWARE_XID), (RERANKER, APPLICATION_XID)):
            fault = {
                "kind": "gpu_xid",
                "model": model,
                "node": first_replica_node(models, model),
                "xid": xid,
            }
            answer = httpx.post(f"{simulator.url}/faults", json=fault, timeout=5)
            answer.raise_for_status()
            running.faults[model] = answer.json()
        yield running
    finally:
        prometheus.stop()
        simulator.stop()


def mirror(api: FakeKubernetes, models: list[dict[str, Any]]) -> None:
    """The simulator's cluster as its API server holds it: the nodes it placed pods on, each
    pool's Deployment with its replicas and versions, the pods (labelled with their Deployment's
    selector) on their nodes, a PodDisruptionBudget per pool and dcgm-exporter on every node."""
    nodes = sorted({r["node"] for m in models for p in m["pools"].values() for r in p["replicas"]})
    for node in nodes:
        api.add_node(node)
        exporter = ("DaemonSet", "nvidia-dcgm-exporter")
        api.add_pod(f"nvidia-dcgm-exporter-{node}", node, "gpu-operator", exporter)
    for model in models:
        versions = list(dict.fromkeys(v["version"] for v in model["version_history"]))
        for pool in model["pools"].values():
            deployment = pool["deployment"]
            api.add_deployment(deployment, pool["desired_replicas"], versions, NAMESPACE)
            for replica in pool["replicas"]:
                owner = ("ReplicaSet", replica["replicaset"])
                labels = {"app": deployment}
                api.add_pod(replica["pod"], replica["node"], NAMESPACE, owner, labels=labels)
            api.add_pdb(deployment, {"app": deployment}, NAMESPACE, max_unavailable=1)


def write_targets(path: Path, server_url: str, models: list[dict[str, Any]]) -> Path:
    """A targets file naming each model's pools on the (loopback) cluster."""
    targets = [
        {
            "name": model["model"],
            "kind": "kubernetes",
            "host": server_url,
            "namespace": NAMESPACE,
            "pools": {name: {"deployment": p["deployment"]} for name, p in model["pools"].items()},
            "rollback_pool": "primary",
            "drain_retry_interval_s": 0.05,
        }
        for model in models
    ]
    path.write_text(yaml.safe_dump({"targets": targets}), encoding="utf-8")
    return path


@pytest.fixture
def cluster(fleet: Fleet) -> Iterator[KubernetesApiServer]:
    """The loopback Kubernetes API holding the simulator's cluster as it stands now."""
    with KubernetesApiServer() as running:
        mirror(running.api, fleet.models())
        yield running


@dataclass
class Firebreak:
    """Firebreak's services composed in process on real adapters (SQLite, Redis, Prometheus,
    the Kubernetes client); time for the runbooks is a FakeClock starting now."""

    store: SqlStore
    metrics: PrometheusMetricsSource
    clock: FakeClock
    runs: SqlRunStore
    remediation: Remediation
    chart_dir: Path

    def open_incident(self, alert: dict[str, Any]) -> int:
        """Ingest the delivery Alertmanager sends for one alert (grouped by alertname and
        model_name, so the group's common labels are the alert's own)."""
        labels = alert["labels"]
        grouping = {k: labels[k] for k in ("alertname", "model_name")}
        key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in grouping.items()) + "}"
        identity = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        payload = group(
            {
                "status": "firing",
                "labels": labels,
                "annotations": alert.get("annotations", {}),
                "startsAt": alert["activeAt"],
                "endsAt": ZERO,
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": hashlib.sha256(identity.encode()).hexdigest()[:16],
            },
            group_key=key,
            groupLabels=grouping,
            commonLabels=labels,
            commonAnnotations=alert.get("annotations", {}),
        )
        now = datetime.now(UTC)
        result = ingest_alerts(
            self.store,
            AlertGroup.model_validate(payload),
            delivery_hash(body(payload)),
            now,
            timedelta(minutes=30),
        )
        assert result.incident_id is not None
        return result.incident_id

    def triage(self, incident_id: int) -> dict[str, Any]:
        triage_incident(
            self.store,
            self.metrics,
            incident_id,
            datetime.now(UTC),
            self.chart_dir,
            WINDOWS,
        )
        with self.store.transaction() as tx:
            report = tx.triages.get(incident_id)
        assert report is not None
        return report

    def drive(self, run_id: int) -> Run:
        return drive(self.remediation, self.clock, run_id)

    def audit(self, incident_id: int) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return tx.audit.for_incident(incident_id)


@pytest.fixture
def firebreak(
    sqlite_store: SqlStore,
    redis_url: str,
    fleet: Fleet,
    cluster: KubernetesApiServer,
    tmp_path: Path,
) -> Iterator[Firebreak]:
    targets = build_targets(write_targets(tmp_path / "targets.yml", cluster.url, fleet.models()))
    metrics = PrometheusMetricsSource(fleet.prometheus.url, timeout_s=10)
    guard_redis = redis.Redis.from_url(redis_url)
    clock = FakeClock(datetime.now(UTC))
    runs = SqlRunStore.on(sqlite_store)
    guards = Guards(RedisGuardStore(guard_redis), clock)
    journal = StoreRunJournal(sqlite_store, clock)
    executor = RunbookExecutor(runs, targets, guards, metrics, journal, clock)
    tasks = RecordingTaskQueue()
    remediation = Remediation(sqlite_store, runs, RUNBOOKS, targets, guards, executor, tasks, clock)
    yield Firebreak(sqlite_store, metrics, clock, runs, remediation, tmp_path / "charts")
    metrics.close()
    guard_redis.close()


def node_calls(api: FakeKubernetes) -> list[str]:
    """Requests that change a node or evict a pod."""
    return [
        f"{c.method} {c.path}"
        for c in api.calls
        if (c.method == "PATCH" and c.path.startswith("/api/v1/nodes/"))
        or c.path.endswith("/eviction")
    ]


def fault_pod(fleet: Fleet, node: str) -> str:
    """The llama pod the simulator placed on `node`."""
    llama = next(m for m in fleet.models() if m["model"] == LLAMA)
    [pod] = [r["pod"] for p in llama["pools"].values() for r in p["replicas"] if r["node"] == node]
    return str(pod)


def measured(audit: list[dict[str, Any]]) -> list[float | None]:
    return [row["detail"]["value"] for row in audit if row["action"] == "verify_measured"]


def test_hardware_xid_drains_the_simulators_node_after_approval(
    fleet: Fleet, cluster: KubernetesApiServer, firebreak: Firebreak
) -> None:
    """XID 79 on llama's GPU: the shipped rule fires naming the node, triage blames the GPU
    through real Prometheus, and the drain run waits for approval naming that node; approved,
    the node is cordoned and drained of the model's pod (dcgm-exporter stays), and verification
    passes on the ready replicas and 5xx ratio Prometheus reads from the simulator."""
    fault = fleet.faults[LLAMA]
    node, gpu = fault["node"], fault["gpu"]
    wait_for(lambda: fleet.firing("GPUXidError", LLAMA), timeout_s=15)
    [alert] = fleet.firing("GPUXidError", LLAMA)
    assert (alert["labels"]["Hostname"], alert["labels"]["gpu"]) == (node, gpu)
    assert float(alert["value"]) == HARDWARE_XID

    incident_id = firebreak.open_incident(alert)
    report = firebreak.triage(incident_id)
    assert report["hypotheses"][0]["kind"] == "gpu_fault", report["hypotheses"]
    facts = evidence_facts(report)
    assert (facts["xid"], facts["xid_class"], facts["node"]) == (
        str(HARDWARE_XID),
        "hardware",
        node,
    )

    outcomes = {o.runbook: o for o in firebreak.remediation.plan_incident(incident_id)}
    assert outcomes["gpu-node-drain"].outcome == "created", outcomes
    # Failover matches the alert too; the drain, matched on evidence, ranks first and holds the
    # target, so the failover is skipped (one run per target).
    assert outcomes["failover"].outcome == "skipped", outcomes
    run = firebreak.runs.load(outcomes["gpu-node-drain"].run_id or 0)
    assert run is not None
    assert run.state is RunState.AWAITING_APPROVAL
    assert [s.params.get("node") for s in run.steps if s.action == "drain"] == [node]
    assert node_calls(cluster.api) == []

    firebreak.remediation.approve(run.id or 0, "U-ONCALL")
    done = firebreak.drive(run.id or 0)
    assert done.state is RunState.SUCCEEDED, done.reason
    cordoned = cluster.api.get("nodes", "", node)
    assert cordoned["spec"]["unschedulable"] is True
    assert cordoned["metadata"]["annotations"][CORDONED_BY] == "firebreak"
    assert cluster.api.evictions == [f"{NAMESPACE}/{fault_pod(fleet, node)}"]
    assert cluster.api.pods_on(node) == [f"gpu-operator/nvidia-dcgm-exporter-{node}"]
    others = [n for (kind, _, n) in cluster.api.objects if kind == "nodes" and n != node]
    assert all(not cluster.api.get("nodes", "", n)["spec"].get("unschedulable") for n in others)

    # The drain step's check (3 measurements) then the run's verification (4), as shipped: the
    # ready replicas are the simulator's own (its pod on the broken GPU is not ready), and the
    # 5xx ratio is a number, not "no data", under 2%.
    values = measured(firebreak.audit(incident_id))
    assert len(values) == 7, values
    llama = next(m for m in fleet.models() if m["model"] == LLAMA)
    ready = sum(p["ready_replicas"] for p in llama["pools"].values())
    assert values[:3] == [ready] * 3 == [6.0] * 3
    assert all(r is not None and 0 <= r < 0.02 for r in values[3:]), values
    with firebreak.store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
    assert incident is not None
    assert incident.status is IncidentStatus.MITIGATED


def test_application_xid_yields_no_node_action(
    fleet: Fleet, cluster: KubernetesApiServer, firebreak: Firebreak
) -> None:
    """XID 43 on the reranker's GPU: the shipped rule leaves it out, and an incident opened on
    it anyway (an alert naming the GPU and its node) is triaged as the program's fault, never
    the node's: no run acts on a node and the cluster sees no cordon or eviction."""
    fault = fleet.faults[RERANKER]
    node = fault["node"]
    reported = f'DCGM_FI_DEV_XID_ERRORS{{Hostname="{node}"}} == {APPLICATION_XID}'
    wait_for(lambda: fleet.query(reported), timeout_s=10)
    [series] = fleet.query(reported)
    assert fleet.firing("GPUXidError", RERANKER) == []
    labels = {k: v for k, v in series["metric"].items() if k != "__name__"} | {
        "alertname": "GPUXidError",
        "model_name": RERANKER,
        "severity": "critical",
    }
    # As a rule on the raw gauge would fire: at the first evaluation after the XID's scrape.
    started = fleet.injected_at + timedelta(seconds=1)
    alert = {"labels": labels, "activeAt": started.isoformat().replace("+00:00", "Z")}

    incident_id = firebreak.open_incident(alert)
    report = firebreak.triage(incident_id)
    xid = next(f for f in report["findings"] if f["signal"] == "xid_errors")
    assert (xid["status"], xid["peak"]) == ("moved", APPLICATION_XID)
    assert xid["series_labels"]["Hostname"] == node
    blamed = [h["kind"] for h in report["hypotheses"] if "xid_errors" in h["evidence"]]
    assert blamed == ["bad_deploy"], report["hypotheses"]
    assert report["hypotheses"][0]["kind"] != "gpu_fault", report["hypotheses"]
    assert "node" not in evidence_facts(report)

    outcomes = firebreak.remediation.plan_incident(incident_id)
    assert "gpu-node-drain" not in {o.runbook for o in outcomes}
    runs = firebreak.runs.for_incident(incident_id)
    assert not [s for r in runs for s in [*r.steps, *r.revert_steps] if s.action in NODE_ACTIONS]
    assert node_calls(cluster.api) == []
    assert not cluster.api.get("nodes", "", node)["spec"].get("unschedulable")
