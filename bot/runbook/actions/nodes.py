"""What the node actions share: the node's observed state and the cluster to act through."""

from __future__ import annotations

from bot.domain.runbooks import NodeState, TargetState
from bot.ports import ClusterTarget
from bot.runbook.actions.contract import ApplyContext
from bot.runbook.errors import PlanError

NODE_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def node_of(state: TargetState, node: str) -> NodeState:
    """The named node as observed; PlanError when the target could not show it."""
    found = state.nodes.get(node)
    if found is None:
        raise PlanError(f"node {node!r} is not known to the target (node actions need Kubernetes)")
    return found


def cluster_of(context: ApplyContext) -> ClusterTarget:
    if context.cluster is None:
        raise PlanError("this target has no cluster to act on (node actions need Kubernetes)")
    return context.cluster
