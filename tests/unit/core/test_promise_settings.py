"""PROMISE_MODE and the windows' length: what the start accepts and what stops it."""

import pytest

from core.settings import promise_settings


@pytest.mark.parametrize("mode", ["refuse", "flag", "off"])
def test_the_three_modes_are_accepted(mode: str) -> None:
    assert promise_settings(120, mode, 24).mode == mode


@pytest.mark.parametrize(("minutes", "mode"), [(120, "maybe"), (120, "OFF "), (29, "refuse"), (721, "refuse")])
def test_anything_else_stops_the_start(minutes: int, mode: str) -> None:
    with pytest.raises(ValueError, match="PROMISE_"):
        promise_settings(minutes, mode, 24)


def test_the_rebuild_settings_are_read_and_never_below_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import load_settings

    monkeypatch.setenv("PROMISE_REBUILD_INTERVAL_S", "30")
    monkeypatch.setenv("PROMISE_REBUILD_SECONDS", "7.5")
    monkeypatch.setenv("PROMISE_REBUILD_CHANGES", "0")
    promise = load_settings().promise
    assert (promise.rebuild_interval_s, promise.rebuild_seconds, promise.rebuild_changes) == (30, 7.5, 1)
    defaults = promise_settings(120, "refuse", 24)
    assert (defaults.rebuild_interval_s, defaults.rebuild_seconds, defaults.rebuild_changes) == (60, 20.0, 10)
