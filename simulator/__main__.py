"""``python -m simulator``: run the fleet simulator alone (same as ``firebreak simulate``)."""

from __future__ import annotations

import argparse
import logging

from simulator.command_line import add_simulator_flags, exporter_options
from simulator.server import run


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Run the simulated GenAI serving fleet."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per wall-clock second"
    )
    add_simulator_flags(parser)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(
        arguments.host,
        arguments.port,
        arguments.seed,
        arguments.speed,
        options=exporter_options(arguments),
        shared_nodes=arguments.shared_nodes,
    )


if __name__ == "__main__":
    main()
