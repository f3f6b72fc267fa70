"""The Redis broker the workers use: kombu's transport with its restore-on-reconnect path fixed,
and a probe that asks the broker whether it answers.

When the broker connection drops while a worker holds unacknowledged messages (a task in hand
with late acks, an ETA or countdown waiting in the worker), Celery's consumer first `collect()`s
the connection and then `close()`s it. In kombu 5.x the redis Channel's close fails half-way
during `collect()` (reading the dead socket raises a connection error that kombu ignores), and
`collect()` then drops the transport's `client`. The second `close()` restores the unacked
messages, which rebuilds the channel's connection pool from `transport.client` — now None — and
raises `AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not a connection
error, so it escapes Celery's reconnect loop and the worker exits ("Unrecoverable error").

`FirebreakRedisTransport` gives each channel the broker connection it was opened with, so the
restore runs against the broker (and, if the broker is still down, fails with a connection
error Celery recovers from: the messages stay in Redis's unacked index and come back after the
visibility timeout).

`RedisBrokerProbe` PINGs the broker; a Redis failure becomes BrokerUnavailableError, so the
worker's heartbeat never sees redis-py's errors.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis

from bot.adapters.redis_client import RedisClient
from bot.domain.errors import BrokerUnavailableError


class FirebreakRedisChannel(kombu_redis.Channel):
    """A redis Channel that keeps the broker connection it was opened with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before kombu's __init__, which may already build a client.
        transport = args[0] if args else kwargs["connection"]
        self._broker_connection: Connection | None = transport.client
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None and self._broker_connection is not None:
            self.connection.client = self._broker_connection
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class FirebreakRedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with FirebreakRedisChannel."""

    Channel = FirebreakRedisChannel


TRANSPORT = f"{__name__}:FirebreakRedisTransport"


class RedisBrokerProbe:
    """Answers whether the broker takes commands: `ping()` returns, or raises
    BrokerUnavailableError saying why."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailableError(f"broker unreachable: {exc}") from exc
