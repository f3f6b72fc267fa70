"""Evidence read from the topology: rollouts (new ReplicaSets) and engines that died."""

from __future__ import annotations

from bot.correlation.evidence import engine_death_finding, rollout_finding
from bot.correlation.topology import Pod, Topology
from bot.domain.findings import FindingStatus

T0 = 1_700_000_000.0
SPLIT = T0 + 1800  # the rollout window starts here
WINDOW = T0 + 1800
END = T0 + 2400
STEP = 15.0
OLD_RS = "reranker-v2-primary-5b8c7d9f4c"
NEW_RS = "reranker-v2-primary-7c9d5f8b6d"
IMAGE = "registry.example.com/genai/reranker-v2:{}"


def pod(
    suffix: str,
    replicaset: str,
    first: float,
    last: float = END,
    *,
    version: str = "2.3.0",
    listed: bool = True,
    **extra: object,
) -> Pod:
    return Pod(
        "genai",
        f"{replicaset}-{suffix}",
        first_seen=first,
        last_seen=last,
        node="gpu-node-01",
        replicaset=replicaset if listed else "",
        image=IMAGE.format(version) if listed else "",
        listed_until=last if listed else None,
        **extra,  # type: ignore[arg-type]
    )


def topology(*pods: Pod, seen: tuple[str, ...] = ("vllm", "kube")) -> Topology:
    return Topology(models=("reranker-v2",), pods=pods, seen=frozenset(seen))


def test_new_replicaset_in_the_window_is_a_rollout_naming_versions() -> None:
    """Old pods replaced by a new ReplicaSet's pods: a rollout from 2.3.0 to 2.4.0."""
    found = rollout_finding(
        topology(
            pod("aaaaa", OLD_RS, T0, SPLIT + 120),
            pod("bbbbb", NEW_RS, SPLIT + 60, version="2.4.0"),
        ),
        SPLIT,
    )
    assert found.status is FindingStatus.MOVED
    assert found.onset_at is not None
    assert found.onset_at.timestamp() == SPLIT + 60
    assert found.series_labels["version"] == "2.4.0"
    assert found.series_labels["previous_replicaset"] == OLD_RS
    assert "2.3.0 → 2.4.0" in found.reason


def test_replicaset_is_read_from_pod_names_without_kube_state_metrics() -> None:
    """Deployment pod names carry their ReplicaSet, so a rollout shows without KSM."""
    found = rollout_finding(
        topology(
            pod("aaaaa", OLD_RS, T0, SPLIT + 120, listed=False),
            pod("bbbbb", NEW_RS, SPLIT + 60, listed=False),
            seen=("vllm",),
        ),
        SPLIT,
    )
    assert found.status is FindingStatus.MOVED
    assert NEW_RS in found.reason


def test_scale_out_adds_pods_to_the_same_replicaset_and_is_no_rollout() -> None:
    """New pods of the ReplicaSet already serving are capacity, not a release."""
    found = rollout_finding(
        topology(pod("aaaaa", OLD_RS, T0), pod("ccccc", OLD_RS, SPLIT + 300)), SPLIT
    )
    assert found.status is FindingStatus.STEADY


def test_pods_that_cannot_be_placed_in_a_replicaset_are_inconclusive() -> None:
    """StatefulSet-style names and no KSM: rollouts cannot be seen, and the finding says so."""
    found = rollout_finding(
        topology(Pod("genai", "reranker-0", first_seen=T0, last_seen=END)), SPLIT
    )
    assert found.status is FindingStatus.INCONCLUSIVE


def test_engine_whose_series_ended_while_its_pod_lives_on_died() -> None:
    """vLLM went silent on a pod still listed, not ready and restarting: its engine died."""
    found = engine_death_finding(
        topology(
            pod("aaaaa", OLD_RS, T0),
            Pod(
                "genai",
                f"{OLD_RS}-ddddd",
                first_seen=T0,
                last_seen=WINDOW + 200,
                node="gpu-node-08",
                replicaset=OLD_RS,
                listed_until=END,
                not_ready=True,
                restarts=3,
            ),
        ),
        WINDOW,
        END,
        STEP,
    )
    assert found.status is FindingStatus.MOVED
    assert found.series_labels["node"] == "gpu-node-08"
    assert "not ready" in found.reason
    assert "3 restarts" in found.reason


def test_pod_deleted_by_a_rollout_is_no_death() -> None:
    """A pod whose listing ended with its engine was removed, not killed."""
    found = engine_death_finding(
        topology(pod("aaaaa", OLD_RS, T0, WINDOW + 100), pod("bbbbb", NEW_RS, WINDOW + 60)),
        WINDOW,
        END,
        STEP,
    )
    assert found.status is FindingStatus.STEADY


def test_crash_loop_counts_before_the_series_has_visibly_ended() -> None:
    """A pod that served before the window and now restarts unready died, even seconds ago."""
    found = engine_death_finding(
        topology(
            Pod(
                "genai",
                f"{OLD_RS}-eeeee",
                first_seen=T0,
                last_seen=END - STEP,
                listed_until=END,
                not_ready=True,
                restarts=1,
            )
        ),
        WINDOW,
        END,
        STEP,
    )
    assert found.status is FindingStatus.MOVED


def test_no_vllm_series_is_inconclusive() -> None:
    """Without the engines' series nothing can be said about their deaths."""
    found = engine_death_finding(topology(seen=("kube",)), WINDOW, END, STEP)
    assert found.status is FindingStatus.INCONCLUSIVE
