"""A simulated GenAI serving fleet: the stand-in for a real vLLM cluster.

It exposes vLLM, DCGM-exporter and drift/deploy metrics at ``/metrics``, accepts fault
injection at ``/faults`` and a control API at ``/control/models/...`` that runbooks act on.
The contract (metric names, labels, endpoints) is documented in ``simulator/README.md``.

Modules, one job each:

- ``catalog``     the static fleet description: models, pools, versions, capacities
- ``telemetry``   monotonic counters and latency histograms a replica accumulates
- ``fleet``       mutable fleet state (models, pools, replicas, GPUs, nodes, versions)
- ``faults``      fault kinds, request validation, the registry of active faults
- ``traffic``     the per-step dynamics: load against capacity drives every signal
- ``simulation``  the clock, the seeded randomness and the operations on the whole fleet
- ``exposition``  renders the fleet as Prometheus text format
- ``readout``     a model's signals summarised as the alert rules see them (tests, demo)
- ``control``     the HTTP-agnostic JSON API (faults and control actions)
- ``server``      the HTTP server, the ticker thread, ``run()`` and ``start_in_thread()``
"""
