"""RedisGuardStore against the real local Redis: guards hold across threads and stores."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

from bot.adapters.redis_guards import RedisGuardStore
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import Allowed, Blocked
from bot.runbook.guards import GuardPolicy, Guards
from tests.fakes.runbooks import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; only its keys are deleted afterwards."""
    value = f"test:runbook-guards:{uuid.uuid4().hex[:10]}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def store(prefix: str) -> RedisGuardStore:
    return RedisGuardStore(redis.Redis.from_url(REDIS_URL), prefix)


def test_concurrent_admissions_exactly_one_wins(prefix: str) -> None:
    """Sixteen threads with their own stores race for one target: exactly one is admitted."""
    barrier = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        guards = Guards(store(prefix), FakeClock())
        barrier.wait()
        decision = guards.admit("llama", GuardPolicy(0, 100), lock_ttl_s=30)
        with lock:
            results.append(isinstance(decision, Allowed))

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 16
    assert results.count(True) == 1


def test_lock_is_released_only_by_its_owner(prefix: str) -> None:
    """Another store's wrong token cannot release the lock; the owner's token can."""
    clock = FakeClock()
    first, second = Guards(store(prefix), clock), Guards(store(prefix), clock)
    taken = first.admit("llama", GuardPolicy(0, 100), lock_ttl_s=30)
    assert isinstance(taken, Allowed)
    assert taken.lock_token is not None
    assert not second.release("llama", "someone-else")
    blocked = second.admit("llama", GuardPolicy(0, 100), lock_ttl_s=30)
    assert isinstance(blocked, Blocked)
    assert "another run" in blocked.reason
    assert second.release("llama", taken.lock_token)
    assert isinstance(second.admit("llama", GuardPolicy(0, 100), lock_ttl_s=30), Allowed)


def test_lock_expires_with_its_ttl(prefix: str) -> None:
    """A lock whose owner died frees itself after its TTL."""
    guards = Guards(store(prefix), FakeClock())
    assert isinstance(guards.admit("llama", GuardPolicy(0, 100), lock_ttl_s=0.05), Allowed)
    client = redis.Redis.from_url(REDIS_URL)
    pttl = client.pttl(f"{prefix}lock:llama")
    client.close()
    assert 0 < pttl <= 50
    threading.Event().wait(0.1)
    assert isinstance(guards.admit("llama", GuardPolicy(0, 100), lock_ttl_s=1), Allowed)


def test_cooldown_and_hourly_limit_hold_across_stores(prefix: str) -> None:
    """A run admitted through one store puts the target in cooldown for another store, and the
    hourly limit counts runs from both; the window slides after an hour."""
    clock = FakeClock()
    a, b = Guards(store(prefix), clock), Guards(store(prefix), clock)
    policy = GuardPolicy(cooldown_s=600, max_runs_per_hour=2)
    first = a.admit("llama", policy, lock_ttl_s=30)
    assert isinstance(first, Allowed)
    assert first.lock_token is not None
    a.release("llama", first.lock_token)
    clock.advance(60)
    cooling = b.admit("llama", policy, lock_ttl_s=30)
    assert isinstance(cooling, Blocked)
    assert "cooldown" in cooling.reason
    clock.advance(600)
    second = b.admit("llama", policy, lock_ttl_s=30)
    assert isinstance(second, Allowed)
    assert second.lock_token is not None
    b.release("llama", second.lock_token)
    clock.advance(700)
    limited = a.admit("llama", policy, lock_ttl_s=30)
    assert isinstance(limited, Blocked)
    assert "hourly limit: 2 runs" in limited.reason
    assert a.check("llama", policy) == limited
    clock.advance(3600 - 1360 + 1)
    assert isinstance(a.admit("llama", policy, lock_ttl_s=30), Allowed)


def test_pause_is_global_across_stores(prefix: str) -> None:
    """Pausing through one store blocks admissions through another until resumed."""
    clock = FakeClock()
    a, b = Guards(store(prefix), clock), Guards(store(prefix), clock)
    a.pause()
    assert b.paused("mistral")
    assert isinstance(b.admit("mistral", GuardPolicy(0, 5), lock_ttl_s=30), Blocked)
    a.resume()
    assert isinstance(b.admit("mistral", GuardPolicy(0, 5), lock_ttl_s=30), Allowed)


def test_unreachable_redis_is_upstream_unavailable(prefix: str) -> None:
    """A Redis that does not answer raises UpstreamUnavailableError."""
    dead = RedisGuardStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    with pytest.raises(UpstreamUnavailableError):
        dead.admit("llama", "t", 0.0, 0.0, 1, 10.0)
