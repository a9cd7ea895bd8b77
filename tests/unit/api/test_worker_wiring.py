"""`diesel worker` joins the domains as the HTTP app does (api/wiring.py): without it a standing order placed by
the worker would skip the delivery promise, and a payment recorded there would not re-check held orders."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from api import cli
from core.celery_app import celery_app
from dispatch import start_port
from money import credit
from orders import bay_port, promise_port


def test_the_worker_registers_the_ports_and_listeners_the_app_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = (promise_port.current(), start_port._routes, bay_port._loads, dict(credit._listeners))
    promise_port.register(None)
    start_port.register(None)
    bay_port.register(None)
    credit.remove_listener("orders.recheck_held_orders")
    started: list[list[str]] = []
    monkeypatch.setattr(celery_app, "worker_main", lambda argv: started.append(argv))
    try:
        result = CliRunner().invoke(cli.main, ["worker", "--concurrency", "1"])
        assert result.exit_code == 0, result.output
        assert started and started[0][0] == "worker"
        assert promise_port.current() is not None
        assert start_port.registered()
        assert bay_port._loads is not None
        assert "orders.recheck_held_orders" in credit.listener_names()
    finally:
        restore: Any = saved
        promise_port.register(restore[0])
        start_port.register(restore[1])
        bay_port.register(restore[2])
        credit._listeners.clear()
        credit._listeners.update(restore[3])
