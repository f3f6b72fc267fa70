"""Children started with `die_with_parent` do not outlive a parent killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.processes import ROOT, wait_for

PARENT = """
import subprocess, sys, time
from bot.supervision import die_with_parent
child = subprocess.Popen(["sleep", "120"], preexec_fn=die_with_parent)
print(child.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie awaiting its reaper is not alive
        return stat.read().split()[2] != "Z"


def test_child_is_terminated_when_its_parent_is_sigkilled() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=5)
    wait_for(lambda: not alive(child_pid), timeout_s=5)
