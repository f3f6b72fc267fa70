"""CircuitBreaker: open after N consecutive failures, one trial after the cool-down."""

from __future__ import annotations

from bot.summary.circuit import CircuitBreaker, CircuitState


def test_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    """N failures open it; after the cool-down exactly one trial call is allowed."""
    now = [0.0]
    breaker = CircuitBreaker("llm", failure_threshold=3, cooldown_s=30, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    now[0] = 30.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_failed_trial_reopens_and_success_closes() -> None:
    """A failed trial opens it for another cool-down; a successful one closes it."""
    now = [0.0]
    breaker = CircuitBreaker("llm", failure_threshold=1, cooldown_s=10, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()


def test_success_resets_the_consecutive_count() -> None:
    """Failures separated by a success never open the circuit."""
    breaker = CircuitBreaker("llm", failure_threshold=2, cooldown_s=10)
    for _ in range(5):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
