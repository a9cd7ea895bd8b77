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
