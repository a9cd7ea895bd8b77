"""A small HTTP/1.1 load generator: asyncio (uvloop) + httptools, keep-alive connections, raw request bytes.

httpx costs far more CPU per request than the server's own parsing, and on a 2-core machine the load generator
shares the cores with the server and PostgreSQL, so this one keeps its per-request work minimal.

* `open_loop`: requests scheduled at a constant rate; latency is measured from the *scheduled* time, so a stalled
  server shows up as latency instead of as a lower send rate (no coordinated omission). A request that waited
  `queue_timeout` for a free connection is dropped unsent and counted as such (latency: infinite).
* `closed_loop`: `concurrency` clients each sending the next request when the previous answer arrived: the ceiling.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools

DROPPED = -1  # never sent: no free connection within the queue timeout
FAILED = 0  # connection error: outcome unknown


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.BaseTransport | None = None
        self.answer: asyncio.Future[int] | None = None
        self.body = bytearray()
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(exc or ConnectionResetError("connection closed"))

    def _fail(self, error: Exception) -> None:
        self.open = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)

    async def send(self, raw: bytes) -> int:
        assert self.transport is not None
        self.body.clear()
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(raw)  # type: ignore[attr-defined]
        return await self.answer


@dataclass
class Client:
    host: str
    port: int
    max_connections: int
    idle: list[_Connection] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.max_connections)

    async def request(self, raw: bytes, *, queue_timeout: float | None = None) -> int:
        """The response's status; DROPPED when no connection was free in time, FAILED on a connection error."""
        try:
            await asyncio.wait_for(self.slots.acquire(), queue_timeout)
        except TimeoutError:
            return DROPPED
        conn = None
        try:
            conn = self.idle.pop() if self.idle else await self._connect()
            status = await conn.send(raw)
            if status >= 400 and len(self.error_samples) < 5:
                self.error_samples.append(f"{status} {bytes(conn.body[:300]).decode(errors='replace')}")
            if conn.open and conn.parser.should_keep_alive():
                self.idle.append(conn)
                conn = None
            return status
        except OSError as error:
            if len(self.error_samples) < 5:
                self.error_samples.append(repr(error))
            return FAILED
        finally:
            if conn is not None and conn.transport is not None:
                conn.transport.close()
            self.slots.release()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()


@dataclass
class Sample:
    """Outcomes of one step: (status, latency in seconds) per request, and the wall time it took."""

    statuses: list[int]
    latencies: list[float]
    seconds: float

    @property
    def ok(self) -> int:
        return sum(1 for st in self.statuses if 200 <= st < 300)

    @property
    def created(self) -> int:
        return self.statuses.count(201)

    @property
    def dropped(self) -> int:
        return self.statuses.count(DROPPED)

    @property
    def errors(self) -> int:
        return len(self.statuses) - self.ok - self.dropped

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (seconds) over every scheduled request; dropped ones count as infinite."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


async def open_loop(
    client: Client, make: Callable[[], bytes], *, rate: float, seconds: float, queue_timeout: float
) -> Sample:
    loop = asyncio.get_running_loop()
    count = round(rate * seconds)
    start = loop.time() + 0.01

    async def one(at: float) -> tuple[int, float]:
        status = await client.request(make(), queue_timeout=max(0.001, at + queue_timeout - loop.time()))
        return status, (math.inf if status == DROPPED else loop.time() - at)

    tasks = []
    for i in range(count):
        at = start + i / rate
        if (delay := at - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(at)))
    results = await asyncio.gather(*tasks)
    return Sample([r[0] for r in results], [r[1] for r in results], loop.time() - start)


async def closed_loop(client: Client, make: Callable[[], bytes], *, concurrency: int, seconds: float) -> Sample:
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + seconds
    statuses: list[int] = []
    latencies: list[float] = []

    async def user() -> None:
        while loop.time() < end:
            sent = loop.time()
            statuses.append(await client.request(make()))
            latencies.append(loop.time() - sent)

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return Sample(statuses, latencies, loop.time() - start)
