"""RedisGuardStore: the GuardStore port in Redis, so guards hold across every process.

Keys (under a prefix): `paused` (the global pause flag), `lock:{target}` (the run lock: a
random owner token with a TTL), `starts:{target}` (a sorted set of run starts scored by unix
seconds: the sliding hour) and `last:{target}` (the last start, for the cooldown).
Admission is one Lua script, so the check and the record are atomic; release is a Lua
compare-and-delete, so only the lock's owner can release it. Redis errors become
UpstreamUnavailableError.
"""

from __future__ import annotations

from typing import Any

import redis
import structlog

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import Allowed, Blocked, GuardDecision, GuardUsage
from bot.runbook.guards import HOUR_S, GuardPolicy, evaluate

log = structlog.get_logger(__name__)
MAX_COOLDOWN_S = 86_400

# KEYS: paused, lock, starts, last. ARGV: token, now_s, cooldown_s, max_runs, lock_ttl_ms,
# hour_s, keep_last_s. Returns {admitted, paused, lock_held, last_start_s or "", runs}.
_ADMIT = """
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
local paused = redis.call('EXISTS', KEYS[1])
local held = redis.call('EXISTS', KEYS[2])
local last = redis.call('GET', KEYS[4])
local runs = redis.call('ZCARD', KEYS[3])
local cooling = last and (now - tonumber(last) < tonumber(ARGV[3]))
if paused == 1 or held == 1 or cooling or runs >= tonumber(ARGV[4]) then
  return {0, paused, held, last or '', runs}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('EXPIRE', KEYS[3], math.ceil(tonumber(ARGV[6])) + 60)
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[7])
return {1, paused, held, ARGV[2], runs + 1}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisGuardStore:
    """Guards shared through one Redis; `prefix` keeps deployments (and tests) apart."""

    def __init__(self, client: redis.Redis, prefix: str = "firebreak:guards:") -> None:
        self._redis = client
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "firebreak:guards:") -> RedisGuardStore:
        return cls(redis.Redis.from_url(url, socket_timeout=5.0), prefix)

    def _keys(self, target: str) -> list[str]:
        p = self._prefix
        return [f"{p}paused", f"{p}lock:{target}", f"{p}starts:{target}", f"{p}last:{target}"]

    def usage(self, target: str, now_s: float) -> GuardUsage:
        paused, lock, starts, last = self._keys(target)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.exists(paused)
            pipe.exists(lock)
            pipe.get(last)
            pipe.zcount(starts, f"({now_s - HOUR_S}", "+inf")
            is_paused, held, last_s, runs = pipe.execute()
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"guard store unavailable: {exc}") from exc
        return GuardUsage(
            paused=bool(is_paused),
            lock_held=bool(held),
            last_started_at_s=None if last_s is None else float(last_s),
            runs_last_hour=int(runs),
        )

    def admit(
        self,
        target: str,
        token: str,
        now_s: float,
        cooldown_s: float,
        max_runs_per_hour: int,
        lock_ttl_s: float,
    ) -> GuardDecision:
        args: list[Any] = [
            token,
            repr(float(now_s)),
            repr(float(cooldown_s)),
            max_runs_per_hour,
            max(1, int(lock_ttl_s * 1000)),
            repr(HOUR_S),
            MAX_COOLDOWN_S,
        ]
        try:
            reply = self._admit(keys=self._keys(target), args=args)
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"guard store unavailable: {exc}") from exc
        admitted, paused, held, last, runs = reply
        if admitted:
            log.info("redis_guard_admitted", target=target)
            return Allowed(lock_token=token)
        usage = GuardUsage(
            paused=bool(paused),
            lock_held=bool(held),
            last_started_at_s=float(last) if last else None,
            runs_last_hour=int(runs),
        )
        decision = evaluate(usage, now_s, GuardPolicy(cooldown_s, max_runs_per_hour))
        return (
            decision if isinstance(decision, Blocked) else Blocked("guard store refused", "store")
        )

    def release(self, target: str, token: str) -> bool:
        try:
            return bool(self._release(keys=[self._keys(target)[1]], args=[token]))
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"guard store unavailable: {exc}") from exc

    def set_paused(self, paused: bool) -> None:
        key = self._keys("")[0]
        try:
            if paused:
                self._redis.set(key, "1")
            else:
                self._redis.delete(key)
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"guard store unavailable: {exc}") from exc
        log.info("redis_guard_pause_set", paused=paused)
