"""What node and restart steps plan against: the nodes the steps name and the pools they
restart, read through the target's cluster and added to its state. A target without a
cluster adds nothing, and those steps then refuse to plan."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.runbooks import RunStep, TargetState
from bot.runbook.actions import restart
from bot.runbook.targets import BoundTarget


def observe(bound: BoundTarget, state: TargetState, steps: Iterable[RunStep]) -> TargetState:
    """`state` with every node named by a step's `node` param, and every pool a restart names."""
    if bound.cluster is None:
        return state
    nodes = dict(state.nodes)
    restarted = dict(state.restarted_at)
    for step in steps:
        node = step.params.get("node")
        if isinstance(node, str) and node and node not in nodes:
            nodes[node] = bound.cluster.node_state(node)
        if step.action == restart.NAME:
            pool = str(step.params.get("pool", "primary"))
            if pool not in restarted:
                restarted[pool] = bound.cluster.restarted_at(bound.model, pool)
    return state.model_copy(update={"nodes": nodes, "restarted_at": restarted})
