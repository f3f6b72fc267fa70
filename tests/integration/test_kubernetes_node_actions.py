"""Node actions through the real `kubernetes` client against the loopback API server: cordon,
uncordon, drain (DaemonSet and mirror pods stay, PodDisruptionBudgets are honoured and their
refusals reported), their guards, and rollout restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.kubernetes_nodes import CORDONED_BY
from bot.adapters.kubernetes_target import RESTARTED_AT, KubernetesTarget
from bot.domain.runbooks import OnFailure, RunStep, TargetState
from bot.runbook.actions import cordon, drain, restart, uncordon
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.errors import PlanError, TargetError
from bot.runbook.observe import observe
from bot.runbook.targets import BoundTarget, KubernetesTargetConfig
from tests.servers.kubernetes import KubernetesApiServer

NS = "serving"
MODEL = "llama-3-8b"
BAD = "gpu-node-07"
POOL = "NVIDIA-H100-80GB-HBM3"


@pytest.fixture
def server() -> Iterator[KubernetesApiServer]:
    """Three H100 nodes; the model's two pods on gpu-node-07 beside a DaemonSet and a mirror pod."""
    with KubernetesApiServer() as running:
        api = running.api
        api.add_deployment("llama", 3, ["v1.3.0", "v1.4.2"], NS)
        for name in (BAD, "gpu-node-08", "gpu-node-09"):
            api.add_node(name, pool=POOL)
        api.add_node("cpu-node-01", gpus=0)
        api.add_pod("llama-h2-a", BAD, labels={"app": "llama"})
        api.add_pod("llama-h2-b", BAD, labels={"app": "llama"})
        api.add_pod("llama-h2-c", "gpu-node-08", labels={"app": "llama"})
        api.add_pod("dcgm-exporter-x1", BAD, "gpu-operator", owner=("DaemonSet", "dcgm"))
        api.add_pod("kube-proxy-gpu-node-07", BAD, "kube-system", owner=("Node", BAD), mirror=True)
        api.add_pod("warmup-job-1", BAD, owner=("Job", "warmup"), phase="Succeeded")
        yield running


def make_target(server: KubernetesApiServer, **overrides: Any) -> KubernetesTarget:
    values: dict[str, Any] = {
        "kind": "kubernetes",
        "name": MODEL,
        "host": server.url,
        "namespace": NS,
        "pools": {"primary": {"deployment": "llama"}},
        "drain_retry_interval_s": 0.05,
        **overrides,
    }
    return KubernetesTarget(KubernetesTargetConfig.model_validate(values))


def run_step(action: str, **params: Any) -> RunStep:
    return RunStep(action=action, params=params, timeout_s=60.0, on_failure=OnFailure.ABORT)


def bound(target: KubernetesTarget) -> BoundTarget:
    return BoundTarget(MODEL, MODEL, target, target)


def plan_node_step(target: KubernetesTarget, module: Any, **params: Any) -> Any:
    """Plan one node step as the executor does: the target's state with the named node read."""
    step = run_step(module.NAME, **params)
    state = observe(bound(target), target.get_state(MODEL), [step])
    return module.plan(module.Params.model_validate(params), state, PlanContext())


def apply_step(target: KubernetesTarget, module: Any, step_plan: Any, **params: Any) -> Any:
    context = ApplyContext(target=target, model=MODEL, now=datetime.now(UTC), cluster=target)
    return module.apply(module.Params.model_validate(params), step_plan, context)


def test_cordon_marks_the_node_as_firebreaks_and_uncordon_clears_it(
    server: KubernetesApiServer,
) -> None:
    """Cordon sets spec.unschedulable with Firebreak's annotation; uncordon removes both."""
    target = make_target(server)
    apply_step(target, cordon, plan_node_step(target, cordon, node=BAD), node=BAD)
    node = server.api.get("nodes", "", BAD)
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"][CORDONED_BY] == "firebreak"
    assert target.node_state(BAD).cordoned_by_firebreak
    apply_step(target, uncordon, plan_node_step(target, uncordon, node=BAD), node=BAD)
    node = server.api.get("nodes", "", BAD)
    assert node["spec"]["unschedulable"] is False
    assert CORDONED_BY not in node["metadata"]["annotations"]


def test_uncordon_leaves_a_node_someone_else_cordoned(server: KubernetesApiServer) -> None:
    """A node an operator cordoned is not Firebreak's to uncordon: the plan changes nothing."""
    server.api.get("nodes", "", "gpu-node-09")["spec"]["unschedulable"] = True
    plan = plan_node_step(make_target(server), uncordon, node="gpu-node-09")
    assert not plan.changes_target
    assert "not cordoned by Firebreak" in plan.description


def test_drain_evicts_workload_pods_and_skips_daemonset_mirror_and_finished(
    server: KubernetesApiServer,
) -> None:
    """kubectl drain's rules: the model's pods are evicted; DaemonSet, mirror and done pods stay."""
    target = make_target(server)
    plan = plan_node_step(target, drain, node=BAD, timeout_s=5)
    assert plan.current["pods"] == [f"{NS}/llama-h2-a", f"{NS}/llama-h2-b"]
    result = target.drain(BAD, timeout_s=5)
    assert result.complete
    assert result.evicted == (f"{NS}/llama-h2-a", f"{NS}/llama-h2-b")
    assert set(result.skipped) == {
        "gpu-operator/dcgm-exporter-x1",
        "kube-system/kube-proxy-gpu-node-07",
        f"{NS}/warmup-job-1",
    }
    assert server.api.get("nodes", "", BAD)["spec"]["unschedulable"] is True
    assert server.api.evictions == [f"{NS}/llama-h2-a", f"{NS}/llama-h2-b"]
    assert f"{NS}/llama-h2-a" not in server.api.pods_on(BAD)
    evicted_posts = [c for c in server.api.calls if c.path.endswith("/eviction")]
    assert all(c.body["kind"] == "Eviction" for c in evicted_posts)


