"""Mutable fleet state, shaped as Kubernetes holds it: Deployments, ReplicaSets, pods, GPUs.

Each pool of a model is a Deployment ``<model>-<pool>``; each image it ever ran is a
ReplicaSet ``<deployment>-<hash>``; each replica is a pod ``<replicaset>-<suffix>`` with the
vLLM container on one GPU. The fleet changes in two ways only: control actions
(``set_replicas``, ``set_traffic_weights``, ``deploy``) and ``reconcile``, which does what the
Deployment controller and the kubelet would:

- a rollout (new image) creates a full set of new pods at once (maxSurge 100%), which warm up
  for 60 s; an old pod is deleted for each new pod that turns ready (maxUnavailable 0);
- scaling adds pods to the current ReplicaSet or deletes the least useful ones first
  (crash-looping, then warming, then the newest);
- a pod whose GPU fell off the bus dies: its API server answers 5xx for a few seconds, then
  the container exits, the pod turns not-ready and restarts every 40-60 s, never ready while
  the GPU is broken (CrashLoopBackOff). Once the GPU is healthy it restarts, warms and serves.

The dynamics (what load does to queues and GPUs) live in ``simulator.traffic``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from simulator.catalog import (
    CRASH_LOOP_RESTART_S,
    ENGINE_DEATH_S,
    REPLICA_WARMUP_S,
    ModelSpec,
)
from simulator.cluster import Cluster, Gpu
from simulator.identities import Identities, image_of, replicaset_name
from simulator.telemetry import EngineCounters, HttpCounters

SHARED_NODE_GROUPS: dict[str, str] = {"reranker-v2-primary": "llama-3-70b-instruct-primary"}
"""With ``shared_nodes``: Deployments whose pods run on another Deployment's nodes."""


class ReplicaPhase(StrEnum):
    """Where a pod is in its life."""

    WARMING = "warming"
    """Container started, loading weights: not ready, no metrics endpoint yet."""
    SERVING = "serving"
    DYING = "dying"
    """Engine dead (GPU fell off the bus), API server still answering 5xx, still ready."""
    CRASH_LOOP = "crash_loop"
    """Container restarting in a loop (CrashLoopBackOff): not ready, no metrics endpoint."""


@dataclass
class Replica:
    """One pod: the vLLM container on one GPU of one node."""

    pod: str
    uid: str
    pool: str
    deployment: str
    replicaset: str
    version: str
    image: str
    gpu: Gpu
    pod_ip: str
    host_ip: str
    container_id: str
    ready_at_s: float
    phase: ReplicaPhase = ReplicaPhase.WARMING
    restarts: int = 0
    phase_changed_at_s: float = 0.0
    next_restart_at_s: float = 0.0
    backlog: float = 0.0
    """Requests queued beyond what steady-state queueing explains (load > capacity)."""
    num_requests_waiting: float = 0.0
    num_requests_running: float = 0.0
    kv_cache_usage: float = 0.0
    counters: EngineCounters = field(default_factory=EngineCounters)
    http: HttpCounters = field(default_factory=lambda: HttpCounters(handlers=()))

    @property
    def node(self) -> str:
        return self.gpu.node

    @property
    def is_ready(self) -> bool:
        """Passes its readiness probe: the Service routes traffic to it."""
        return self.phase in (ReplicaPhase.SERVING, ReplicaPhase.DYING)

    @property
    def is_serving(self) -> bool:
        """The engine works and takes traffic."""
        return self.phase is ReplicaPhase.SERVING

    @property
    def exposes_metrics(self) -> bool:
        """The vLLM process is up, so its /metrics endpoint answers."""
        return self.phase in (ReplicaPhase.SERVING, ReplicaPhase.DYING)


@dataclass(frozen=True)
class ReplicaSet:
    """One revision of a Deployment: its name and the image its pods run."""

    name: str
    deployment: str
    version: str
    image: str


@dataclass
class Pool:
    """Replicas of one model that share a traffic weight: one Deployment behind a route."""

    name: str
    deployment: str
    desired_replicas: int
    traffic_weight: float
    replicas: list[Replica] = field(default_factory=list)
    replicasets: dict[str, ReplicaSet] = field(default_factory=dict)
    """Every revision the Deployment ever had, oldest first (revision history)."""

    @property
    def ready_replicas(self) -> int:
        return sum(1 for replica in self.replicas if replica.is_ready)


