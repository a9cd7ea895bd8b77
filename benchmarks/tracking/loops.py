"""Two more load shapes on top of benchmarks/api/load.py (same Client and Sample):

* `drain`: every request of a list sent exactly once, by `concurrency` clients: the throughput of one-off work
  (each pickup code can be redeemed once);
* `per_user`: one closed-loop client per user (each driver sends its next batch when the previous one was
  answered, never two at once), the samples merged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from benchmarks.api.load import Client, Sample, closed_loop


async def drain(client: Client, requests: list[bytes], *, concurrency: int) -> Sample:
    loop = asyncio.get_running_loop()
    pending = iter(requests)  # shared: each request is taken by exactly one client
    statuses: list[int] = []
    latencies: list[float] = []
    start = loop.time()

    async def user() -> None:
        for raw in pending:
            sent = loop.time()
            statuses.append(await client.request(raw))
            latencies.append(loop.time() - sent)

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return Sample(statuses, latencies, loop.time() - start)


async def per_user(client: Client, makers: list[Callable[[], bytes]], *, seconds: float) -> Sample:
    samples = await asyncio.gather(*(closed_loop(client, make, concurrency=1, seconds=seconds) for make in makers))
    return Sample(
        [st for sample in samples for st in sample.statuses],
        [lat for sample in samples for lat in sample.latencies],
        max(sample.seconds for sample in samples),
    )
