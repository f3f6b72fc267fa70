"""The simulator's FastAPI app: ``/metrics`` exactly as the fleet's exporters serve it,
``/healthz``, and the JSON API of ``simulator.control`` (OpenAPI at ``/openapi.json``).

    create_app(simulation, options=None, lock=None)

``options`` (``ExporterOptions``) shape the /metrics text like a given exporter deployment.
Hold ``lock`` (made here when not given) to read or move ``simulation`` while the app serves it.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI, Response

from simulator import control, refusals
from simulator.control import SimulatorState, State
from simulator.exposition import CONTENT_TYPE, render
from simulator.series import ExporterOptions
from simulator.simulation import Simulation

probes = APIRouter()


@probes.get(
    "/metrics",
    response_class=Response,
    tags=["exporters"],
    summary="Every series of the fleet, Prometheus text format 0.0.4",
    responses={200: {"content": {CONTENT_TYPE: {}}}},
)
def metrics(sim: State) -> Response:
    with sim.lock:
        payload = render(sim.simulation, sim.options)
    return Response(payload, media_type=CONTENT_TYPE)


@probes.get("/healthz", tags=["probes"], summary="Up, and the simulated clock")
@probes.get("/", include_in_schema=False)
def healthz(sim: State) -> dict[str, Any]:
    with sim.lock:
        clock_s = sim.simulation.clock_s
    return {"status": "ok", "clock_s": round(clock_s, 3)}


def create_app(
    simulation: Simulation,
    options: ExporterOptions | None = None,
    lock: threading.Lock | None = None,
) -> FastAPI:
    """An app serving ``simulation``; hold ``lock`` around any other use of it."""
    app = FastAPI(
        title="Firebreak fleet simulator",
        description="A simulated GenAI serving fleet: its exporters' metrics, fault injection "
        "and the control API runbooks act on (see simulator/README.md).",
    )
    app.state.simulator = SimulatorState(
        simulation, lock or threading.Lock(), options or ExporterOptions()
    )
    app.include_router(probes)
    app.include_router(control.router)
    refusals.install(app)
    return app
