"""The simulator's JSON API, independent of any HTTP server: faults and control actions.

``ControlApi.handle(method, path, body)`` returns a ``JsonResponse``; the server only moves
bytes. Errors are JSON ``{"error": <code>, "detail": <why>}`` with a 4xx status:
400 malformed JSON, 404 unknown model / fault / route, 405 wrong method, 422 a body that
parses but does not fit (bad field, unknown pool or version, out-of-range number).

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
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.faults import InvalidFaultError, parse_fault_request
from simulator.simulation import (
    InvalidActionError,
    Simulation,
    UnknownFaultError,
    UnknownModelError,
)


@dataclass(frozen=True)
class JsonResponse:
    """An HTTP status and the JSON document to send with it."""

    status: int
    document: dict[str, Any]

    def body(self) -> bytes:
        return json.dumps(self.document, sort_keys=True).encode()


class ApiError(Exception):
    """A request the API refuses; carries the status and a machine-readable error code."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


Handler = Callable[[Simulation, dict[str, str], object], JsonResponse]


class ControlApi:
    """Routes JSON requests to a Simulation. The caller holds the simulation's lock."""

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/faults"), _list_faults),
            ("POST", re.compile(r"/faults"), _inject_fault),
            ("DELETE", re.compile(r"/faults/(?P<fault_id>[^/]+)"), _clear_fault),
            ("GET", re.compile(r"/control/models"), _list_models),
            ("GET", re.compile(r"/control/models/(?P<model>[^/]+)"), _describe_model),
            ("PUT", re.compile(r"/control/models/(?P<model>[^/]+)/replicas"), _set_replicas),
            ("PUT", re.compile(r"/control/models/(?P<model>[^/]+)/traffic"), _set_traffic),
            ("PUT", re.compile(r"/control/models/(?P<model>[^/]+)/version"), _set_version),
            ("POST", re.compile(r"/control/models/(?P<model>[^/]+)/releases"), _release),
        ]

    def handles(self, path: str) -> bool:
        """Whether ``path`` belongs to this API (any method)."""
        return any(pattern.fullmatch(path) for _, pattern, _ in self._routes)

    def handle(self, method: str, path: str, body: bytes) -> JsonResponse:
        """Answer one request; never raises for a bad request, only answers 4xx."""
        try:
            return self._dispatch(method, path.rstrip("/") or "/", body)
        except ApiError as refusal:
            return JsonResponse(refusal.status, {"error": refusal.error, "detail": refusal.detail})

    def _dispatch(self, method: str, path: str, body: bytes) -> JsonResponse:
        allowed: list[str] = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            document = (
                _parse_json(body, allow_empty=handler is _release)
                if method in ("POST", "PUT")
                else None
            )
            try:
                return handler(self._simulation, match.groupdict(), document)
            except UnknownModelError as missing:
                known = ", ".join(self._simulation.fleet.models)
                raise ApiError(
                    404, "unknown_model", f"no model {missing.args[0]!r}; models: {known}"
                ) from None
            except UnknownFaultError as missing:
                raise ApiError(
                    404, "unknown_fault", f"no active fault {missing.args[0]!r}"
                ) from None
            except (InvalidActionError, InvalidFaultError) as invalid:
                raise ApiError(422, "invalid_request", str(invalid)) from None
        if allowed:
            raise ApiError(405, "method_not_allowed", f"{path} accepts {', '.join(allowed)}")
        raise ApiError(404, "not_found", f"no route {method} {path}")


def _parse_json(body: bytes, allow_empty: bool = False) -> object:
    if not body.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "invalid_json", "a JSON body is required")
    try:
        document: object = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {error}") from None
    return document


def _object(document: object, fields: set[str]) -> dict[str, Any]:
    """The body as a JSON object with exactly ``fields``; 422 otherwise."""
    if not isinstance(document, dict):
        raise InvalidActionError("body must be a JSON object")
    missing = sorted(fields - set(document))
    unknown = sorted(set(document) - fields)
    if missing:
        raise InvalidActionError(f"missing field(s): {', '.join(missing)}")
    if unknown:
        raise InvalidActionError(f"unknown field(s): {', '.join(unknown)}")
    return document


def _list_faults(simulation: Simulation, _params: dict[str, str], _body: object) -> JsonResponse:
    return JsonResponse(200, {"faults": [fault.as_json() for fault in simulation.faults.active()]})


def _inject_fault(simulation: Simulation, _params: dict[str, str], body: object) -> JsonResponse:
    fault = simulation.inject(parse_fault_request(body))
    return JsonResponse(201, fault.as_json())


def _clear_fault(simulation: Simulation, params: dict[str, str], _body: object) -> JsonResponse:
    fault = simulation.clear(params["fault_id"])
    return JsonResponse(200, {"cleared": fault.as_json()})


def _list_models(simulation: Simulation, _params: dict[str, str], _body: object) -> JsonResponse:
    return JsonResponse(
        200, {"models": [simulation.describe_model(name) for name in simulation.fleet.models]}
    )


def _describe_model(simulation: Simulation, params: dict[str, str], _body: object) -> JsonResponse:
    return JsonResponse(200, simulation.describe_model(params["model"]))


def _set_replicas(simulation: Simulation, params: dict[str, str], body: object) -> JsonResponse:
    simulation.model(params["model"])
    request = _object(body, {"pool", "replicas"})
    pool, replicas = request["pool"], request["replicas"]
    if not isinstance(pool, str):
        raise InvalidActionError("pool must be a string")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise InvalidActionError("replicas must be an integer")
    simulation.set_replicas(params["model"], pool, replicas)
    return JsonResponse(200, simulation.describe_model(params["model"]))


def _set_traffic(simulation: Simulation, params: dict[str, str], body: object) -> JsonResponse:
    simulation.model(params["model"])
    weights = _object(body, {"weights"})["weights"]
    if not isinstance(weights, dict) or not weights:
        raise InvalidActionError("weights must be a non-empty object of pool -> number")
    parsed: dict[str, float] = {}
    for pool, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidActionError(f"weight of {pool!r} must be a number")
        parsed[pool] = float(weight)
    simulation.set_traffic_weights(params["model"], parsed)
    return JsonResponse(200, simulation.describe_model(params["model"]))


def _set_version(simulation: Simulation, params: dict[str, str], body: object) -> JsonResponse:
    simulation.model(params["model"])
    version = _object(body, {"version"})["version"]
    if not isinstance(version, str) or not version:
        raise InvalidActionError("version must be a non-empty string")
    simulation.set_version(params["model"], version)
    return JsonResponse(200, simulation.describe_model(params["model"]))


def _release(simulation: Simulation, params: dict[str, str], body: object) -> JsonResponse:
    simulation.model(params["model"])
    if not isinstance(body, dict):
        raise InvalidActionError("body must be a JSON object")
    unknown = sorted(set(body) - {"version"})
    if unknown:
        raise InvalidActionError(f"unknown field(s): {', '.join(unknown)}")
    version = body.get("version")
    if version is not None and (not isinstance(version, str) or not version):
        raise InvalidActionError("version must be a non-empty string")
    simulation.release(params["model"], version)
    return JsonResponse(201, simulation.describe_model(params["model"]))
