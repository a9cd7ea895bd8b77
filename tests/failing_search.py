"""A search that fails at once, for the tests of a failing search child: a module-level function, so that the
child (a fork of the planner's fork server, see routing.solver.runner) can import it by name."""

from __future__ import annotations


def failing_search(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom in the search")
