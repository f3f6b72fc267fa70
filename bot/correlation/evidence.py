"""Evidence read from the topology itself: rollouts and engines that died.

A rollout is a new ReplicaSet (kube-state-metrics' `created_by_name`, else the ReplicaSet in a
Deployment pod's name) whose first pod appears inside the window while another one served in
the baseline; its image tags name the versions. A scale-out adds pods to the same ReplicaSet
and is no rollout.

A deploy announced as a change (POST /api/v1/changes, bot/domain/changes.py) inside the
window outranks an inferred rollout: the finding names the change, its version and source,
with what the pods show beside it, and dates from when the new pods began serving if they did
after the announcement (else from the announcement). A held change did not go out and counts
for nothing.

An engine died when its vLLM series ended inside the window while its pod lived on (still
listed, not ready, or restarting), or when a pod that served before the window is now not ready
and restarting: a pod deleted by a rollout or scale-in ends with its listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.correlation.scoring import to_datetime
from bot.correlation.topology import Pod, Topology, replicaset_of
from bot.domain.changes import Change, ChangeKind
from bot.domain.findings import Direction, Finding, FindingStatus

ROLLOUT = "rollout"
ENGINE_DIED = "engine_died"
ENDED_STEPS = 1.5  # a series this many steps short of the end has ended


def _first(pod: Pod) -> float | None:
    return pod.first_seen if pod.first_seen is not None else pod.listed_until


def rollout_finding(topology: Topology, split_ts: float) -> Finding:
    """Moved when a ReplicaSet new since `split_ts` replaced the one serving before it."""
    by_replicaset: dict[str, list[Pod]] = {}
    for pod in topology.pods:
        replicaset = replicaset_of(pod)
        if replicaset:
            by_replicaset.setdefault(replicaset, []).append(pod)
    if not by_replicaset:
        reason = (
            "no pods found" if not topology.pods else "no ReplicaSet known for the model's pods"
        )
        return Finding(ROLLOUT, ROLLOUT, "", FindingStatus.INCONCLUSIVE, reason)
    first_seen = {
        rs: min((t for p in pods if (t := _first(p)) is not None), default=None)
        for rs, pods in by_replicaset.items()
    }
    before = sorted(rs for rs, t in first_seen.items() if t is not None and t < split_ts)
    new = sorted(
        ((t, rs) for rs, t in first_seen.items() if t is not None and t >= split_ts),
    )
    if not before:
        return Finding(
            ROLLOUT, ROLLOUT, "", FindingStatus.INCONCLUSIVE, "no pod served before the window"
        )
    if not new:
        return Finding(
            ROLLOUT,
            ROLLOUT,
            "",
            FindingStatus.STEADY,
            f"ReplicaSet {', '.join(before)} unchanged",
            series_count=len(by_replicaset),
        )
    onset, replicaset = new[0]
    same_workload = [rs for rs in before if _workload(rs) == _workload(replicaset)]
    previous = (same_workload or before)[-1]
    version = _version(by_replicaset[replicaset])
    was = _version(by_replicaset[previous])
    change = f" (image tag {was} → {version})" if version and was and version != was else ""
    labels = {"replicaset": replicaset, "previous_replicaset": previous}
    if version:
        labels.update(version=version, previous_version=was)
    return Finding(
        signal=ROLLOUT,
        backend=ROLLOUT,
        promql="",
        status=FindingStatus.MOVED,
        reason=f"rollout to ReplicaSet {replicaset}{change}, replacing {previous}",
        direction=Direction.UP,
        onset_at=to_datetime(onset),
        series_labels=labels,
        series_count=len(by_replicaset),
        moved_series_count=len(new),
    )


def announced_rollout(
    changes: Sequence[Change], split: datetime, end: datetime, inferred: Finding
) -> Finding | None:
    """The first deploy announced between `split` and `end` (not held), as a rollout finding
    that cites it; None when there was none."""
    deploys = sorted(
        (c for c in changes if c.kind is ChangeKind.DEPLOY and not c.held and split <= c.at <= end),
        key=lambda c: (c.at, c.id or 0),
    )
    if not deploys:
        return None
    change = deploys[0]
    labels = {"change": change.ref, "version": change.version, "announced": change.at.isoformat()}
    if change.source:
        labels["source"] = change.source
    onset = change.at
    seen = ""
    if inferred.moved and inferred.onset_at is not None:
        labels.update({k: v for k, v in inferred.series_labels.items() if k != "version"})
        seen = f"; the pods show the {inferred.reason}"
        if change.at <= inferred.onset_at <= end:
            onset = inferred.onset_at  # when the new pods began serving
    by = f" by {change.source}" if change.source else ""
    return Finding(
        signal=ROLLOUT,
        backend=ROLLOUT,
        promql="",
        status=FindingStatus.MOVED,
        reason=f"{change.ref} {change.describe()} announced{by} at {change.at:%H:%M:%S}{seen}",
        direction=Direction.UP,
        onset_at=onset,
        series_labels=labels,
        series_count=max(1, inferred.series_count),
        moved_series_count=1,
    )


def _workload(replicaset: str) -> str:
    """The Deployment a ReplicaSet belongs to: its name less the pod-template hash."""
    return replicaset.rsplit("-", 1)[0]


def _version(pods: Sequence[Pod]) -> str:
    return next((p.version for p in pods if p.version), "")


def engine_death_finding(
    topology: Topology, window_start_ts: float, end_ts: float, step_s: float
) -> Finding:
    """Moved when a pod's engine stopped reporting in the window while the pod lived on."""
    if "vllm" not in topology.seen:
        return Finding(ENGINE_DIED, "vllm", "", FindingStatus.INCONCLUSIVE, "no vLLM series")
    ended_before = end_ts - ENDED_STEPS * step_s
    dead: list[Pod] = []
    for pod in topology.pods:
        if pod.last_seen is None or pod.last_seen < window_start_ts:
            continue
        crash_looping = pod.not_ready and pod.restarts > 0
        if pod.last_seen < ended_before:
            still_listed = pod.listed_until is not None and pod.listed_until >= ended_before
            if still_listed or pod.not_ready or pod.restarts > 0:
                dead.append(pod)
        elif crash_looping and (pod.first_seen or end_ts) < window_start_ts:
            dead.append(pod)  # served before the window, now restarting and not ready
    if not dead:
        return Finding(
            ENGINE_DIED,
            "vllm",
            "",
            FindingStatus.STEADY,
            "every engine that ended went with its pod",
            series_count=len(topology.pods),
        )
    pod = min(dead, key=lambda p: p.last_seen or 0.0)
    state = [s for s in ("not ready" if pod.not_ready else "", _restarts(pod)) if s]
    where = f" on node {pod.node}" if pod.node else ""
    labels = {"pod": pod.name, "namespace": pod.namespace}
    if pod.node:
        labels["node"] = pod.node
    return Finding(
        signal=ENGINE_DIED,
        backend="vllm",
        promql="",
        status=FindingStatus.MOVED,
        reason=(
            f"engine of pod {pod.name}{where} stopped reporting while the pod lived on"
            + (f" ({', '.join(state)})" if state else "")
            + (f"; {len(dead)} pods in all" if len(dead) > 1 else "")
        ),
        direction=Direction.UP,
        onset_at=to_datetime(pod.last_seen),
        series_labels=labels,
        series_count=len(topology.pods),
        moved_series_count=len(dead),
    )


def _restarts(pod: Pod) -> str:
    count = round(pod.restarts)
    return f"{count} restart{'s' if count != 1 else ''}" if count else ""
