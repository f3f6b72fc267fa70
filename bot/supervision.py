"""Child processes that do not outlive the process that started them.

On Linux, `die_with_parent` (a Popen `preexec_fn`) asks the kernel to send the child SIGTERM
when its parent dies, however it dies: a SIGKILLed `firebreak up` or demo leaves no API,
worker, Prometheus or Alertmanager behind. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1
# Resolved now, in the parent: between fork and exec the child only makes the one call.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Run in the child between fork and exec: SIGTERM it when the parent exits."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
