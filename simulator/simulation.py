"""The simulation: a clock, seeded randomness, the fleet and its faults, advanced in steps.

Everything that changes the fleet goes through here, so the server only needs one lock around
a ``Simulation``. Given the same seed and the same sequence of calls, two simulations produce
identical state: time only moves when ``advance`` is called, in fixed-size steps.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

from simulator.catalog import DEFAULT_FLEET, MAX_REPLICAS_PER_POOL, ModelSpec
from simulator.faults import DEFAULT_XID, Fault, FaultKind, FaultRegistry, FaultRequest
from simulator.fleet import Fleet, ModelState
from simulator.traffic import apply_xids, step_gpus, step_model

MAX_STEP_S = 1.0
"""Longest simulated step; longer advances are split so queues and lags stay smooth."""


class UnknownModelError(LookupError):
    """The fleet serves no model with this name."""


class InvalidActionError(ValueError):
    """A control action or fault that does not fit the fleet (unknown pool, node, version)."""


class UnknownFaultError(LookupError):
    """No active fault has this id."""


class Simulation:
    """The whole simulated fleet. Not thread-safe: callers hold one lock around it."""

    def __init__(
        self,
        seed: int = 0,
        specs: tuple[ModelSpec, ...] = DEFAULT_FLEET,
        shared_nodes: bool = False,
    ) -> None:
        """``shared_nodes``: reranker-v2's pods run on llama's primary nodes (GPU "1"), so
        one node hosts two models; otherwise every Deployment has nodes of its own."""
        self.seed = seed
        self.shared_nodes = shared_nodes
        self.clock_s = 0.0
        self._noise = random.Random(seed)
        self.fleet = Fleet(specs, identity_seed=seed, shared_nodes=shared_nodes)
        self.faults = FaultRegistry()

    # -- time -------------------------------------------------------------------------------

    def advance(self, simulated_s: float) -> None:
        """Move the simulation forward by ``simulated_s`` seconds."""
        if simulated_s <= 0.0:
            return
        steps = max(1, math.ceil(simulated_s / MAX_STEP_S))
        step_s = simulated_s / steps
        for _ in range(steps):
            node_effects = self.faults.node_effects()
            apply_xids(self.fleet.cluster, node_effects)
            self.fleet.reconcile(self.clock_s)
            for model in self.fleet.models.values():
                step_model(model, self.faults.effects_for(model.name), step_s, self._noise)
            step_gpus(self.fleet.cluster, node_effects, step_s, self._noise)
            self.clock_s += step_s

    # -- reading ----------------------------------------------------------------------------

    def model(self, name: str) -> ModelState:
        """The model called ``name``; UnknownModelError otherwise."""
        try:
            return self.fleet.model(name)
        except KeyError:
            raise UnknownModelError(name) from None

    def known_good_version(self, name: str) -> str:
        """The newest release without a known defect: what a rollback should go back to."""
        model = self.model(name)
        defective = self.faults.effects_for(name).defective_versions
        for release in reversed(model.releases):
            if release.version not in defective:
                return release.version
        return model.releases[0].version

    def describe_model(self, name: str) -> dict[str, Any]:
        """The control API's view of a model: pools, weights, versions."""
        model = self.model(name)
        return {
            "model": model.name,
            "backend": model.spec.backend,
            "version": model.version,
            "known_good_version": self.known_good_version(name),
            "version_history": [
                {"version": release.version, "deployed_at_s": round(release.deployed_at_s, 3)}
                for release in model.releases
            ],
            "pools": {
                pool.name: {
                    "deployment": pool.deployment,
                    "desired_replicas": pool.desired_replicas,
                    "ready_replicas": pool.ready_replicas,
                    "traffic_weight": pool.traffic_weight,
                    "replicas": [
                        {
                            "pod": replica.pod,
                            "node": replica.node,
                            "gpu": replica.gpu.index,
                            "phase": replica.phase.value,
                            "ready": replica.is_ready,
                            "restarts": replica.restarts,
                            "replicaset": replica.replicaset,
                            "version": replica.version,
                        }
                        for replica in pool.replicas
                    ],
                }
                for pool in model.pools.values()
            },
        }

    # -- control actions --------------------------------------------------------------------

    def set_replicas(self, name: str, pool: str, replicas: int) -> None:
        """Set a pool's desired replicas; new replicas serve after a warm-up."""
        model = self.model(name)
        if pool not in model.pools:
            raise InvalidActionError(
                f"{name} has no pool {pool!r}; pools: {', '.join(model.pools)}"
            )
        if not 0 <= replicas <= MAX_REPLICAS_PER_POOL:
            raise InvalidActionError(f"replicas must be between 0 and {MAX_REPLICAS_PER_POOL}")
        self.fleet.set_replicas(name, pool, replicas)
        self.fleet.reconcile(self.clock_s)

    def set_traffic_weights(self, name: str, weights: dict[str, float]) -> None:
        """Set traffic weights (0..100) for the named pools; all weights must sum to 100."""
        model = self.model(name)
        unknown = sorted(set(weights) - set(model.pools))
        if unknown:
            raise InvalidActionError(
                f"{name} has no pool(s) {', '.join(unknown)}; pools: {', '.join(model.pools)}"
            )
        if any(not 0.0 <= weight <= 100.0 for weight in weights.values()):
            raise InvalidActionError("weights must be between 0 and 100")
        resulting = {pool.name: pool.traffic_weight for pool in model.pools.values()}
        resulting.update(weights)
        if not math.isclose(sum(resulting.values()), 100.0, abs_tol=1e-6):
            raise InvalidActionError(f"weights must sum to 100 across pools, got {resulting}")
        self.fleet.set_traffic_weights(name, weights)

    def set_version(self, name: str, version: str) -> None:
        """Deploy ``version`` (one already released for this model) to every pool."""
        model = self.model(name)
        if version not in model.known_versions:
            raise InvalidActionError(
                f"{name} has no release {version!r}; known: {', '.join(model.known_versions)}"
            )
        self.fleet.deploy(name, version, self.clock_s)
        self.fleet.reconcile(self.clock_s)

    def release(self, name: str, version: str | None = None) -> str:
        """Roll out a new healthy release (default: the next patch version); return it."""
        model = self.model(name)
        if version is None:
            version = _next_version(model.known_versions, model.known_versions[-1], part=2)
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", version):
            raise InvalidActionError(f"{version!r} is not a valid image tag")
        self.fleet.deploy(name, version, self.clock_s)
        self.fleet.reconcile(self.clock_s)
        return version

    # -- faults -----------------------------------------------------------------------------

    def inject(self, request: FaultRequest) -> Fault:
        """Start a fault; node faults without a node pick the model's first replica's node."""
        model = self.model(request.model)
        node: str | None = None
        gpu: str | None = None
        version: str | None = None
        if request.kind in (FaultKind.GPU_XID, FaultKind.THERMAL):
            nodes = self.fleet.nodes_of(model.name)
            if request.node is not None and request.node not in nodes:
                raise InvalidActionError(
                    f"{model.name} has no replica on node {request.node!r}; nodes: "
                    f"{', '.join(nodes)}"
                )
            if not nodes:
                raise InvalidActionError(f"{model.name} has no replicas to fault")
            node = request.node or nodes[0]
            if request.kind is FaultKind.GPU_XID:
                gpu = next(r.gpu.index for r in model.replicas() if r.node == node)
        if request.kind is FaultKind.BAD_DEPLOY:
            version = _next_version(model.known_versions, model.spec.next_version, part=1)
            self.fleet.deploy(model.name, version, self.clock_s)
        fault = Fault(
            id=self.faults.new_id(),
            kind=request.kind,
            model=model.name,
            intensity=request.intensity,
            started_at_s=self.clock_s,
            node=node,
            gpu=gpu,
            xid=(request.xid or DEFAULT_XID) if request.kind is FaultKind.GPU_XID else None,
            version=version,
        )
        self.faults.add(fault)
        self.fleet.reconcile(self.clock_s)
        return fault

    def clear(self, fault_id: str) -> Fault:
        """End a fault: its effects stop (a deployed release stays deployed, minus its defect)."""
        try:
            return self.faults.remove(fault_id)
        except KeyError:
            raise UnknownFaultError(fault_id) from None


def _next_version(known: list[str], candidate: str, part: int) -> str:
    """``candidate`` if never released, else it bumped at ``part`` (0 major, 1 minor, 2 patch)
    until it is new: "v1.4.2" -> "v1.4.3" (patch), "2.4.0" -> "2.5.0" (minor)."""
    while candidate in known:
        prefix, numbers = re.fullmatch(r"([^0-9]*)([0-9.]+)", candidate).groups()  # type: ignore[union-attr]
        parts = [int(number) for number in numbers.split(".")]
        parts[part] += 1
        parts[part + 1 :] = [0] * (len(parts) - part - 1)
        candidate = prefix + ".".join(str(number) for number in parts)
    return candidate
