"""Fault kinds, fault requests, and the registry of active faults (``POST /faults`` bodies
are validated by ``simulator.bodies.FaultBody``).

A fault never edits the fleet directly (except ``bad_deploy``, which rolls a release out
through the fleet like any deploy): the registry turns active faults into per-model
``FaultEffects`` and cluster-wide ``NodeEffects`` that ``simulator.traffic`` applies on every
step. Clearing a fault removes its effects.

Intensity (0..1, default 0.5) scales each fault:

- ``saturation``       traffic multiplied by 2 + 2 * intensity (x3 by default)
- ``gpu_xid``          the GPU of the model's pod on one node reports an XID (79 by default;
                       48 = double-bit ECC); a non-application XID kills that pod's engine
- ``bad_deploy``       rolls the model out to a new version with a defect: its pods fail
                       0.08 + 0.17 * intensity of requests with 5xx, drift PSI
                       0.30 + 0.40 * intensity
- ``thermal``          a node's cooling fails: every GPU on it heats (busy ones towards
                       88 + 4 * intensity degrees C) and throttles
- ``upstream_errors``  a share 0.10 + 0.30 * intensity of requests fail in the API server on
                       a dependency, before the engine (5xx on every pod of the model)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """What can go wrong in the fleet."""

    SATURATION = "saturation"
    GPU_XID = "gpu_xid"
    BAD_DEPLOY = "bad_deploy"
    THERMAL = "thermal"
    UPSTREAM_ERRORS = "upstream_errors"


NODE_FAULTS: frozenset[FaultKind] = frozenset({FaultKind.GPU_XID, FaultKind.THERMAL})
DEFAULT_INTENSITY = 0.5
DEFAULT_XID = 79


@dataclass(frozen=True)
class FaultRequest:
    """A request to inject a fault (the node is still unresolved)."""

    kind: FaultKind
    model: str
    intensity: float = DEFAULT_INTENSITY
    node: str | None = None
    xid: int | None = None


@dataclass(frozen=True)
class Fault:
    """An active fault, with every target resolved."""

    id: str
    kind: FaultKind
    model: str
    intensity: float
    started_at_s: float
    node: str | None = None
    gpu: str | None = None
    """For ``gpu_xid``: the index of the GPU on ``node`` that reports the XID."""
    xid: int | None = None
    version: str | None = None
    """For ``bad_deploy``: the defective release it shipped."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "model": self.model,
            "intensity": self.intensity,
            "node": self.node,
            "gpu": self.gpu,
            "xid": self.xid,
            "version": self.version,
            "started_at_s": round(self.started_at_s, 3),
        }


@dataclass(frozen=True)
class FaultEffects:
    """What the active faults do to one model, in the terms the traffic model understands."""

    traffic_multiplier: float = 1.0
    defective_versions: Mapping[str, float] = field(default_factory=dict)
    """Version -> intensity of its defect."""
    upstream_error_ratio: float = 0.0


@dataclass(frozen=True)
class NodeEffects:
    """What the active faults do to the cluster's hardware, whichever models it serves."""

    xid_by_gpu: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(node, GPU index) -> the XID that GPU reports."""
    thermal_intensity_by_node: Mapping[str, float] = field(default_factory=dict)


class FaultRegistry:
    """Active faults by id, and the effects they add up to for each model."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._next_id = 1

    def new_id(self) -> str:
        fault_id = f"fault-{self._next_id}"
        self._next_id += 1
        return fault_id

    def add(self, fault: Fault) -> None:
        self._faults[fault.id] = fault

    def remove(self, fault_id: str) -> Fault:
        """Remove and return the fault; KeyError if there is none with that id."""
        return self._faults.pop(fault_id)

    def active(self) -> list[Fault]:
        return list(self._faults.values())

    def effects_for(self, model: str) -> FaultEffects:
        """Combine every active model-level fault on ``model`` into one set of effects."""
        traffic_multiplier = 1.0
        defective_versions: dict[str, float] = {}
        upstream_error_ratio = 0.0
        for fault in self._faults.values():
            if fault.model != model:
                continue
            if fault.kind is FaultKind.SATURATION:
                traffic_multiplier *= 2.0 + 2.0 * fault.intensity
            elif fault.kind is FaultKind.BAD_DEPLOY and fault.version is not None:
                previous = defective_versions.get(fault.version, 0.0)
                defective_versions[fault.version] = max(previous, fault.intensity)
            elif fault.kind is FaultKind.UPSTREAM_ERRORS:
                upstream_error_ratio = max(upstream_error_ratio, 0.1 + 0.3 * fault.intensity)
        return FaultEffects(
            traffic_multiplier=traffic_multiplier,
            defective_versions=defective_versions,
            upstream_error_ratio=upstream_error_ratio,
        )

    def node_effects(self) -> NodeEffects:
        """Combine every active hardware fault, across models."""
        xid_by_gpu: dict[tuple[str, str], int] = {}
        thermal_by_node: dict[str, float] = {}
        for fault in self._faults.values():
            if fault.node is None:
                continue
            if fault.kind is FaultKind.GPU_XID and fault.gpu is not None:
                xid_by_gpu[(fault.node, fault.gpu)] = fault.xid or DEFAULT_XID
            elif fault.kind is FaultKind.THERMAL:
                previous = thermal_by_node.get(fault.node, 0.0)
                thermal_by_node[fault.node] = max(previous, fault.intensity)
        return NodeEffects(xid_by_gpu=xid_by_gpu, thermal_intensity_by_node=thermal_by_node)
