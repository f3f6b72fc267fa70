"""How the simulator's API refuses a request: always JSON ``{"error": code, "detail": why}``.

    400 invalid_json        the body is not JSON, or is missing where one is required
    404 unknown_model       the fleet serves no such model
    404 unknown_fault       no active fault has that id
    404 not_found           no such route
    405 method_not_allowed  the route exists for other methods (they are listed)
    413 body_too_large      the body passes ``MAX_BODY_BYTES``
    422 invalid_request     a body that parses but does not fit: each field at fault is named
                            (wrong type, unknown field, out of range), or the fleet's reason is
                            given (unknown pool or node, unreleased version, weights not 100)

``install(app)`` puts the handlers and the request intake (body limit, trailing slashes) on
a FastAPI app. ``ERROR_RESPONSES`` documents the shape in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.simulation import InvalidActionError, UnknownFaultError, UnknownModelError

MAX_BODY_BYTES = 64 * 1024


class ErrorDocument(BaseModel):
    """Every refusal's body."""

    error: str = Field(description="machine-readable code", examples=["unknown_model"])
    detail: str = Field(description="why, naming the field at fault where there is one")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDocument, "description": "invalid_json: the body is not JSON"},
    404: {"model": ErrorDocument, "description": "unknown_model, unknown_fault or not_found"},
    422: {"model": ErrorDocument, "description": "invalid_request: the body does not fit"},
}


def refusal(
    status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON refusal."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Shape every refusal of ``app`` as an ``ErrorDocument``; limit and normalise requests."""
    app.add_exception_handler(RequestValidationError, _invalid_body)
    app.add_exception_handler(HTTPException, _http_refusal)
    app.add_exception_handler(UnknownModelError, _unknown_model)
    app.add_exception_handler(UnknownFaultError, _unknown_fault)
    app.add_exception_handler(InvalidActionError, _invalid_action)
    app.add_middleware(RequestIntake, limit_bytes=MAX_BODY_BYTES)


def _invalid_body(request: Request, exc: Exception) -> JSONResponse:
    """400 when there is no JSON to validate; 422 naming each field that does not fit."""
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Any] = exc.errors()
    for error in errors:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "malformed")
            where = error["loc"][-1]
            detail = f"body is not valid JSON: {reason} (character {where})"
            return refusal(400, "invalid_json", detail)
        if tuple(error["loc"]) == ("body",) and error["type"] == "missing":
            return refusal(400, "invalid_json", "a JSON body is required")
        if tuple(error["loc"]) == ("body",) and isinstance(error.get("input"), bytes):
            detail = "the body must be JSON, sent with Content-Type: application/json"
            return refusal(400, "invalid_json", detail)
    detail = "; ".join(f"{_field(error['loc'])}: {error['msg']}" for error in errors)
    return refusal(422, "invalid_request", detail)


def _field(loc: Sequence[str | int]) -> str:
    """``("body", "weights", "primary")`` -> ``weights.primary``; the body itself -> ``body``."""
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])


def _http_refusal(request: Request, exc: Exception) -> JSONResponse:
    """Routing's own refusals (no route, wrong method) in the common shape."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404:
        return refusal(404, "not_found", f"no route {request.method} {path}")
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        detail = f"{path} accepts {', '.join(allowed)}"
        return refusal(405, "method_not_allowed", detail, {"Allow": ", ".join(allowed)})
    error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return refusal(exc.status_code, error, str(exc.detail), exc.headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    return [
        method
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _unknown_model(request: Request, exc: Exception) -> JSONResponse:
    known = ", ".join(request.app.state.simulator.simulation.fleet.models)
    return refusal(404, "unknown_model", f"no model {exc.args[0]!r}; models: {known}")


def _unknown_fault(request: Request, exc: Exception) -> JSONResponse:
    return refusal(404, "unknown_fault", f"no active fault {exc.args[0]!r}")


def _invalid_action(request: Request, exc: Exception) -> JSONResponse:
    return refusal(422, "invalid_request", str(exc))


class RequestIntake:
    """ASGI middleware in front of the routes: ignores a trailing slash in the path (as the
    API always has) and reads the body up front, answering 413 once it passes the limit."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self._app = app
        self._limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self._limit_bytes:
                detail = f"limit is {self._limit_bytes} bytes"
                await refusal(413, "body_too_large", detail)(scope, receive, send)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)