def test_a_repeated_drain_changes_nothing(server: KubernetesApiServer) -> None:
    """Drained once, the node is in the desired state: the plan has nothing to do, and a second
    drain evicts nothing."""
    target = make_target(server)
    target.drain(BAD, timeout_s=5)
    assert not plan_node_step(target, drain, node=BAD).changes_target
    again = target.drain(BAD, timeout_s=5)
    assert again.evicted == ()
    assert again.complete
    assert len(server.api.evictions) == 2


def test_a_disruption_budget_refusal_is_retried_then_reported(
    server: KubernetesApiServer,
) -> None:
    """A PDB answering 429 is retried until the timeout; the step fails naming pod and budget."""
    server.api.replace_evicted = False
    server.api.add_pdb("llama", {"app": "llama"}, NS, min_available=2)
    target = make_target(server)
    plan = plan_node_step(target, drain, node=BAD, timeout_s=0.5)
    with pytest.raises(TargetError) as refused:
        apply_step(target, drain, plan, node=BAD, timeout_s=0.5)
    message = str(refused.value)
    assert "not evicted" in message
    assert "disruption budget llama needs 2 healthy pods" in message
    assert len(server.api.evictions) == 1
    assert f"{NS}/llama-h2-b: eviction refused by a PodDisruptionBudget" in message
    retries = [c for c in server.api.calls if c.path.endswith("/llama-h2-b/eviction")]
    assert len(retries) > 1
    assert len(server.api.pods_on(BAD)) == 4  # one model pod, DaemonSet, mirror, finished


def test_cordon_refuses_the_last_schedulable_gpu_node_of_a_pool(
    server: KubernetesApiServer,
) -> None:
    """With the pool's other GPU nodes cordoned by an operator, the last one is never cordoned."""
    for other in ("gpu-node-08", "gpu-node-09"):
        server.api.get("nodes", "", other)["spec"]["unschedulable"] = True
    target = make_target(server)
    with pytest.raises(PlanError, match=f"{BAD} is the last schedulable GPU node of pool {POOL}"):
        plan_node_step(target, cordon, node=BAD)
    with pytest.raises(PlanError, match="last schedulable GPU node"):
        plan_node_step(target, drain, node=BAD)
    assert not server.api.get("nodes", "", BAD)["spec"].get("unschedulable")


def test_cordon_refuses_past_the_limit_of_nodes_held_by_firebreak(
    server: KubernetesApiServer,
) -> None:
    """At most max_cordoned_nodes cordoned by Firebreak at once: the next cordon is refused."""
    target = make_target(server, max_cordoned_nodes=1)
    target.set_unschedulable("gpu-node-09", True)
    with pytest.raises(PlanError, match=r"already holds 1 node\(s\) cordoned \(max 1\)"):
        plan_node_step(target, cordon, node=BAD)


def test_a_not_ready_node_does_not_count_as_schedulable(server: KubernetesApiServer) -> None:
    """Pool peers that are NotReady cannot take the pods: the node counts as the last one."""
    for other in ("gpu-node-08", "gpu-node-09"):
        conditions = server.api.get("nodes", "", other)["status"]["conditions"]
        conditions[0]["status"] = "False"
    assert make_target(server).node_state(BAD).other_schedulable_gpu_nodes == 0


def test_restart_stamps_restarted_at_once_per_run(server: KubernetesApiServer) -> None:
    """A rollout restart stamps the template's restartedAt; the same run's repeat is a no-op."""
    target = make_target(server)
    started = datetime(2025, 5, 1, 12, 0, 5, tzinfo=UTC)
    step = run_step(restart.NAME, pool="primary")
    state = observe(bound(target), target.get_state(MODEL), [step])
    context = PlanContext(run_started_at=started)
    plan = restart.plan(restart.Params(), state, context)
    assert plan.changes_target
    apply_step(target, restart, plan)
    template = server.api.get("deployments", NS, "llama")["spec"]["template"]
    assert template["metadata"]["annotations"][RESTARTED_AT] == "2025-05-01T12:00:05Z"
    again = observe(bound(target), target.get_state(MODEL), [step])
    assert not restart.plan(restart.Params(), again, context).changes_target


def make_target_free() -> Any:
    """Any Target without a cluster: its state is all a node step would see."""

    class NoCluster:
        def get_state(self, model: str) -> TargetState:
            return TargetState()

    return NoCluster()


def test_node_actions_refuse_without_a_cluster() -> None:
    """A target without a cluster (the HTTP control API) cannot plan node actions."""
    without = BoundTarget(MODEL, MODEL, make_target_free(), None)
    state = observe(without, TargetState(), [run_step(cordon.NAME, node=BAD)])
    assert state.nodes == {}
    with pytest.raises(PlanError, match="node actions need Kubernetes"):
        cordon.plan(cordon.Params(node=BAD), state, PlanContext())
