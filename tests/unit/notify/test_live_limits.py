"""Live streams are capped per user and end when their viewer may no longer follow them (notify.live)."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from core.errors import TooManyRequests
from core.settings import LiveSettings
from notify import live


@pytest.fixture
async def plugin() -> AsyncGenerator[live.LivePlugin]:
    plugin = live.LivePlugin(redis_url=None, limits=LiveSettings(streams_per_user=2, recheck_s=1))
    async with plugin.channels:  # the in-memory channels backend, started
        yield plugin


def viewer(user: uuid.UUID, *, seconds: float = 3600, still_allowed: Any = None) -> live.StreamViewer:
    return live.StreamViewer(user_id=user, expires_at=time.time() + seconds, still_allowed=still_allowed)


async def until_end(messages: Any) -> list[Any]:
    """The messages of a stream up to the end of it."""
    return [message async for message in messages]


async def test_a_user_holds_at_most_the_configured_number_of_streams(plugin: live.LivePlugin) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first, second = plugin.messages("c", viewer(alice)), plugin.messages("c", viewer(alice))
    with pytest.raises(TooManyRequests) as refused:
        plugin.messages("c", viewer(alice))
    assert (refused.value.status_code, refused.value.code) == (429, "too_many_streams")
    assert plugin.messages("c", viewer(bob))  # per user: Bob is not held back by Alice's streams
    # A stream that ends gives its place back, and so does a response that was never sent (never started).
    assert (await anext(first)).event == "ready"
    await first.aclose()
    assert plugin.open_streams(alice) == 1
    del second
    gc.collect()
    assert plugin.open_streams(alice) == 0
    plugin.messages("c", viewer(alice))
    plugin.messages("c", viewer(alice))


async def test_a_stream_ends_when_its_token_expires(plugin: live.LivePlugin) -> None:
    user = uuid.uuid4()
    started = time.monotonic()
    messages = await until_end(plugin.messages("c", viewer(user, seconds=0.5)))
    assert 0.4 < time.monotonic() - started < 3
    assert [m.event for m in messages if m.event] == ["ready", "end"]
    assert messages[-1].data == '{"type":"end","reason":"token_expired"}'
    assert plugin.open_streams(user) == 0


async def test_a_stream_ends_when_its_recheck_says_no(plugin: live.LivePlugin) -> None:
    """The place for checks that end a session before its token expires (a logout, a deactivated user)."""
    answers = [True, False]

    async def still_allowed() -> bool:
        return answers.pop(0)

    user = uuid.uuid4()
    started = time.monotonic()
    messages = await until_end(plugin.messages("c", viewer(user, still_allowed=still_allowed)))
    assert 1.8 < time.monotonic() - started < 5  # checked every second: yes, then no
    assert [m.event for m in messages if m.event] == ["ready", "end"]
    assert messages[-1].data == '{"type":"end","reason":"access_ended"}'
    assert answers == []
