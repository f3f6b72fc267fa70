"""A simulated GenAI serving fleet: the stand-in for a real vLLM cluster.

It exposes what vLLM, its API server, dcgm-exporter and kube-state-metrics expose (plus
Firebreak's drift score) at ``/metrics``, accepts fault injection at ``/faults`` and a control
API at ``/control/models/...`` that runbooks act on. The contract (metric names, labels,
endpoints) is documented in ``simulator/README.md``.

Modules, one job each:

- ``catalog``     the static fleet description: models, pools, versions, capacities
- ``identities``  Kubernetes-shaped names and ids (ReplicaSet hashes, pod suffixes, IPs)
- ``telemetry``   monotonic counters and latency histograms an engine and API server keep
- ``cluster``     nodes, their eight GPUs each, and the scheduler placing pods on them
- ``fleet``       Deployments, ReplicaSets, pods and their lifecycle (rollouts, crash loops)
- ``faults``      fault kinds, request validation, the registry of active faults
- ``traffic``     the per-step dynamics: load against capacity drives every signal
- ``simulation``  the clock, the seeded randomness and the operations on the whole fleet
- ``series``      every series of the contract, described once; ``ExporterOptions``
- ``exposition``  renders the series as the live Prometheus text format
- ``history``     ``HistoryWriter``: scrapes over time as OpenMetrics for promtool backfill
- ``readout``     a model's signals summarised as the alert rules see them (tests, demo)
- ``bodies``      the JSON API's request bodies as pydantic models
- ``refusals``    the API's error documents, exception handlers and request intake
- ``control``     the JSON API's routes (faults and control actions) on FastAPI
- ``app``         the FastAPI app: ``/metrics``, ``/healthz`` and the JSON API
- ``server``      uvicorn in a thread, the ticker thread, ``run()`` and ``start_in_thread()``
"""
