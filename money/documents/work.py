"""Document work off the event loop: PDF layout and spreadsheets are CPU-bound for tens of milliseconds to
seconds, and on the loop they would stall every other request of the process for that long.

At most two run at once per process: more threads would only share the same interpreter lock (and slow the event
loop further), so further requests wait their turn instead of a burst of PDFs starving the API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

RENDERS_AT_ONCE = 2
_renders = anyio.CapacityLimiter(RENDERS_AT_ONCE)


async def off_the_loop(render: Callable[..., bytes], /, *args: Any, **kwargs: Any) -> bytes:
    result: bytes = await anyio.to_thread.run_sync(functools.partial(render, *args, **kwargs), limiter=_renders)
    return result
