"""What solve() returns: the plan, how the search went, and the independent checker's verdict."""

from __future__ import annotations

import msgspec

from routing.check import Violation
from routing.solution import Solution


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # OR-Tools routing status, e.g. "success", "fail_timeout"
    stopped_by: str  # "time_limit", "cancelled", "solution_limit", "completed", "nothing_to_plan"
    time_limit_s: float
    clock: str  # "wall" or "cpu": what the time limit measured
    wall_s: float
    cpu_s: float
    first_solution_s: float | None
    solutions: int
    seed: int
    deliveries: int  # visits in the model (jobs after splitting)
    # Which plan won: "search" (OR-Tools), "construction" (our own), "parts" (the search's or the
    # construction's, then re-planned part by part: routing.solver.decompose), "none".
    source: str = "search"
    parts_improved: int = 0  # parts of a big day whose re-planning made the plan better


class Result(msgspec.Struct, frozen=True, kw_only=True):
    solution: Solution
    stats: Stats
    violations: tuple[Violation, ...]

    def is_feasible(self) -> bool:
        """True when the independent checker found nothing wrong (left-out jobs are allowed)."""
        return not self.violations

    def cost(self) -> int:
        return self.solution.cost_minor
