"""A webhook receiver on 127.0.0.1 inside the load generator's event loop: answers 204 to every POST and counts
the distinct deliveries (X-Diesel-Delivery) it saw."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class Receiver:
    requests: int = 0
    deliveries: set[str] = field(default_factory=set)
    server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._handle, host, port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:] if line)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if delivery := headers.get("x-diesel-delivery"):
                    self.deliveries.add(delivery)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 2)
