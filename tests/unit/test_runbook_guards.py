"""The guard rule and its use: pause, one run per target, cooldown, hourly sliding limit."""

from __future__ import annotations

from bot.domain.runbooks import Allowed, Blocked, GuardUsage
from bot.runbook.guards import GuardPolicy, Guards, evaluate
from tests.fakes.runbooks import FakeClock, FakeGuardStore

POLICY = GuardPolicy(cooldown_s=600, max_runs_per_hour=2)
NOW_S = 10_000.0


def usage(**kw: object) -> GuardUsage:
    base: dict[str, object] = {
        "paused": False,
        "lock_held": False,
        "last_started_at_s": None,
        "runs_last_hour": 0,
    }
    return GuardUsage(**{**base, **kw})  # type: ignore[arg-type]


def test_fresh_target_is_allowed() -> None:
    """A target with no history, no lock and no pause is allowed."""
    assert evaluate(usage(), NOW_S, POLICY) == Allowed()


def test_each_guard_blocks_with_its_reason() -> None:
    """Pause, lock, cooldown and hourly limit each block, naming why."""
    cases = {
        "paused": usage(paused=True),
        "another run": usage(lock_held=True),
        "cooldown": usage(last_started_at_s=NOW_S - 60, runs_last_hour=1),
        "hourly limit": usage(last_started_at_s=NOW_S - 1200, runs_last_hour=2),
    }
    for word, state in cases.items():
        decision = evaluate(state, NOW_S, POLICY)
        assert isinstance(decision, Blocked)
        assert word in decision.reason


def test_pause_wins_over_other_reasons() -> None:
    """A global pause is reported first, whatever else holds."""
    decision = evaluate(usage(paused=True, lock_held=True), NOW_S, POLICY)
    assert isinstance(decision, Blocked)
    assert decision.reason == "runbooks are paused"


def test_admission_takes_lock_and_release_needs_owner() -> None:
    """Admission hands out a token; a second admission is blocked; only the token releases."""
    clock = FakeClock()
    guards = Guards(FakeGuardStore(), clock)
    first = guards.admit("llama", GuardPolicy(0, 10), lock_ttl_s=60)
    assert isinstance(first, Allowed)
    assert first.lock_token
    assert isinstance(guards.admit("llama", GuardPolicy(0, 10), lock_ttl_s=60), Blocked)
    assert isinstance(guards.admit("mistral", GuardPolicy(0, 10), lock_ttl_s=60), Allowed)
    assert not guards.release("llama", "not-the-token")
    assert guards.release("llama", first.lock_token)


def test_cooldown_then_hourly_window_slides() -> None:
    """After the cooldown the next run is allowed until the hourly count is full, then an
    hour after the oldest start it is allowed again."""
    clock = FakeClock()
    store = FakeGuardStore()
    guards = Guards(store, clock)
    policy = GuardPolicy(cooldown_s=600, max_runs_per_hour=2)
    for _ in range(2):
        decision = guards.admit("llama", policy, lock_ttl_s=60)
        assert isinstance(decision, Allowed)
        assert decision.lock_token is not None
        guards.release("llama", decision.lock_token)
        assert isinstance(guards.check("llama", policy), Blocked)
        clock.advance(700)
    blocked = guards.admit("llama", policy, lock_ttl_s=60)
    assert isinstance(blocked, Blocked)
    assert "hourly" in blocked.reason
    clock.advance(3600 - 1400 + 1)
    assert isinstance(guards.admit("llama", policy, lock_ttl_s=60), Allowed)


def test_pause_and_resume() -> None:
    """Pausing blocks every target's admission; resuming lifts it."""
    guards = Guards(FakeGuardStore(), FakeClock())
    guards.pause()
    assert guards.paused("llama")
    assert isinstance(guards.admit("llama", POLICY, lock_ttl_s=60), Blocked)
    guards.resume()
    assert isinstance(guards.admit("llama", POLICY, lock_ttl_s=60), Allowed)
