"""Webhook settings from the environment: the operator's allow-list, and the removed WEBHOOK_ALLOW_PRIVATE."""

from __future__ import annotations

import logging
from ipaddress import ip_address, ip_network

import pytest

from notify.webhooks.addresses import refusal
from notify.webhooks.config import load_webhook_settings


def test_the_allow_list_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "10.1.2.0/24,127.0.0.1/32")
    settings = load_webhook_settings()
    assert settings.allowed_networks == (ip_network("10.1.2.0/24"), ip_network("127.0.0.1/32"))
    monkeypatch.delenv("WEBHOOK_ALLOWED_NETWORKS")
    assert load_webhook_settings().allowed_networks == ()


def test_the_old_switch_allows_nothing_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("WEBHOOK_ALLOWED_NETWORKS", raising=False)
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")
    with caplog.at_level(logging.WARNING, logger="diesel.webhooks"):
        settings = load_webhook_settings()
    assert settings.allowed_networks == ()
    assert refusal(ip_address("10.1.2.3"), allowed=settings.allowed_networks) == "private"
    assert "WEBHOOK_ALLOW_PRIVATE is no longer read" in caplog.text and "WEBHOOK_ALLOWED_NETWORKS" in caplog.text


@pytest.mark.parametrize("value", ["10.1.2.5/24", "intranet", "10.0.0.0/8 192.168.0.0/16"])
def test_a_mistyped_allow_list_stops_the_service(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", value)
    with pytest.raises(ValueError, match="WEBHOOK_ALLOWED_NETWORKS"):
        load_webhook_settings()
