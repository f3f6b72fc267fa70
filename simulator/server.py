"""The simulator's HTTP server: ``/metrics``, the JSON API, and the clock that drives it.

A ``ThreadingHTTPServer`` answers requests; a ticker thread advances the simulation every
``tick_s`` wall seconds by ``tick_s * speed`` simulated seconds. One lock serialises the ticker
and every request, so a scrape always sees one consistent instant.

Entry points:
    run(host, port, seed, speed, options, shared_nodes)   block until Ctrl-C
                                                          (``firebreak simulate``)
    start_in_thread(host, port, seed, speed, ...)         for tests and the demo; a handle

``options`` (``ExporterOptions``) shape the /metrics text like a given exporter deployment;
``shared_nodes`` lays the fleet out with two models on some nodes.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from simulator.control import ControlApi, JsonResponse
from simulator.exposition import CONTENT_TYPE, render
from simulator.series import ExporterOptions
from simulator.simulation import Simulation

logger = logging.getLogger(__name__)

DEFAULT_TICK_S = 0.25
MAX_BODY_BYTES = 64 * 1024


class SimulatorHttpServer(ThreadingHTTPServer):
    """Serves one Simulation; holds the lock shared with the ticker."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        simulation: Simulation,
        options: ExporterOptions | None = None,
    ) -> None:
        super().__init__(address, _SimulatorRequestHandler)
        self.simulation = simulation
        self.options = options or ExporterOptions()
        self.lock = threading.Lock()
        self.api = ControlApi(simulation)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _SimulatorRequestHandler(BaseHTTPRequestHandler):
    server: SimulatorHttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            with self.server.lock:
                payload = render(self.server.simulation, self.server.options)
            self._send(HTTPStatus.OK, payload, CONTENT_TYPE)
        elif path in ("/healthz", "/"):
            with self.server.lock:
                clock_s = self.server.simulation.clock_s
            self._send_json(JsonResponse(200, {"status": "ok", "clock_s": round(clock_s, 3)}))
        else:
            self._answer_api("GET")

    def do_POST(self) -> None:
        self._answer_api("POST")

    def do_PUT(self) -> None:
        self._answer_api("PUT")

    def do_DELETE(self) -> None:
        self._answer_api("DELETE")

    def _answer_api(self, method: str) -> None:
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit():
            document = {"error": "invalid_request", "detail": "Content-Length must be a number"}
            self._send_json(JsonResponse(400, document))
            return
        length = int(declared)
        if length > MAX_BODY_BYTES:
            document = {"error": "body_too_large", "detail": f"limit is {MAX_BODY_BYTES} bytes"}
            self._send_json(JsonResponse(413, document))
            return
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            response = self.server.api.handle(method, path, body)
        self._send_json(response)

    def _send_json(self, response: JsonResponse) -> None:
        self._send(response.status, response.body(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("simulator_request %s", format % args)


class Ticker(threading.Thread):
    """Advances the simulation on a fixed wall-clock cadence until stopped."""

    def __init__(self, server: SimulatorHttpServer, speed: float, tick_s: float) -> None:
        super().__init__(name="simulator-ticker", daemon=True)
        self._server = server
        self._speed = speed
        self._tick_s = tick_s
        self._stopped = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic()
        while not self._stopped.is_set():
            deadline += self._tick_s
            with self._server.lock:
                self._server.simulation.advance(self._tick_s * self._speed)
            lag_s = time.monotonic() - deadline
            if lag_s > 5 * self._tick_s:
                logger.warning("simulator_tick_lagging lag_s=%.2f", lag_s)
                deadline = time.monotonic()
            self._stopped.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stopped.set()


@dataclass
class RunningSimulator:
    """A simulator serving in background threads; ``stop()`` shuts it down."""

    host: str
    port: int
    simulation: Simulation
    _server: SimulatorHttpServer
    _ticker: Ticker
    _serving: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def lock(self) -> threading.Lock:
        """Hold this to read ``simulation`` consistently while it runs."""
        return self._server.lock

    def stop(self) -> None:
        self._ticker.stop()
        self._server.shutdown()
        self._server.server_close()
        self._ticker.join(timeout=5)
        self._serving.join(timeout=5)


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    speed: float = 1.0,
    tick_s: float = DEFAULT_TICK_S,
    options: ExporterOptions | None = None,
    shared_nodes: bool = False,
) -> RunningSimulator:
    """Serve a new simulation in background threads; port 0 picks a free port."""
    if speed <= 0.0 or tick_s <= 0.0:
        raise ValueError("speed and tick_s must be positive")
    simulation = Simulation(seed=seed, shared_nodes=shared_nodes)
    server = SimulatorHttpServer((host, port), simulation, options)
    ticker = Ticker(server, speed=speed, tick_s=tick_s)
    serving = threading.Thread(target=server.serve_forever, name="simulator-http", daemon=True)
    ticker.start()
    serving.start()
    logger.info(
        "simulator_started url=http://%s:%d seed=%d speed=%s", host, server.port, seed, speed
    )
    return RunningSimulator(host, server.port, server.simulation, server, ticker, serving)


def run(
    host: str,
    port: int,
    seed: int,
    speed: float,
    options: ExporterOptions | None = None,
    shared_nodes: bool = False,
) -> None:
    """Serve the simulator in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    running = start_in_thread(
        host=host, port=port, seed=seed, speed=speed, options=options, shared_nodes=shared_nodes
    )
    print(
        json.dumps(
            {"event": "simulator_started", "url": running.url, "seed": seed, "speed": speed}
        ),
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        logger.info("simulator_stopping")
    finally:
        running.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into the same clean shutdown as Ctrl-C."""
    raise KeyboardInterrupt
