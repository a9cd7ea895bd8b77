"""At API shutdown the embedded relay (no Redis) finishes the database pass it is in, and is not cancelled inside it:
a cancel landing in an aiosqlite unit of work can leave the connection's close waiting for ever."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from core.settings import LiveSettings
from notify import live


async def test_shutdown_waits_for_the_relay_pass_and_does_not_cancel_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RELAY_EVERY_S", 0.01)
    plugin = live.LivePlugin(redis_url=None, limits=LiveSettings())
    plugin.listeners = 1  # the relay only polls while someone listens
    in_pass, release = asyncio.Event(), asyncio.Event()
    passes: list[str] = []

    async def relay_once(factory: Any, cursor: Any, sink: Any) -> Any:
        in_pass.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            passes.append("cancelled")
            raise
        passes.append("finished")
        return cursor

    monkeypatch.setattr(plugin, "_relay_once", relay_once)
    app = SimpleNamespace(state=SimpleNamespace(session_factory=object()))
    lifespan = plugin._lifespan(app)  # type: ignore[arg-type]
    await lifespan.__aenter__()
    await asyncio.wait_for(in_pass.wait(), 5)

    shutdown = asyncio.create_task(lifespan.__aexit__(None, None, None))
    await asyncio.sleep(0.1)
    assert not shutdown.done(), "shutdown did not wait for the relay's pass"
    release.set()
    await asyncio.wait_for(shutdown, 5)
    assert passes == ["finished"], "the relay was cancelled inside its pass, or ran another one after the stop"
