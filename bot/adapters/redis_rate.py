"""Chat pacing shared by every process, in Redis: a per-channel token bucket and once-only keys.

`RedisTokenBucket` (the ChannelPacer port) refills `rate_per_s` tokens a second up to `burst`
per channel. One Lua script reads, refills and takes a token atomically, timed by the Redis
server's clock (`TIME`), so every web and worker process shares one bucket and one clock.
`acquire(channel)` answers 0.0 when a post may go now, otherwise the seconds until a token
will be there; nothing is taken in that case, so the caller retries after the wait. A post that
can wait (`can_wait`: thread lines, charts) takes a token only while half the burst would be
left, so under load the tokens go to the posts that cannot (root messages and their edits).

`RedisOnceGuard` (the OnceGuard port) claims a key with `SET NX PX`: the first claim wins,
repeats inside the window (Slack retries, double clicks) lose.
"""

from __future__ import annotations

import math

import redis
import structlog

from bot.domain.errors import UpstreamUnavailableError

log = structlog.get_logger(__name__)

# KEYS[1] bucket; ARGV: rate per second, burst, reserve. Answers the wait in seconds, as a
# string (Lua numbers would come back truncated to integers).
_REFILL_AND_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local reserve = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 + reserve then
  tokens = tokens - 1
else
  wait = (1 + reserve - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisTokenBucket:
    """A token bucket per chat channel (Slack allows about one message a second per channel)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        rate_per_s: float = 1.0,
        burst: int = 3,
        prefix: str = "firebreak:slack:pace",
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._client = client
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._prefix = prefix
        self._script = client.register_script(_REFILL_AND_TAKE)

    def key(self, channel: str) -> str:
        return f"{self._prefix}:{channel}"

    def acquire(self, channel: str, *, can_wait: bool = False) -> float:
        """Take a token for `channel`: 0.0 when allowed now, else the seconds to wait first."""
        reserve = (self._burst - 1) / 2 if can_wait else 0.0
        try:
            raw = self._script(
                keys=[self.key(channel)], args=[self._rate_per_s, self._burst, reserve]
            )
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"pacing store unavailable: {exc}") from exc
        wait_s = float(raw.decode() if isinstance(raw, bytes) else raw)
        if wait_s > 0:
            log.info("slack_post_paced", channel=channel, wait_s=round(wait_s, 3), reserve=reserve)
        return wait_s


class RedisOnceGuard:
    """Once-only claims on keys for a window, shared by every process."""

    def __init__(self, client: redis.Redis, prefix: str = "firebreak:slack:once") -> None:
        self._client = client
        self._prefix = prefix

    def key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    def claim(self, key: str, ttl_s: float) -> bool:
        """True for the first claim of `key` within `ttl_s`, False for every repeat."""
        try:
            won = self._client.set(self.key(key), "1", nx=True, px=max(1, math.ceil(ttl_s * 1000)))
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"claim store unavailable: {exc}") from exc
        return bool(won)

    def release(self, key: str) -> None:
        """Forget a claim whose action could not be handed on, so a retry may act."""
        try:
            self._client.delete(self.key(key))
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"claim store unavailable: {exc}") from exc
