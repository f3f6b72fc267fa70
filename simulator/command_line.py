"""The simulator's command-line switches, shared by ``python -m simulator`` and
``firebreak simulate``: exporter options (pod mapping, old metric names) and the node layout."""

from __future__ import annotations

import argparse

from simulator.series import ExporterOptions


def add_simulator_flags(parser: argparse.ArgumentParser) -> None:
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
    """The ``ExporterOptions`` the parsed flags ask for."""
    return ExporterOptions(
        dcgm_pod_mapping=not arguments.no_pod_mapping,
        vllm_names="old" if arguments.old_vllm_names else "new",
        dcgm_names="old" if arguments.old_dcgm_names else "new",
    )
