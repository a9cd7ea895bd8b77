"""A planning job that starts from the delivery promise's tentative plan (`start_from: "tentative"`).

The tentative plan comes as routes of order ids (dispatch.start_port); it is laid again on the planner's own
problem and matrix (roads, not the promise's straight lines), so that the search starts from a plan of the very
day it solves: each tanker keeps its tentative trips where they still fit, the orders they lack are inserted, and
the independent checker has the last word (a start it finds fault with is dropped: the planner starts cold).
"""

from __future__ import annotations

import logging

import msgspec

import routing
from dispatch.start_port import Routes
from routing.insertion import TentativeDay

log = logging.getLogger("diesel.dispatch")
NOT_USED = "The tentative plan could not be used as a start (none kept for this day); the plan was built from scratch."


def tentative_start(problem: routing.Problem, matrix: routing.Matrix, routes: Routes) -> routing.Solution | None:
    """The tentative routes as a plan of this problem, or None when none of them can be kept."""
    if not routes or not problem.jobs:
        return None
    day = TentativeDay(problem, matrix)
    kept = set(day.start_from(routes))
    if not kept:
        return None
    day.place_all([job.id for job in problem.jobs if job.id not in kept])
    solution = day.solution()
    violations = routing.check(problem, solution, matrix=matrix)
    if violations:
        log.error("the tentative start failed the checker: %s", "; ".join(str(v) for v in violations[:5]))
        return None
    return solution


def warm(
    problem: routing.Problem, routes: Routes, provider: routing.MatrixProvider | None
) -> tuple[routing.Problem, routing.Solution | None]:
    """The problem with its matrix (computed once, for the start and the search) and the start, if any."""
    matrix = routing.matrix_for(problem, provider)
    with_matrix = msgspec.structs.replace(problem, matrix=matrix)
    return with_matrix, tentative_start(with_matrix, matrix, routes)
