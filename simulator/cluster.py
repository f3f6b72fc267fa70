"""The cluster's nodes and their GPUs, and the scheduler that puts pods on them.

Each node ``gpu-node-NN`` carries eight H100s indexed "0".."7" and belongs to one node group
(the Deployment it was provisioned for, like a node pool selected by ``nodeSelector``). A new
pod goes on the first free, healthy GPU of its group's nodes, never on a node that already
runs a pod of its own ReplicaSet (anti-affinity); when no node fits, a node is provisioned.
A GPU that fell off the bus is not allocatable (the device plugin reports it unhealthy).

A GPU's dynamics (heat, clocks) live in ``simulator.traffic``; this module holds its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.catalog import GPU_FRAMEBUFFER_MIB, GPU_IDLE_SM_CLOCK_MHZ, GPUS_PER_NODE
from simulator.identities import Identities, node_ip, node_name

APPLICATION_XIDS: frozenset[int] = frozenset({13, 31, 43, 45, 68})
"""XIDs caused by the user program (e.g. 13 graphics engine exception), not the hardware."""


@dataclass
class Gpu:
    """One GPU of a node, as DCGM reports it, and the pod it is allocated to (if any)."""

    node: str
    index: str
    uuid: str
    pod: str | None = None
    """Name of the pod the GPU is allocated to; None while idle."""
    busy: float = 0.0
    """Share of its capacity the allocated engine uses (0..1), set by the traffic model."""
    loaded: bool = False
    """Whether an engine holds its memory (weights and KV cache preallocated)."""
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
        """A non-application XID leaves the GPU unusable: its engine dies."""
        return self.last_xid != 0 and self.last_xid not in APPLICATION_XIDS

    @property
    def device(self) -> str:
        return f"nvidia{self.index}"


@dataclass
class Node:
    """A Kubernetes node with its GPUs, provisioned for one node group."""

    number: int
    group: str
    gpus: list[Gpu] = field(default_factory=list)

    @property
    def name(self) -> str:
        return node_name(self.number)

    @property
    def ip(self) -> str:
        return node_ip(self.number)


class Cluster:
    """Nodes in provisioning order, and GPU allocation for pods."""

    def __init__(self, identities: Identities) -> None:
        self._identities = identities
        self.nodes: list[Node] = []

    def node(self, name: str) -> Node:
        """The node called ``name``; KeyError if there is none."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def gpus(self) -> list[Gpu]:
        return [gpu for node in self.nodes for gpu in node.gpus]

    def allocate(self, group: str, pod: str, avoid_nodes: set[str]) -> Gpu:
        """Give ``pod`` a free healthy GPU on a node of ``group`` outside ``avoid_nodes``."""
        for node in self.nodes:
            if node.group != group or node.name in avoid_nodes:
                continue
            for gpu in node.gpus:
                if gpu.pod is None and not gpu.has_fallen_over:
                    gpu.pod = pod
                    return gpu
        gpu = self._provision(group).gpus[0]
        gpu.pod = pod
        return gpu

    def release(self, gpu: Gpu) -> None:
        """Free a GPU whose pod was deleted; its memory is released at once."""
        gpu.pod = None
        gpu.busy = 0.0
        gpu.loaded = False

    def _provision(self, group: str) -> Node:
        number = len(self.nodes) + 1
        node = Node(number=number, group=group)
        node.gpus = [
            Gpu(node=node.name, index=str(index), uuid=self._identities.gpu_uuid())
            for index in range(GPUS_PER_NODE)
        ]
        self.nodes.append(node)
        return node
