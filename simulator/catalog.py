"""The static description of the simulated fleet: models, pools, versions and capacities.

Each pool of a model is one Kubernetes Deployment ``<model>-<pool>`` in namespace ``genai``;
nodes carry eight H100s each. Numbers are chosen to look like a real H100 fleet at a glance
(a 70B model on one GPU per replica serving ~15 requests/s at ~50% utilisation) and so that
every fault has a control action that really relieves it: the secondary pool can absorb the
primary's traffic, and the primary pool can be scaled far enough to outgrow a 4x surge.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "genai"
ENGINE = "0"
CONTAINER = "vllm"
IMAGE_REPOSITORY = "registry.example.com/genai"
"""The vLLM container's image is ``<IMAGE_REPOSITORY>/<model>:<version>``."""
GPU_MODEL_NAME = "NVIDIA H100 80GB HBM3"
GPU_DRIVER_VERSION = "550.90.07"
GPUS_PER_NODE = 8
GPU_FRAMEBUFFER_MIB = 81559.0
GPU_MAX_SM_CLOCK_MHZ = 1980.0
GPU_IDLE_SM_CLOCK_MHZ = 345.0
VLLM_GPU_MEMORY_UTILIZATION = 0.9

REPLICA_WARMUP_S = 60.0
"""Simulated seconds a new replica spends loading weights before it takes traffic."""

ENGINE_DEATH_S = 6.0
"""After a GPU falls off the bus, the API server answers 5xx this long before the container
exits and the pod turns not-ready (the Service stops routing to it)."""
CRASH_LOOP_RESTART_S = (40.0, 60.0)
"""A crash-looping container restarts every 40 to 60 simulated seconds."""

MAX_REPLICAS_PER_POOL = 16
CLIENT_TIMEOUT_S = 120.0
"""Requests queued longer than this are abandoned by their clients (finished_reason=abort)."""

MAX_NUM_SEQS = 256
"""vLLM's default cap on concurrently running sequences per engine."""


@dataclass(frozen=True)
class PoolSpec:
    """A pool of identical replicas behind one traffic weight."""

    name: str
    replicas: int
    traffic_weight: float


@dataclass(frozen=True)
class ModelSpec:
    """One served model: its pools, its release history and its performance profile."""

    name: str
    backend: str
    pools: tuple[PoolSpec, ...]
    version_history: tuple[str, ...]
    """Oldest first; the last one is serving when the simulation starts (known-good)."""
    next_version: str
    """The release a new deploy ships; ``bad_deploy`` ships it with a defect."""
    request_rate_rps: float
    replica_throughput_rps: float
    prompt_tokens_mean: float
    generation_tokens_mean: float
    prefill_s: float
    """Median time to first token on an idle replica."""
    inter_token_s: float
    """Median inter-token latency on an idle replica."""
    handler_shares: tuple[tuple[str, float], ...]
    """OpenAI-compatible endpoints clients call, with their share of requests."""


LLAMA = ModelSpec(
    name="llama-3-70b-instruct",
    backend="vllm",
    pools=(
        PoolSpec(name="primary", replicas=4, traffic_weight=75.0),
        PoolSpec(name="secondary", replicas=3, traffic_weight=25.0),
    ),
    version_history=("v1.3.0", "v1.4.2"),
    next_version="v1.5.0",
    request_rate_rps=36.0,
    replica_throughput_rps=15.0,
    prompt_tokens_mean=820.0,
    generation_tokens_mean=240.0,
    prefill_s=0.22,
    inter_token_s=0.028,
    handler_shares=(("/v1/chat/completions", 0.85), ("/v1/completions", 0.15)),
)

RERANKER = ModelSpec(
    name="reranker-v2",
    backend="vllm",
    pools=(PoolSpec(name="primary", replicas=2, traffic_weight=100.0),),
    version_history=("2.2.1", "2.3.0"),
    next_version="2.4.0",
    request_rate_rps=120.0,
    replica_throughput_rps=100.0,
    prompt_tokens_mean=512.0,
    generation_tokens_mean=1.0,
    prefill_s=0.035,
    inter_token_s=0.004,
    handler_shares=(("/v1/completions", 1.0),),
)

DEFAULT_FLEET: tuple[ModelSpec, ...] = (LLAMA, RERANKER)
