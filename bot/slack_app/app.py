"""The bolt app, built per process, and the thin edges that serve it (HTTP or Socket Mode).

`create_slack_app(settings, deps, client)` answers a `slack_bolt.App` with request verification
on (signing secret, bolt's 5-minute timestamp window) on the bot token's Web API client, which
the composition root builds (`Container.slack_web`, pointed at FIREBREAK_SLACK_API_URL when set).
`mount_slack(fastapi_app, bolt_app, signatures)` adds `POST /slack/events` using bolt's Starlette
converters; dispatch runs in the thread pool so a listener never blocks the event loop. Bolt
parses a body before it checks its signature and fails with a 500 on a non-numeric timestamp, a
non-ASCII signature, a body that is not UTF-8 or JSON it cannot read, so the edge refuses those
itself (400 naming the part) and checks the signature (401, through `Container.slack_signatures`)
before bolt sees the request. `run_socket_mode(settings, deps, client)` connects with the
app-level token (FIREBREAK_SLACK_APP_TOKEN) instead of a public URL.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.datastructures import Headers

from bot.domain.errors import FirebreakError
from bot.ports import RequestSignatures
from bot.settings import Settings
from bot.slack_app.deps import SlackDeps
from bot.slack_app.listeners import Listeners

if TYPE_CHECKING:
    from bot.adapters.slack_web import SlackWebClient

log = structlog.get_logger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 256 * 1024
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SlackConfigurationError(FirebreakError):
    """Slack is asked for but a token or secret it needs is missing."""


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if value is None or not value.get_secret_value().strip():
        raise SlackConfigurationError(f"FIREBREAK_{name.upper()} is not set")
    return str(value.get_secret_value())


def create_slack_app(
    settings: Settings,
    deps: SlackDeps,
    client: SlackWebClient | None,
    *,
    socket_mode: bool = False,
) -> App:
    """Build the bolt app with Firebreak's listeners on `client` (None without a bot token);
    over HTTP every request must be signed."""
    if client is None:
        raise SlackConfigurationError("FIREBREAK_SLACK_BOT_TOKEN is not set")
    signing_secret = None if socket_mode else _secret(settings, "slack_signing_secret")
    app = App(
        name="firebreak",
        logger=logging.getLogger("bot.slack_app.bolt"),
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,
        process_before_response=False,
    )
    Listeners(deps).register(app)
    log.info("slack_app_created", socket_mode=socket_mode, api_url=client.base_url)
    return app


def _refusal(
    headers: Headers, body: bytes, signatures: RequestSignatures | None
) -> Response | None:
    """A 400 naming the header or body bolt could not read, a 401 for a bad signature."""
    timestamp = headers.get("x-slack-request-timestamp")
    if timestamp is not None and not _UNIX_SECONDS.fullmatch(timestamp):
        return JSONResponse(
            {"error": "X-Slack-Request-Timestamp is not a Unix time in seconds"}, status_code=400
        )
    signature = headers.get("x-slack-signature")
    if signature is not None and not signature.isascii():
        return JSONResponse({"error": "X-Slack-Signature is not ASCII"}, status_code=400)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return JSONResponse({"error": "body is not UTF-8"}, status_code=400)
    if signatures is not None and not signatures.is_valid(body, timestamp, signature):
        return JSONResponse({"error": "invalid request"}, status_code=401)
    return None


def mount_slack(
    fastapi_app: FastAPI,
    bolt_app: App,
    signatures: RequestSignatures | None = None,
    path: str = EVENTS_PATH,
) -> None:
    """Serve Slack's commands and interactivity at `POST path` of a FastAPI app; with
    `signatures` the signature is checked here, before bolt parses the body."""

    async def slack_events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return Response("payload too large", status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response("payload too large", status_code=413)
        refusal = _refusal(request.headers, body, signatures)
        if refusal is not None:
            log.warning("slack_request_refused", status=refusal.status_code)
            return refusal
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
            log.warning("slack_request_unreadable", error=type(exc).__name__)
            return JSONResponse({"error": "body is not a Slack request"}, status_code=400)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    fastapi_app.add_api_route(
        path,
        slack_events,
        methods=["POST"],
        tags=["slack"],
        summary="Slack slash commands and interactivity (signed by Slack)",
    )


def run_socket_mode(settings: Settings, deps: SlackDeps, client: SlackWebClient | None) -> None:
    """Connect to Slack over Socket Mode and serve until interrupted (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = _secret(settings, "slack_app_token")
    app = create_slack_app(settings, deps, client, socket_mode=True)
    log.info("slack_socket_mode_started")
    handler = SocketModeHandler(app, app_token, web_client=app.client)
    handler.start()  # type: ignore[no-untyped-call]  # bolt leaves start() unannotated
