"""Demo scenarios: which faults are injected, and what closing each one's loop means."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Act:
    """One fault, the alerts that may follow it, and the diagnosis and remediation expected.

    `approve` makes the demo approve the run as on-call would; `must_resolve` asks for the
    alerts to clear within the act too (burn-rate windows and a GPU's latched XID outlast it,
    so those acts close at verified mitigation); an act that `recalls` closes once incident
    memory names an earlier incident like its own with what fixed it (its runbook's cooldown
    holds a repeat back, as it would in production).
    """

    title: str
    model: str
    fault: str
    alerts: tuple[str, ...]
    hypothesis: str
    runbook: str
    approve: bool
    must_resolve: bool = True
    recalls: bool = False


SATURATION = Act(
    "KV-cache saturation",
    "llama-3-70b-instruct",
    "saturation",
    ("LLMTTFTErrorBudgetBurn", "LLMKVCacheSaturated"),
    "capacity_saturation",
    "scale-out",
    approve=False,
    must_resolve=False,  # the TTFT burn alert clears as its 5 m / 1 h burn windows roll over
)
BAD_DEPLOY = Act(
    "bad deploy",
    "reranker-v2",
    "bad_deploy",
    ("LLMModelDrift", "LLMErrorRatioAfterDeploy"),
    "bad_deploy",
    "rollback",
    approve=True,
)
BAD_DEPLOY_AGAIN = Act(
    "the same bad deploy again",
    "reranker-v2",
    "bad_deploy",
    ("LLMModelDrift", "LLMErrorRatioAfterDeploy"),
    "bad_deploy",
    "rollback",
    approve=True,
    recalls=True,
)
GPU_FAULT = Act(
    "GPU fell off the bus (XID 79)",
    "llama-3-70b-instruct",
    "gpu_xid",
    ("GPUXidError",),
    "gpu_fault",
    "failover",
    approve=True,
    must_resolve=False,
)

SCENARIOS: dict[str, tuple[Act, ...]] = {
    "default": (BAD_DEPLOY, SATURATION, BAD_DEPLOY_AGAIN),
    "saturation": (SATURATION,),
    "bad-deploy": (BAD_DEPLOY,),
    "memory": (BAD_DEPLOY, BAD_DEPLOY_AGAIN),
    "gpu-fault": (GPU_FAULT,),
}
