"""Explicit state machines: a StrEnum of states, a map of allowed moves, one function that enforces it."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.errors import InvalidTransition


def check_transition[S: StrEnum](transitions: Mapping[S, frozenset[S]], current: S, target: S, *, subject: str) -> None:
    if target not in transitions.get(current, frozenset()):
        raise InvalidTransition(
            f"{subject} cannot go from '{current}' to '{target}'",
            code="invalid_transition",
            from_status=str(current),
            to_status=str(target),
        )
