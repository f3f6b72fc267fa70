"""The Redis client Firebreak's Redis adapters run on, and the one place that builds it.

The composition root builds one per process with `redis_client(url)` and hands it to the
adapters that share it (RedisTokenBucket, RedisOnceGuard, RedisGuardStore); `RedisClient` names
its type for code that holds one without importing redis-py. Timeouts are short: a command to a
Redis that went away fails in seconds and the adapter says so with Firebreak's own error.
"""

from __future__ import annotations

from typing import TypeAlias

import redis

RedisClient: TypeAlias = redis.Redis
TIMEOUT_S = 2.0


def redis_client(url: str, timeout_s: float = TIMEOUT_S) -> RedisClient:
    """A client for `url` that gives up connecting or waiting for a reply after `timeout_s`."""
    return redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
