"""Per-channel pacing and once-only claims in the real local Redis (db 12), shared by clients."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.adapters.redis_rate import RedisOnceGuard, RedisTokenBucket
from bot.domain.errors import UpstreamUnavailableError

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    name = f"firebreak-test:{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


def make_bucket(prefix: str, rate_per_s: float = 2.0, burst: int = 2) -> RedisTokenBucket:
    """A bucket over its own Redis connection, as a separate process would have."""
    client = redis.Redis.from_url(REDIS_URL)
    return RedisTokenBucket(client, rate_per_s=rate_per_s, burst=burst, prefix=prefix)


def test_burst_is_allowed_then_paced(prefix: str) -> None:
    """The first `burst` posts go at once; the next one is told how long to wait."""
    bucket = make_bucket(prefix, rate_per_s=2.0, burst=2)
    assert bucket.acquire("C1") == 0.0
    assert bucket.acquire("C1") == 0.0
    wait_s = bucket.acquire("C1")
    assert 0.3 < wait_s <= 0.5


def test_two_clients_share_one_bucket(prefix: str) -> None:
    """Two separate clients draw from the same channel bucket, so together they are paced."""
    first, second = make_bucket(prefix), make_bucket(prefix)
    assert first.acquire("C1") == 0.0
    assert second.acquire("C1") == 0.0
    assert first.acquire("C1") > 0
    assert second.acquire("C1") > 0


def test_channels_have_separate_buckets(prefix: str) -> None:
    """An exhausted channel does not slow another one."""
    bucket = make_bucket(prefix, burst=1)
    assert bucket.acquire("C1") == 0.0
    assert bucket.acquire("C1") > 0
    assert bucket.acquire("C2") == 0.0


def test_waiting_the_answered_time_lets_the_post_go(prefix: str) -> None:
    """After sleeping the returned wait, a token is there; a paced burst keeps ~rate per second."""
    bucket = make_bucket(prefix, rate_per_s=5.0, burst=1)
    started = time.monotonic()
    sent = 0
    while sent < 6:
        wait_s = bucket.acquire("C1")
        if wait_s == 0:
            sent += 1
        else:
            time.sleep(wait_s)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0


def test_posts_that_can_wait_leave_half_the_burst(prefix: str) -> None:
    """A post that can wait goes only while half the burst would be left; a post that cannot
    wait still gets the tokens it leaves."""
    bucket = make_bucket(prefix, rate_per_s=1.0, burst=5)
    assert [bucket.acquire("C1", can_wait=True) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait_s = bucket.acquire("C1", can_wait=True)  # 2 left < 1 + 2 kept in reserve
    assert 0.9 < wait_s <= 1.0
    assert [bucket.acquire("C1") for _ in range(2)] == [0.0, 0.0]
    assert bucket.acquire("C1") > 0


def test_bucket_keys_expire(prefix: str) -> None:
    """A bucket key carries a TTL, so idle channels leave nothing behind."""
    bucket = make_bucket(prefix, rate_per_s=1.0, burst=3)
    bucket.acquire("C1")
    ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(bucket.key("C1"))
    assert 0 < ttl_ms <= 4000


def test_once_guard_claims_a_key_once_until_released(prefix: str) -> None:
    """The first claim wins, repeats lose, and a release lets the next claim win."""
    guard = RedisOnceGuard(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    other = RedisOnceGuard(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    assert guard.claim("approve:run:41", 30)
    assert not other.claim("approve:run:41", 30)
    guard.release("approve:run:41")
    assert other.claim("approve:run:41", 30)


def test_unreachable_redis_is_upstream_unavailable() -> None:
    """A Redis that cannot be reached raises our UpstreamUnavailableError, not redis's."""
    client = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(UpstreamUnavailableError):
        RedisTokenBucket(client).acquire("C1")
    with pytest.raises(UpstreamUnavailableError):
        RedisOnceGuard(client).claim("k", 1)
