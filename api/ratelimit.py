"""Fixed-window counters for login attempts: in memory by default, in Redis when configured (shared by workers)."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("diesel.ratelimit")


class RateLimiter(Protocol):
    async def hit(self, key: str) -> int: ...

    async def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self._counts: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str) -> int:
        now = time.monotonic()
        started, count = self._counts.get(key, (now, 0))
        if now - started >= self.window_s:
            started, count = now, 0
        self._counts[key] = (started, count + 1)
        if len(self._counts) > 100_000:  # bound memory under a username-spraying attack
            self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window_s}
        return count + 1

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisRateLimiter:
    """Shared by every API process. While Redis is down, each process counts on its own: logins keep working
    and stay limited (per process) rather than failing."""

    def __init__(self, redis: Redis, window_s: int) -> None:
        self.redis = redis
        self.window_s = window_s
        self.fallback = MemoryRateLimiter(window_s)

    async def hit(self, key: str) -> int:
        name = f"diesel:ratelimit:{key}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, self.window_s, nx=True)
                count, _ = await pipe.execute()
        except RedisError:
            log.warning("Redis unavailable: login rate limit counted in this process")
            return await self.fallback.hit(key)
        return int(count)

    async def reset(self, key: str) -> None:
        await self.fallback.reset(key)
        with contextlib.suppress(RedisError):
            await self.redis.delete(f"diesel:ratelimit:{key}")
