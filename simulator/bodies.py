"""The control API's request bodies as pydantic models: the JSON each route accepts.

Types are strict, as JSON is: ``"4"`` is not a number of replicas and ``true`` is not an
intensity. Unknown fields are refused, so a typo never passes silently. A body only says what
is asked for; whether the fleet can do it (a pool it has, a version it released, weights that
add up to 100) is the simulation's call (``InvalidActionError``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from simulator.catalog import MAX_REPLICAS_PER_POOL
from simulator.faults import DEFAULT_INTENSITY, NODE_FAULTS, FaultKind, FaultRequest

Name = Annotated[StrictStr, Field(min_length=1)]
Weight = Annotated[float, Field(strict=True, ge=0.0, le=100.0, allow_inf_nan=False)]
Intensity = Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]
Xid = Annotated[StrictInt, Field(ge=1, le=255)]


class Body(BaseModel):
    """A request body: exactly the fields documented, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplicasBody(Body):
    """``PUT /control/models/{model}/replicas``: one pool's desired replica count."""

    pool: Name = Field(examples=["primary"])
    replicas: Annotated[StrictInt, Field(ge=0, le=MAX_REPLICAS_PER_POOL, examples=[6])]


class TrafficBody(Body):
    """``PUT /control/models/{model}/traffic``: weights (0..100) by pool; with the pools left
    out, they must sum to 100."""

    weights: dict[str, Weight] = Field(min_length=1, examples=[{"primary": 0, "secondary": 100}])


class VersionBody(Body):
    """``PUT /control/models/{model}/version``: a version the model has released."""

    version: Name = Field(examples=["2.3.0"])


class ReleaseBody(Body):
    """``POST /control/models/{model}/releases``: the new version (default: the next patch)."""

    version: Name | None = Field(default=None, examples=["2.3.1"])


class FaultBody(Body):
    """``POST /faults``: what to break, how hard and, for node faults, where."""

    kind: FaultKind
    model: Name = Field(examples=["llama-3-70b-instruct"])
    intensity: Intensity = DEFAULT_INTENSITY
    node: Name | None = Field(
        default=None,
        description="gpu_xid and thermal: a node running a pod of the model "
        "(default: the node of its first pod)",
        examples=["gpu-node-01"],
    )
    xid: Xid | None = Field(default=None, description="gpu_xid only (default 79)")

    @field_validator("node")
    @classmethod
    def _node_needs_a_node_fault(cls, node: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if node is not None and kind is not None and kind not in NODE_FAULTS:
            raise ValueError(f"node applies only to {', '.join(sorted(NODE_FAULTS))}")
        return node

    @field_validator("xid")
    @classmethod
    def _xid_needs_gpu_xid(cls, xid: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        if xid is not None and kind is not None and kind is not FaultKind.GPU_XID:
            raise ValueError("xid applies only to gpu_xid")
        return xid

    def to_request(self) -> FaultRequest:
        """The validated request the simulation injects."""
        return FaultRequest(self.kind, self.model, self.intensity, node=self.node, xid=self.xid)
