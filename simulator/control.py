"""The simulator's JSON API as FastAPI routes: fault injection and the control actions
runbooks take. Bodies are the pydantic models of ``simulator.bodies``; refusals are shaped by
``simulator.refusals``.

Routes:
    GET    /faults                          active faults
    POST   /faults                          {"kind", "model", "intensity"?, "node"?, "xid"?}
    DELETE /faults/{id}                     clear a fault
    GET    /control/models                  every model's state
    GET    /control/models/{model}          one model: pools, weights, versions
    PUT    /control/models/{model}/replicas {"pool": "primary", "replicas": N}
    PUT    /control/models/{model}/traffic  {"weights": {"primary": 0, "secondary": 100}}
    PUT    /control/models/{model}/version  {"version": "2.3.0"}   deploy a released version
    POST   /control/models/{model}/releases {"version"?: "2.3.1"}  roll out a new healthy release

Every PUT sets desired state and answers with the model's state; repeating it changes nothing.
An unknown model is a 404 before its body is looked at. Each route holds the simulation's lock
while it reads or acts: the ticker advances the simulation in another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from simulator.bodies import FaultBody, ReleaseBody, ReplicasBody, TrafficBody, VersionBody
from simulator.refusals import ERROR_RESPONSES
from simulator.series import ExporterOptions
from simulator.simulation import Simulation

ModelState = dict[str, Any]


@dataclass(frozen=True)
class SimulatorState:
    """What the routes serve: one simulation, the lock around it, the exporter options."""

    simulation: Simulation
    lock: threading.Lock
    options: ExporterOptions


def simulator_state(request: Request) -> SimulatorState:
    """The app's ``SimulatorState`` (set by ``simulator.app.create_app``)."""
    state: SimulatorState = request.app.state.simulator
    return state


State = Annotated[SimulatorState, Depends(simulator_state)]


def known_model(
    model: Annotated[str, Path(description="a model the fleet serves")], sim: State
) -> str:
    """The path's model; UnknownModelError (404) when the fleet has no such model."""
    with sim.lock:
        return sim.simulation.model(model).name


KnownModel = Annotated[str, Depends(known_model)]

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/faults", tags=["faults"], summary="Active faults")
def list_faults(sim: State) -> dict[str, list[dict[str, Any]]]:
    with sim.lock:
        return {"faults": [fault.as_json() for fault in sim.simulation.faults.active()]}


@router.post("/faults", status_code=201, tags=["faults"], summary="Inject a fault")
def inject_fault(body: FaultBody, sim: State) -> dict[str, Any]:
    with sim.lock:
        return sim.simulation.inject(body.to_request()).as_json()


@router.delete("/faults/{fault_id}", tags=["faults"], summary="Clear a fault")
def clear_fault(fault_id: str, sim: State) -> dict[str, dict[str, Any]]:
    with sim.lock:
        return {"cleared": sim.simulation.clear(fault_id).as_json()}


@router.get("/control/models", tags=["control"], summary="Every model's state")
def list_models(sim: State) -> dict[str, list[ModelState]]:
    with sim.lock:
        simulation = sim.simulation
        return {"models": [simulation.describe_model(name) for name in simulation.fleet.models]}


@router.get("/control/models/{model}", tags=["control"], summary="One model's state")
def describe_model(model: KnownModel, sim: State) -> ModelState:
    with sim.lock:
        return sim.simulation.describe_model(model)


@router.put("/control/models/{model}/replicas", tags=["control"], summary="Scale a pool")
def set_replicas(model: KnownModel, body: ReplicasBody, sim: State) -> ModelState:
    return _act(
        sim, model, lambda simulation: simulation.set_replicas(model, body.pool, body.replicas)
    )


@router.put("/control/models/{model}/traffic", tags=["control"], summary="Set traffic weights")
def set_traffic(model: KnownModel, body: TrafficBody, sim: State) -> ModelState:
    return _act(sim, model, lambda simulation: simulation.set_traffic_weights(model, body.weights))


@router.put("/control/models/{model}/version", tags=["control"], summary="Deploy a release")
def set_version(model: KnownModel, body: VersionBody, sim: State) -> ModelState:
    return _act(sim, model, lambda simulation: simulation.set_version(model, body.version))


@router.post(
    "/control/models/{model}/releases",
    status_code=201,
    tags=["control"],
    summary="Release and roll out a new healthy version",
)
def release(model: KnownModel, sim: State, body: ReleaseBody | None = None) -> ModelState:
    version = None if body is None else body.version
    return _act(sim, model, lambda simulation: simulation.release(model, version))


def _act(sim: SimulatorState, model: str, action: Callable[[Simulation], object]) -> ModelState:
    """Do ``action`` under the lock and answer the model's state after it."""
    with sim.lock:
        action(sim.simulation)
        return sim.simulation.describe_model(model)
