"""PUBLIC_BASE_URL: the address share links start with, checked when the settings are read."""

from __future__ import annotations

import pytest

from core.settings import load_settings, public_base_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("https://track.example.cn", "https://track.example.cn"),
        ("https://track.example.cn/", "https://track.example.cn"),
        (" http://10.0.0.5:8000/diesel/ ", "http://10.0.0.5:8000/diesel"),
    ],
)
def test_a_public_base_url_is_kept_without_its_trailing_slash(value: str | None, expected: str | None) -> None:
    assert public_base_url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "track.example.cn",
        "ftp://track.example.cn",
        "https://",
        "https://a@track.example.cn",
        "https://x.cn/?a=1",
        "https://x.cn/#a",
    ],
)
def test_anything_but_an_http_address_stops_the_start(value: str) -> None:
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        public_base_url(value)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://track.example.cn/")
    assert load_settings().public_base_url == "https://track.example.cn"
    monkeypatch.delenv("PUBLIC_BASE_URL")
    assert load_settings().public_base_url is None
