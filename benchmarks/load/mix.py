"""The mixed traffic of `make bench-load`: which request comes next, and the outcome split per operation.

Each call of `Mix.make` draws an operation by weight and records it; benchmarks/api/load.py's `open_loop` calls
`make` once per scheduled request, in schedule order, and returns the outcomes in the same order, so the i-th
label belongs to the i-th outcome.

* `create`: POST /orders with a fresh Idempotency-Key for a random customer (201). A share of them are
  *retries* (`create retry`): the same key and body as a create sent at least `retry_after_s` earlier, as a
  client does after a timeout; the answer must be the first order again (200), never a second order.
* `read`: GET /orders/{id} by its customer.
* `tracking`: GET /orders/{id}/tracking by its customer; half of them for orders on a trip under way (tanker
  position from Redis, ETA, the route as GeoJSON), half for confirmed orders not yet planned.
* `positions`: POST /driver/positions, a batch of positions, the drivers in turn (so one driver's batches
  never overlap, as from one phone).
* `verify`: POST /rack/verify of a booked pickup code at its depot.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import deque

from benchmarks.api.load import Sample
from benchmarks.tracking.requests import positions_maker, raw, verify_requests
from benchmarks.tracking.world import World

OPERATIONS = ("create", "read", "tracking", "positions", "verify")
DEFAULT_MIX = "create=10,read=25,tracking=30,positions=20,verify=15"


def parse_mix(text: str) -> dict[str, float]:
    weights = {name.strip(): float(value) for name, value in (part.split("=") for part in text.split(","))}
    unknown = set(weights) - set(OPERATIONS)
    if unknown or not sum(weights.values()):
        raise ValueError(f"operations are {', '.join(OPERATIONS)}; got {text!r}")
    return weights


class Mix:
    def __init__(
        self,
        port: int,
        world: World,
        *,
        weights: dict[str, float],
        batch: int,
        retry_share: float,
        retry_after_s: float = 10.0,
        seed: int = 1,
    ) -> None:
        self.port, self.world, self.batch = port, world, batch
        self.rng = random.Random(seed)
        self.ops = [op for op in OPERATIONS if weights.get(op)]
        self.weights = [weights[op] for op in self.ops]
        self.retry_share, self.retry_after_s = retry_share, retry_after_s
        self.labels: list[str] = []
        self.run = secrets.token_hex(4)
        self.keys = 0
        self.recent: deque[tuple[float, bytes]] = deque()  # (sent at, request) of fresh creates, oldest first
        self.retryable: deque[bytes] = deque(maxlen=2000)  # creates old enough to be retried
        self.verifies = verify_requests(port, world)
        self.makers = [positions_maker(port, seat, batch) for seat in world.seats]
        self.turn = 0
        self.on_trip = [o for o in world.orders if o.on_trip]
        self.planned = [o for o in world.orders if not o.on_trip]

    def make(self) -> bytes:
        op = self.rng.choices(self.ops, self.weights)[0]
        if op == "create":
            request, op = self._create()
        elif op == "read":
            order = self.world.orders[self.rng.randrange(len(self.world.orders))]
            request = raw(self.port, "GET", f"/api/v1/orders/{order.order_id}", order.token)
        elif op == "tracking":
            pool = self.on_trip if self.on_trip and (not self.planned or self.rng.random() < 0.5) else self.planned
            order = pool[self.rng.randrange(len(pool))]
            request = raw(self.port, "GET", f"/api/v1/orders/{order.order_id}/tracking", order.token)
        elif op == "positions":
            self.turn = (self.turn + 1) % len(self.makers)
            request = self.makers[self.turn]()
        else:
            request = self.verifies[self.rng.randrange(len(self.verifies))]
        self.labels.append(op)
        return request

    def _create(self) -> tuple[bytes, str]:
        now = time.monotonic()
        while self.recent and self.recent[0][0] < now - self.retry_after_s:
            self.retryable.append(self.recent.popleft()[1])
        if self.retryable and self.rng.random() < self.retry_share:
            return self.retryable[self.rng.randrange(len(self.retryable))], "create retry"
        account = self.world.accounts[self.rng.randrange(len(self.world.accounts))]
        self.keys += 1
        head = (
            f"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {account.token}\r\n"
            f"Idempotency-Key: load-{self.run}-{self.keys}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(account.body)}\r\n\r\n"
        )
        request = head.encode() + account.body
        self.recent.append((now, request))
        return request, "create"

    def split(self, sample: Sample, labels: list[str]) -> dict[str, Sample]:
        """The sample per operation (and `all`), `labels` being this step's share of `self.labels`."""
        if len(labels) != len(sample.statuses):
            raise RuntimeError(f"{len(labels)} labels for {len(sample.statuses)} outcomes")
        parts: dict[str, Sample] = {}
        for label, status, latency in zip(labels, sample.statuses, sample.latencies, strict=True):
            part = parts.setdefault(label, Sample([], [], sample.seconds))
            part.statuses.append(status)
            part.latencies.append(latency)
        order = [*OPERATIONS[:1], "create retry", *OPERATIONS[1:]]
        return {"all": sample} | {op: parts[op] for op in order if op in parts}
