"""``python -m simulator``: run the fleet simulator alone (same as ``firebreak simulate``)."""

from __future__ import annotations

import argparse
import logging

from simulator.series import ExporterOptions
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
    add_exporter_flags(parser)
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


def add_exporter_flags(parser: argparse.ArgumentParser) -> None:
    """The exporter and layout switches, shared with ``firebreak simulate``."""
    parser.add_argument(
        "--no-pod-mapping",
        action="store_true",
        help="dcgm-exporter without Kubernetes pod mapping (no pod/namespace/container)",
    )
    parser.add_argument(
        "--old-vllm-names",
        action="store_true",
        help="vLLM < 0.10 names (vllm:gpu_cache_usage_perc, vllm:time_per_output_token_seconds)",
    )
    parser.add_argument(
        "--old-dcgm-names",
        action="store_true",
        help="older dcgm-exporter name DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
    )
    parser.add_argument(
        "--shared-nodes",
        action="store_true",
        help="run reranker-v2 on GPU 1 of llama's primary nodes (two models per node)",
    )


def exporter_options(arguments: argparse.Namespace) -> ExporterOptions:
    return ExporterOptions(
        dcgm_pod_mapping=not arguments.no_pod_mapping,
        vllm_names="old" if arguments.old_vllm_names else "new",
        dcgm_names="old" if arguments.old_dcgm_names else "new",
    )


if __name__ == "__main__":
    main()
