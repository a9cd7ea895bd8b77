"""`diesel serve` as deployed: a caller on 127.0.0.1 (e.g. behind a local proxy that is not configured as
trusted) cannot pick its own rate-limit bucket with X-Forwarded-For. uvicorn used to trust the header from
127.0.0.1 whatever TRUSTED_PROXIES said."""

from __future__ import annotations

import os
import random
import uuid

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_serve_ignores_forwarded_headers_unless_the_proxy_is_trusted(make_stack) -> None:
    # No Redis: the counters are the server process's own, so no other test shares 127.0.0.1's bucket.
    stack = make_stack(redis_url=None, SECRET_KEY=os.environ["SECRET_KEY"], LOGIN_ATTEMPTS_PER_WINDOW="3")
    stack.start(worker=False)
    answers = []
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        for _ in range(4):
            spoofed = f"203.0.113.{random.randint(1, 254)}"
            response = client.post(
                "/api/v1/auth/token",
                json={"username": f"nobody-{uuid.uuid4().hex[:6]}", "password": "not-the-password"},
                headers={"X-Forwarded-For": spoofed, "Forwarded": f"for={spoofed}"},
            )
            answers.append(response.status_code)
    assert answers == [401, 401, 401, 429], answers
