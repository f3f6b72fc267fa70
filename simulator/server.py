"""The simulator served over HTTP: the FastAPI app of ``simulator.app`` on uvicorn in a
thread, and the clock that drives it.

Uvicorn answers requests; a ticker thread advances the simulation every ``tick_s`` wall
seconds by ``tick_s * speed`` simulated seconds. One lock serialises the ticker and every
request, so a scrape always sees one consistent instant.

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
import socket
import threading
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn

from simulator.app import create_app
from simulator.series import ExporterOptions
from simulator.simulation import Simulation

logger = logging.getLogger(__name__)

DEFAULT_TICK_S = 0.25
STARTUP_TIMEOUT_S = 10.0
STOP_GRACE_S = 2
"""How long ``stop()`` lets requests in flight finish before cancelling them."""


class Ticker(threading.Thread):
    """Advances the simulation on a fixed wall-clock cadence until stopped."""

    def __init__(
        self, simulation: Simulation, lock: threading.Lock, speed: float, tick_s: float
    ) -> None:
        super().__init__(name="simulator-ticker", daemon=True)
        self._simulation = simulation
        self._lock = lock
        self._speed = speed
        self._tick_s = tick_s
        self._stopped = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic()
        while not self._stopped.is_set():
            deadline += self._tick_s
            with self._lock:
                self._simulation.advance(self._tick_s * self._speed)
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
    _lock: threading.Lock
    _server: uvicorn.Server
    _ticker: Ticker
    _serving: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def lock(self) -> threading.Lock:
        """Hold this to read ``simulation`` consistently while it runs."""
        return self._lock

    def stop(self) -> None:
        """Stop the clock and the server; the port is free again on return."""
        self._ticker.stop()
        self._server.should_exit = True
        self._serving.join(timeout=STOP_GRACE_S + 3)
        self._ticker.join(timeout=5)


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    speed: float = 1.0,
    tick_s: float = DEFAULT_TICK_S,
    options: ExporterOptions | None = None,
    shared_nodes: bool = False,
) -> RunningSimulator:
    """Serve a new simulation in background threads and return once it answers; port 0
    picks a free port. OSError when the address cannot be bound."""
    if speed <= 0.0 or tick_s <= 0.0:
        raise ValueError("speed and tick_s must be positive")
    simulation = Simulation(seed=seed, shared_nodes=shared_nodes)
    lock = threading.Lock()
    listener = _listen(host, port)
    bound_port = int(listener.getsockname()[1])
    config = uvicorn.Config(
        create_app(simulation, options, lock),
        host=host,
        port=bound_port,
        lifespan="off",
        log_config=None,  # leave the host process's logging as it is
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=STOP_GRACE_S,
    )
    server = uvicorn.Server(config)
    serving = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="simulator-http", daemon=True
    )
    serving.start()
    _wait_until_serving(server, serving, listener)
    ticker = Ticker(simulation, lock, speed=speed, tick_s=tick_s)
    ticker.start()
    logger.info(
        "simulator_started url=http://%s:%d seed=%d speed=%s", host, bound_port, seed, speed
    )
    return RunningSimulator(host, bound_port, simulation, lock, server, ticker, serving)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before uvicorn starts so the port is known (and taken) now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _wait_until_serving(
    server: uvicorn.Server, serving: threading.Thread, listener: socket.socket
) -> None:
    """Return once uvicorn accepts connections; RuntimeError if it stopped or never did."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not serving.is_alive() or time.monotonic() > deadline:
            address = listener.getsockname()
            server.should_exit = True
            serving.join(timeout=STOP_GRACE_S + 3)
            listener.close()
            raise RuntimeError(f"the simulator did not start serving on {address}")
        time.sleep(0.01)


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
