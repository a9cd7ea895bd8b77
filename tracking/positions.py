"""Latest tanker positions: in Redis when configured (shared by every API process), in memory otherwise."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("diesel.positions")


class LatestPosition(msgspec.Struct):
    tanker_id: str
    lat: float
    lon: float
    recorded_at: str
    speed: float | None = None
    heading: float | None = None


class PositionStore(Protocol):
    async def put(self, position: LatestPosition) -> None: ...

    async def get(self, tanker_id: uuid.UUID) -> LatestPosition | None: ...

    async def all(self) -> list[LatestPosition]: ...


class MemoryPositionStore:
    def __init__(self) -> None:
        self._latest: dict[str, LatestPosition] = {}

    async def put(self, position: LatestPosition) -> None:
        current = self._latest.get(position.tanker_id)
        if current is None or current.recorded_at <= position.recorded_at:
            self._latest[position.tanker_id] = position

    async def get(self, tanker_id: uuid.UUID) -> LatestPosition | None:
        return self._latest.get(str(tanker_id))

    async def all(self) -> list[LatestPosition]:
        return list(self._latest.values())


class RedisPositionStore:
    """Latest positions shared by all API processes. Redis being down must not lose a batch (the history is in
    the database): writes and reads then fall back to this process's memory."""

    KEY = "diesel:positions"
    # Keep the newer of the stored and the given position in one round trip (batches may arrive out of order).
    _SCRIPT = """
    local current = redis.call('HGET', KEYS[1], ARGV[1])
    if current then
      local stored = cjson.decode(current)
      if stored['recorded_at'] > ARGV[3] then return 0 end
    end
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return 1
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put = redis.register_script(self._SCRIPT)
        self.fallback = MemoryPositionStore()

    async def put(self, position: LatestPosition) -> None:
        await self.fallback.put(position)
        try:
            await self._put(
                keys=[self.KEY], args=[position.tanker_id, msgspec.json.encode(position), position.recorded_at]
            )
        except RedisError:
            log.warning("Redis unavailable: latest position kept in this process only")

    async def get(self, tanker_id: uuid.UUID) -> LatestPosition | None:
        try:
            raw: Any = await self.redis.hget(self.KEY, str(tanker_id))
        except RedisError:
            return await self.fallback.get(tanker_id)
        return msgspec.json.decode(raw, type=LatestPosition) if raw else None

    async def all(self) -> list[LatestPosition]:
        try:
            raw: dict[Any, Any] = await self.redis.hgetall(self.KEY)
        except RedisError:
            return await self.fallback.all()
        return [msgspec.json.decode(v, type=LatestPosition) for v in raw.values()]
