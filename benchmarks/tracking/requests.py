"""Raw HTTP/1.1 requests (bytes, for benchmarks/api/load.py's Client) of the rack and the driver's app."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec

from benchmarks.tracking.world import Code, Seat, World

HOST = "127.0.0.1"


def raw(port: int, method: str, path: str, token: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def verify_requests(port: int, world: World) -> list[bytes]:
    """POST /rack/verify of each booked code, at its depot, with its truck's plate."""
    return [
        raw(
            port,
            "POST",
            "/api/v1/rack/verify",
            world.rack_token,
            msgspec.json.encode({"token": c.token, "depot_id": str(c.depot_id), "vehicle_plate": c.plate}),
        )
        for c in world.codes
    ]


def redeem_request(port: int, world: World, c: Code) -> bytes:
    """POST /rack/redeem: 4,950 L metered at 21.5 °C (within the booked 5,000 L once corrected to 15 °C)."""
    body = {
        "token": c.token,
        "depot_id": str(c.depot_id),
        "loaded_litres_observed": 4950,
        "temperature_c": 21.5,
        "vehicle_plate": c.plate,
    }
    return raw(port, "POST", "/api/v1/rack/redeem", world.rack_token, msgspec.json.encode(body))


def positions_maker(port: int, seat: Seat, batch: int) -> Callable[[], bytes]:
    """POST /driver/positions: batches of `batch` positions of one tanker, a second apart, ending now."""
    counter = itertools.count()

    def make() -> bytes:
        k = next(counter)
        now = datetime.now(UTC)
        body = msgspec.json.encode(
            [
                {
                    "lat": round(seat.lat + 1e-5 * (k * batch + i) % 0.2, 6),
                    "lon": round(seat.lon + 1e-5 * (k * batch + i) % 0.2, 6),
                    "recorded_at": now - timedelta(seconds=batch - i),
                    "speed": 42.0,
                    "heading": 45.0,
                }
                for i in range(batch)
            ]
        )
        return raw(port, "POST", "/api/v1/driver/positions", seat.token, body)

    return make
