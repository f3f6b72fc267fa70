"""Child processes that do not outlive the process that started them, and the backoff for
restarting one that exited.

On Linux, `die_with_parent` (a Popen `preexec_fn`) asks the kernel to send the child SIGTERM
when its parent dies, however it dies: a SIGKILLed `firebreak up` or demo leaves no API,
worker, Prometheus or Alertmanager behind. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1
# Resolved now, in the parent: between fork and exec the child only makes the one call.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Run in the child between fork and exec: SIGTERM it when the parent exits."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Backoff:
    """Restart delays for one child: 1 s doubling to `max_s`, back to 1 s once a start lasted
    `stable_s` (a crash loop slows down; a rare crash restarts at once)."""

    first_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0
    _delay_s: float = 0.0
    _started_at: float = 0.0

    def started(self, now: float) -> None:
        self._started_at = now

    def next_delay_s(self, now: float) -> float:
        """The delay before the next start of a child that exited at `now`."""
        if now - self._started_at >= self.stable_s or self._delay_s == 0:
            self._delay_s = self.first_s
        else:
            self._delay_s = min(self.max_s, self._delay_s * 2)
        return self._delay_s
