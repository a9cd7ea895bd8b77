"""Rate limits on what a stranger can do without a token: log in and apply for an account.

Counters live in memory by default and in Redis when configured (shared by every API process). While Redis is
down each process counts on its own: logins keep working and stay limited (per process) rather than failing.

Logins (`LoginThrottle`) are limited so that a stranger cannot lock anybody out:
- per client address, failed attempts in a fixed window (a success takes its attempt back): one address cannot
  spray passwords over many usernames;
- per username and address, after a few free failures each further attempt reserves the next slot 1 s, 2 s,
  4 s ... (at most `login_delay_max_s`) after the previous one; earlier attempts get 429 with Retry-After, even
  with the right password. A success clears the pair. Failures from another address never slow the real user
  down, and there is no per-username lock-out.
Each attempt counts before its password is checked (and gives the count back when it succeeds), so a burst of
parallel guesses gets no more tries than guesses sent one after another.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import TooManyRequests

log = logging.getLogger("diesel.ratelimit")
KEY_PREFIX = "diesel:ratelimit:"
FAILURE_MEMORY_S = 24 * 3600  # how long failures of a username and address are remembered without another one


class CounterStore(Protocol):
    async def incr(self, key: str, ttl_s: float, *, refresh: bool = False) -> int:
        """Add one; a new key expires after `ttl_s` (every time when `refresh`). The new count."""
        ...

    async def decr(self, key: str) -> None:
        """Take one back, if the key still exists."""
        ...

    async def acquire(self, key: str, ttl_s: float) -> bool:
        """Take `key` for `ttl_s` if nobody holds it."""
        ...

    async def ttl(self, key: str) -> float:
        """Seconds until `key` expires (0 when it does not exist)."""
        ...

    async def delete(self, *keys: str) -> None: ...


class MemoryStore:
    """One process's counters. Each method runs without awaiting, so it is atomic on the event loop."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, int]] = {}  # key -> (expires at, monotonic; count)

    def _live(self, key: str, now: float) -> tuple[float, int] | None:
        item = self._items.get(key)
        if item is not None and item[0] <= now:
            del self._items[key]
            return None
        return item

    async def incr(self, key: str, ttl_s: float, *, refresh: bool = False) -> int:
        now = time.monotonic()
        item = self._live(key, now)
        expires, count = item if item is not None else (now + ttl_s, 0)
        self._items[key] = (now + ttl_s if refresh else expires, count + 1)
        self._bound(now)
        return count + 1

    async def decr(self, key: str) -> None:
        item = self._live(key, time.monotonic())
        if item is not None:
            self._items[key] = (item[0], item[1] - 1)

    async def acquire(self, key: str, ttl_s: float) -> bool:
        now = time.monotonic()
        if self._live(key, now) is not None:
            return False
        self._items[key] = (now + ttl_s, 1)
        self._bound(now)
        return True

    async def ttl(self, key: str) -> float:
        now = time.monotonic()
        item = self._live(key, now)
        return max(0.0, item[0] - now) if item is not None else 0.0

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._items.pop(key, None)

    def _bound(self, now: float) -> None:
        if len(self._items) > 100_000:  # bound memory under a spraying attack: drop what has expired
            self._items = {k: v for k, v in self._items.items() if v[0] > now}


# DECR only a key that still exists: a key that expired meanwhile must not come back without an expiry.
_DECR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"


class RedisStore:
    """Shared by every API process; each method falls back to this process's memory while Redis is down."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.fallback = MemoryStore()

    def _down(self, error: RedisError) -> None:
        log.warning("Redis unavailable (%s): rate limits counted in this process", type(error).__name__)

    async def incr(self, key: str, ttl_s: float, *, refresh: bool = False) -> int:
        name, ms = KEY_PREFIX + key, max(1, int(ttl_s * 1000))
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, ms, nx=not refresh)
                count, _ = await pipe.execute()
        except RedisError as error:
            self._down(error)
            return await self.fallback.incr(key, ttl_s, refresh=refresh)
        return int(count)

    async def decr(self, key: str) -> None:
        try:
            await self.redis.eval(_DECR_IF_EXISTS, 1, KEY_PREFIX + key)
        except RedisError as error:
            self._down(error)
            await self.fallback.decr(key)

    async def acquire(self, key: str, ttl_s: float) -> bool:
        try:
            return bool(await self.redis.set(KEY_PREFIX + key, 1, px=max(1, int(ttl_s * 1000)), nx=True))
        except RedisError as error:
            self._down(error)
            return await self.fallback.acquire(key, ttl_s)

    async def ttl(self, key: str) -> float:
        try:
            ms = int(await self.redis.pttl(KEY_PREFIX + key))
        except RedisError as error:
            self._down(error)
            return await self.fallback.ttl(key)
        return max(0.0, ms / 1000)

    async def delete(self, *keys: str) -> None:
        await self.fallback.delete(*keys)
        try:
            await self.redis.delete(*(KEY_PREFIX + k for k in keys))
        except RedisError as error:
            self._down(error)


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class LoginThrottle:
    def __init__(
        self, store: CounterStore, *, per_address: int, window_s: int, free_failures: int, max_delay_s: int
    ) -> None:
        self.store = store
        self.per_address, self.window_s = per_address, window_s
        self.free_failures, self.max_delay_s = free_failures, max_delay_s

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str, str]:
        pair = f"{username.lower()}|{address}"
        return f"login:ip:{address}", f"login:fail:{pair}", f"login:gate:{pair}"

    async def attempt(self, *, username: str, address: str) -> None:
        """Count an attempt as failed until `succeeded` says otherwise; 429 when the address or the pair must wait."""
        ip_key, fail_key, gate_key = self._keys(username, address)
        if await self.store.incr(ip_key, self.window_s) > self.per_address:
            await self.store.decr(ip_key)
            raise TooManyRequests(
                "too many failed logins from this address; wait and try again",
                code="too_many_login_attempts",
                retry_after=_retry_after(await self.store.ttl(ip_key)),
            )
        failures = await self.store.incr(fail_key, FAILURE_MEMORY_S, refresh=True)
        if failures > self.free_failures:
            delay = min(self.max_delay_s, 2 ** min(failures - self.free_failures - 1, 30))
            if not await self.store.acquire(gate_key, delay):
                await self.store.decr(fail_key)
                await self.store.decr(ip_key)
                raise TooManyRequests(
                    "wrong passwords for this user from this address: wait before the next try",
                    code="login_delayed",
                    retry_after=_retry_after(await self.store.ttl(gate_key)),
                )

    async def succeeded(self, *, username: str, address: str) -> None:
        ip_key, fail_key, gate_key = self._keys(username, address)
        await self.store.decr(ip_key)
        await self.store.delete(fail_key, gate_key)


class WindowLimit:
    """At most `limit` actions per key and fixed window (e.g. applications per client address)."""

    def __init__(self, store: CounterStore, *, name: str, limit: int, window_s: int, code: str) -> None:
        self.store, self.name, self.limit, self.window_s, self.code = store, name, limit, window_s, code

    async def hit(self, key: str) -> None:
        name = f"{self.name}:{key}"
        if await self.store.incr(name, self.window_s) > self.limit:
            raise TooManyRequests(
                "too many requests from this address; try again later",
                code=self.code,
                retry_after=_retry_after(await self.store.ttl(name)),
            )
