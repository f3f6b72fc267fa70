"""Mutable fleet state: models, pools, replicas, their nodes and GPUs, and release history.

The fleet is the desired and observed state a Kubernetes control plane would hold. It changes
in two ways only: control actions (``set_replicas``, ``set_traffic_weights``, ``deploy``) and
``reconcile``, which makes the replicas match the desired counts, as a Deployment controller
would. The dynamics (what load does to queues and GPUs) live in ``simulator.traffic``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from simulator.catalog import (
    GPU_FRAMEBUFFER_MIB,
    GPU_IDLE_SM_CLOCK_MHZ,
    REPLICA_WARMUP_S,
    ModelSpec,
)
from simulator.telemetry import EngineCounters, GatewayCounters

APPLICATION_XIDS: frozenset[int] = frozenset({13, 31, 43, 45, 68})
"""XIDs caused by the user program (e.g. 13 graphics engine exception), not the hardware."""


class ReplicaPhase(StrEnum):
    """Where a replica is in its life: loading weights, or taking traffic."""

    WARMING = "warming"
    SERVING = "serving"


@dataclass
class Gpu:
    """The one GPU a replica runs on, as DCGM reports it."""

    index: str
    uuid: str
    utilization_pct: float = 0.0
    temperature_c: float = 34.0
    power_w: float = 70.0
    sm_clock_mhz: float = GPU_IDLE_SM_CLOCK_MHZ
    framebuffer_used_mib: float = 0.0
    throttle_factor: float = 1.0
    """Fraction of full clock the GPU runs at; below 1 while thermally throttled."""
    clock_event_reasons: int = 0
    last_xid: int = 0

    @property
    def framebuffer_free_mib(self) -> float:
        return GPU_FRAMEBUFFER_MIB - self.framebuffer_used_mib

    @property
    def has_fallen_over(self) -> bool:
        """A non-application XID leaves the engine unable to serve."""
        return self.last_xid != 0 and self.last_xid not in APPLICATION_XIDS


@dataclass
class Replica:
    """One vLLM pod on one node with one GPU."""

    pod: str
    pool: str
    node: str
    gpu: Gpu
    ready_at_s: float
    phase: ReplicaPhase = ReplicaPhase.WARMING
    backlog: float = 0.0
    """Requests queued beyond what steady-state queueing explains (load > capacity)."""
    num_requests_waiting: float = 0.0
    num_requests_running: float = 0.0
    kv_cache_usage: float = 0.0
    counters: EngineCounters = field(default_factory=EngineCounters)

    @property
    def is_serving(self) -> bool:
        return self.phase is ReplicaPhase.SERVING


@dataclass
class Pool:
    """Replicas of one model that share a traffic weight (a Deployment behind a route)."""

    name: str
    desired_replicas: int
    traffic_weight: float
    replicas: list[Replica] = field(default_factory=list)
    next_ordinal: int = 0

    @property
    def ready_replicas(self) -> int:
        return sum(1 for replica in self.replicas if replica.is_serving)


@dataclass(frozen=True)
class Release:
    """A version of a model and when (simulated seconds) it started serving."""

    version: str
    deployed_at_s: float


@dataclass
class ModelState:
    """One model: its pools, what version serves, its release history and gateway counters."""

    spec: ModelSpec
    pools: dict[str, Pool]
    releases: list[Release]
    drift_psi: float = 0.02
    gateway: GatewayCounters = field(default_factory=GatewayCounters)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
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
    """All models of the simulated fleet, and the node allocator their replicas land on."""

    def __init__(self, specs: tuple[ModelSpec, ...], identity_seed: int) -> None:
        self._identities = random.Random(f"fleet-identities-{identity_seed}")
        self._next_node = 1
        self.models: dict[str, ModelState] = {}
        for spec in specs:
            pools = {
                pool.name: Pool(pool.name, pool.replicas, pool.traffic_weight)
                for pool in spec.pools
            }
            releases = [Release(version, 0.0) for version in spec.version_history]
            self.models[spec.name] = ModelState(spec=spec, pools=pools, releases=releases)
        self.reconcile(now_s=0.0, warm_start=True)

    def model(self, name: str) -> ModelState:
        """The model called ``name``; KeyError if the fleet does not serve it."""
        return self.models[name]

    def nodes_of(self, model_name: str) -> list[str]:
        return [replica.node for replica in self.models[model_name].replicas()]

    def set_replicas(self, model_name: str, pool_name: str, replicas: int) -> None:
        """Set a pool's desired replica count; ``reconcile`` makes it so."""
        self.models[model_name].pools[pool_name].desired_replicas = replicas

    def set_traffic_weights(self, model_name: str, weights: dict[str, float]) -> None:
        """Set the traffic weight of the named pools (others keep theirs)."""
        for pool_name, weight in weights.items():
            self.models[model_name].pools[pool_name].traffic_weight = weight

    def deploy(self, model_name: str, version: str, now_s: float) -> None:
        """Make ``version`` the serving version of every pool; re-deploying it is a no-op."""
        model = self.models[model_name]
        if model.version != version:
            model.releases.append(Release(version, now_s))

    def reconcile(self, now_s: float, warm_start: bool = False) -> None:
        """Create or remove replicas to match desired counts; promote warmed-up replicas."""
        for model in self.models.values():
            for pool in model.pools.values():
                while len(pool.replicas) < pool.desired_replicas:
                    pool.replicas.append(self._new_replica(model, pool, now_s, warm_start))
                while len(pool.replicas) > pool.desired_replicas:
                    pool.replicas.remove(_first_to_remove(pool.replicas))
                for replica in pool.replicas:
                    if replica.phase is ReplicaPhase.WARMING and now_s >= replica.ready_at_s:
                        replica.phase = ReplicaPhase.SERVING

    def _new_replica(
        self, model: ModelState, pool: Pool, now_s: float, warm_start: bool
    ) -> Replica:
        node = f"gpu-node-{self._next_node:02d}"
        self._next_node += 1
        pod = f"{model.name}-{pool.name}-{pool.next_ordinal}"
        pool.next_ordinal += 1
        gpu = Gpu(index="0", uuid=f"GPU-{uuid.UUID(int=self._identities.getrandbits(128))}")
        ready_at_s = now_s if warm_start else now_s + REPLICA_WARMUP_S
        return Replica(pod=pod, pool=pool.name, node=node, gpu=gpu, ready_at_s=ready_at_s)


def _first_to_remove(replicas: list[Replica]) -> Replica:
    """Scale-down order of a ReplicaSet: broken GPUs first, then warming, then the newest."""

    def removal_rank(position_and_replica: tuple[int, Replica]) -> tuple[int, int, int]:
        position, replica = position_and_replica
        return (
            0 if replica.gpu.has_fallen_over else 1,
            0 if replica.phase is ReplicaPhase.WARMING else 1,
            -position,
        )

    return min(enumerate(replicas), key=removal_rank)[1]
