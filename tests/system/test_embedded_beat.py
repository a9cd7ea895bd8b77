"""The embedded default's periodic tasks: `diesel worker --beat` on the serverless SQLite broker publishes
them and the worker runs them (a broker engine opened before the beat forks once broke every publish)."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_embedded_beat_publishes_and_the_worker_runs_its_tasks(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(redis_url=None)
    stack.start()
    log = stack.logs / "worker.log"
    done = re.compile(r"Task notify\.webhooks_outbox\[[^\]]+\] succeeded")
    deadline = time.monotonic() + 60
    runs = 0
    while time.monotonic() < deadline:
        runs = len(done.findall(log.read_text(errors="replace"))) if log.exists() else 0
        if runs >= 3:  # every 3 s: the beat keeps publishing, not just once
            break
        time.sleep(0.5)
    text = log.read_text(errors="replace") if log.exists() else ""
    assert runs >= 3, text[-4000:]
    assert "channel disconnected" not in text