@dataclass(frozen=True)
class Release:
    """A version of a model and when (simulated seconds) it was rolled out."""

    version: str
    deployed_at_s: float


@dataclass
class ModelState:
    """One model: its pools, its release history and its drift score."""

    spec: ModelSpec
    pools: dict[str, Pool]
    releases: list[Release]
    drift_psi: float = 0.02

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        """The version every pool's pod template runs (rollouts may still be in progress)."""
        return self.releases[-1].version

    @property
    def known_versions(self) -> list[str]:
        """Every version ever released for this model, oldest first, without repeats."""
        seen: dict[str, None] = {}
        for release in self.releases:
            seen.setdefault(release.version, None)
        return list(seen)

    def replicas(self) -> list[Replica]:
        return [replica for pool in self.pools.values() for replica in pool.replicas]


class Fleet:
    """All models of the simulated fleet, on one cluster of GPU nodes."""

    def __init__(
        self, specs: tuple[ModelSpec, ...], identity_seed: int, shared_nodes: bool = False
    ) -> None:
        self.identities = Identities(identity_seed)
        self._restarts = random.Random(f"fleet-restarts-{identity_seed}")
        self.cluster = Cluster(self.identities)
        self._node_groups = SHARED_NODE_GROUPS if shared_nodes else {}
        self.models: dict[str, ModelState] = {}
        for spec in specs:
            pools = {
                pool.name: Pool(
                    pool.name, f"{spec.name}-{pool.name}", pool.replicas, pool.traffic_weight
                )
                for pool in spec.pools
            }
            releases = [Release(version, 0.0) for version in spec.version_history]
            self.models[spec.name] = ModelState(spec=spec, pools=pools, releases=releases)
        self.reconcile(now_s=0.0, warm_start=True)

    def model(self, name: str) -> ModelState:
        """The model called ``name``; KeyError if the fleet does not serve it."""
        return self.models[name]

    def nodes_of(self, model_name: str) -> list[str]:
        """Nodes running a pod of the model, in pod order, without repeats."""
        return list(dict.fromkeys(r.node for r in self.models[model_name].replicas()))

    def set_replicas(self, model_name: str, pool_name: str, replicas: int) -> None:
        """Set a Deployment's desired replica count; ``reconcile`` makes it so."""
        self.models[model_name].pools[pool_name].desired_replicas = replicas

    def set_traffic_weights(self, model_name: str, weights: dict[str, float]) -> None:
        """Set the traffic weight of the named pools (others keep theirs)."""
        for pool_name, weight in weights.items():
            self.models[model_name].pools[pool_name].traffic_weight = weight

    def deploy(self, model_name: str, version: str, now_s: float) -> None:
        """Roll every pool out to ``version``; re-deploying the serving version is a no-op."""
        model = self.models[model_name]
        if model.version != version:
            model.releases.append(Release(version, now_s))

    def reconcile(self, now_s: float, warm_start: bool = False) -> None:
        """Advance pod lifecycles, then make each Deployment match its spec."""
        for model in self.models.values():
            for pool in model.pools.values():
                for replica in pool.replicas:
                    self._advance_lifecycle(replica, now_s)
                self._reconcile_deployment(model, pool, now_s, warm_start)

    def _advance_lifecycle(self, replica: Replica, now_s: float) -> None:
        phase, broken = replica.phase, replica.gpu.has_fallen_over
        died = now_s >= replica.phase_changed_at_s + ENGINE_DEATH_S
        if phase is ReplicaPhase.SERVING and broken:
            self._enter(replica, ReplicaPhase.DYING, now_s)
        elif (phase is ReplicaPhase.WARMING and broken) or (phase is ReplicaPhase.DYING and died):
            self._crash(replica, now_s)
        elif phase is ReplicaPhase.CRASH_LOOP and now_s >= replica.next_restart_at_s:
            if broken:
                self._crash(replica, now_s)
            else:
                self._restart(replica, now_s)
        elif phase is ReplicaPhase.WARMING and now_s >= replica.ready_at_s:
            self._enter(replica, ReplicaPhase.SERVING, now_s)

    def _enter(self, replica: Replica, phase: ReplicaPhase, now_s: float) -> None:
        replica.phase = phase
        replica.phase_changed_at_s = now_s

    def _crash(self, replica: Replica, now_s: float) -> None:
        """The container exits; the kubelet restarts it after a back-off."""
        self._enter(replica, ReplicaPhase.CRASH_LOOP, now_s)
        replica.restarts += 1
        replica.container_id = self.identities.container_id()
        replica.next_restart_at_s = now_s + self._restarts.uniform(*CRASH_LOOP_RESTART_S)
        replica.gpu.loaded = False
        self._fresh_process(replica)

    def _restart(self, replica: Replica, now_s: float) -> None:
        """The container starts on a healthy GPU again: it loads weights, then serves."""
        self._enter(replica, ReplicaPhase.WARMING, now_s)
        replica.ready_at_s = now_s + REPLICA_WARMUP_S
        replica.gpu.loaded = True

    def _fresh_process(self, replica: Replica) -> None:
        replica.counters = EngineCounters()
        replica.http = HttpCounters(handlers=replica.http.handlers)
        replica.backlog = replica.num_requests_waiting = replica.num_requests_running = 0.0
        replica.kv_cache_usage = 0.0

    def _reconcile_deployment(
        self, model: ModelState, pool: Pool, now_s: float, warm_start: bool
    ) -> None:
        image = image_of(model.name, model.version)
        current = replicaset_name(pool.deployment, image)
        if current not in pool.replicasets:
            pool.replicasets[current] = ReplicaSet(current, pool.deployment, model.version, image)
        new = [replica for replica in pool.replicas if replica.replicaset == current]
        while len(new) < pool.desired_replicas:
            replica = self._new_replica(model, pool, pool.replicasets[current], now_s, warm_start)
            pool.replicas.append(replica)
            new.append(replica)
        while len(new) > pool.desired_replicas:
            self._delete(pool, new, _first_to_remove(new))
        old = [replica for replica in pool.replicas if replica.replicaset != current]
        keep = max(0, pool.desired_replicas - sum(1 for r in new if r.is_ready))
        while len(old) > keep:
            self._delete(pool, old, _first_to_remove(old))

    def _delete(self, pool: Pool, group: list[Replica], replica: Replica) -> None:
        group.remove(replica)
        pool.replicas.remove(replica)
        self.cluster.release(replica.gpu)

    def _new_replica(
        self,
        model: ModelState,
        pool: Pool,
        replicaset: ReplicaSet,
        now_s: float,
        warm_start: bool,
    ) -> Replica:
        pod = self.identities.pod_name(replicaset.name)
        siblings = {r.node for r in pool.replicas if r.replicaset == replicaset.name}
        group = self._node_groups.get(pool.deployment, pool.deployment)
        gpu = self.cluster.allocate(group, pod, avoid_nodes=siblings)
        gpu.loaded = True
        node = self.cluster.node(gpu.node)
        return Replica(
            pod=pod,
            uid=self.identities.uid(),
            pool=pool.name,
            deployment=pool.deployment,
            replicaset=replicaset.name,
            version=replicaset.version,
            image=replicaset.image,
            gpu=gpu,
            pod_ip=self.identities.pod_ip(node.number),
            host_ip=node.ip,
            container_id=self.identities.container_id(),
            ready_at_s=now_s if warm_start else now_s + REPLICA_WARMUP_S,
            phase=ReplicaPhase.SERVING if warm_start else ReplicaPhase.WARMING,
            phase_changed_at_s=now_s,
            http=HttpCounters(handlers=tuple(handler for handler, _ in model.spec.handler_shares)),
        )


def _first_to_remove(replicas: list[Replica]) -> Replica:
    """A ReplicaSet's scale-down order: not-ready (broken) first, then warming, then newest."""

    def removal_rank(position_and_replica: tuple[int, Replica]) -> tuple[int, int]:
        position, replica = position_and_replica
        if replica.phase in (ReplicaPhase.CRASH_LOOP, ReplicaPhase.DYING):
            rank = 0
        elif replica.phase is ReplicaPhase.WARMING:
            rank = 1
        else:
            rank = 2
        return (rank, -position)

    return min(enumerate(replicas), key=removal_rank)[1]
