"""Latest tanker positions: in Redis when configured (shared by every API process), in memory otherwise."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis


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

    async def put(self, position: LatestPosition) -> None:
        await self._put(keys=[self.KEY], args=[position.tanker_id, msgspec.json.encode(position), position.recorded_at])

    async def get(self, tanker_id: uuid.UUID) -> LatestPosition | None:
        raw: Any = await self.redis.hget(self.KEY, str(tanker_id))
        return msgspec.json.decode(raw, type=LatestPosition) if raw else None

    async def all(self) -> list[LatestPosition]:
        raw: dict[Any, Any] = await self.redis.hgetall(self.KEY)
        return [msgspec.json.decode(v, type=LatestPosition) for v in raw.values()]
