"""Prometheus and Alertmanager durations (`30s`, `5m`, `1h30m`) as seconds."""

from __future__ import annotations

import re

_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration_s(text: str) -> float:
    """Seconds in a Prometheus duration such as `30s`, `5m`, `1h30m` (or `0`)."""
    if text == "0":
        return 0.0
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration")
    return float(sum(int(n) * _UNITS_S[u] for n, u in parts))
