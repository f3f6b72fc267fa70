"""`firebreak up` restarts a crashed child after a backoff that grows in a crash loop."""

from __future__ import annotations

from bot.supervision import Backoff


def test_backoff_doubles_in_a_crash_loop_up_to_its_cap() -> None:
    """Children that exit right after starting wait 1, 2, 4 ... seconds, never more than 30."""
    backoff = Backoff()
    delays = []
    now = 0.0
    for _ in range(8):
        backoff.started(now)
        now += 0.5
        delays.append(backoff.next_delay_s(now))
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_resets_after_a_stable_run() -> None:
    """A child that ran for a minute before exiting is restarted after one second again."""
    backoff = Backoff()
    backoff.started(0.0)
    assert backoff.next_delay_s(0.1) == 1
    backoff.started(1.1)
    assert backoff.next_delay_s(1.2) == 2
    backoff.started(3.2)
    assert backoff.next_delay_s(100.0) == 1
