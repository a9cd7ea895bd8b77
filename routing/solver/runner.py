"""Run the OR-Tools search in a forked child process and stream its improving plans to the parent.

Why a process: OR-Tools' iterated local search cannot be stopped from inside (see search.py), and a
dispatcher must be able to cancel a planning job, a benchmark must stop at a CPU budget, and a large
day should not leave its memory behind.  The child sends every new best plan (delivery indices only,
a few kB); the parent can therefore terminate the child at any moment and still return the best plan
found so far.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from routing.solver.extract import Plan, read_plan
from routing.solver.instance import Instance
from routing.solver.model import MILLI, build_model
from routing.solver.search import Progress, SolveParams, run_search

Floors = dict[int, list[int]]


@dataclass(slots=True)
class RunOutcome:
    plan: Plan | None = None
    floors: Floors = field(default_factory=dict)
    status: str = "not_solved"
    stopped_by: str = "completed"
    solutions: int = 0
    first_solution_s: float | None = None
    search_cpu_s: float = 0.0


def run_in_process(
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    on_progress: Callable[[Progress], None] | None,
) -> RunOutcome:
    model = build_model(instance, vehicles)
    wall0, cpu0 = time.perf_counter(), time.process_time()

    def improved(cost: int, solutions: int) -> None:
        if on_progress is not None:
            on_progress(_progress(cost, solutions, wall0))

    outcome = run_search(model, params, limit_s, on_improvement=improved)
    result = RunOutcome(
        status=outcome.status,
        stopped_by=outcome.stopped_by,
        solutions=outcome.solutions,
        first_solution_s=outcome.first_solution_s,
        search_cpu_s=time.process_time() - cpu0,
    )
    if outcome.assignment is not None:
        result.plan, result.floors = read_plan(model, outcome.assignment.Value)
    return result


def run_in_child(
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    on_progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> RunOutcome:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(instance, vehicles, params, limit_s, sender), daemon=True)
    wall0 = time.perf_counter()
    child.start()
    sender.close()
    outcome = RunOutcome()
    # The child's own wall limit is the real stop in "wall" mode; this is a safety net.
    hard_wall = limit_s * (params.wall_factor if params.clock == "cpu" else 1.0) + 60.0
    finished = False
    while not finished:
        if receiver.poll(0.02):
            try:
                finished = _handle(receiver.recv(), outcome, on_progress, wall0)
            except EOFError:
                break  # the child died without a final word: keep what it sent
            continue
        stop = None
        if cancel is not None and cancel.is_set():
            stop = "cancelled"
        elif params.clock == "cpu" and _cpu_seconds(child.pid) >= limit_s:
            stop = "time_limit"
        elif time.perf_counter() - wall0 > hard_wall or not child.is_alive():
            stop = "time_limit" if child.is_alive() else outcome.stopped_by
        if stop is not None:
            outcome.search_cpu_s = _cpu_seconds(child.pid)
            child.kill()
            while receiver.poll(0.05):  # plans sent before the kill
                try:
                    _handle(receiver.recv(), outcome, on_progress, wall0)
                except EOFError:
                    break
            outcome.stopped_by = stop
            finished = True
    child.join()
    receiver.close()
    return outcome


def _handle(
    message: tuple[Any, ...],
    outcome: RunOutcome,
    on_progress: Callable[[Progress], None] | None,
    wall0: float,
) -> bool:
    kind = message[0]
    if kind == "best":
        _, cost, solutions, plan, floors = message
        outcome.plan, outcome.floors, outcome.solutions = plan, floors, solutions
        if outcome.first_solution_s is None:
            outcome.first_solution_s = time.perf_counter() - wall0
        if on_progress is not None:
            on_progress(_progress(cost, solutions, wall0))
        return False
    _, status, stopped_by, solutions, first, cpu, plan, floors = message
    outcome.status, outcome.stopped_by, outcome.solutions = status, stopped_by, solutions
    outcome.first_solution_s, outcome.search_cpu_s = first, cpu
    if plan is not None:
        outcome.plan, outcome.floors = plan, floors
    return True


def _child_main(
    instance: Instance, vehicles: list[int], params: SolveParams, limit_s: float, sender: Connection
) -> None:
    cpu0 = time.process_time()
    model = build_model(instance, vehicles)

    def improved(cost: int, solutions: int) -> None:
        plan, floors = read_plan(model, lambda var: var.Min())
        sender.send(("best", cost, solutions, plan, floors))

    outcome = run_search(model, params, limit_s, on_improvement=improved)
    plan: Plan | None = None
    floors: Floors = {}
    if outcome.assignment is not None:
        plan, floors = read_plan(model, outcome.assignment.Value)
    sender.send(
        (
            "done",
            outcome.status,
            outcome.stopped_by,
            outcome.solutions,
            outcome.first_solution_s,
            time.process_time() - cpu0,
            plan,
            floors,
        )
    )
    sender.close()


def _progress(cost: int, solutions: int, wall0: float) -> Progress:
    return Progress(best_cost_minor=-(-cost // MILLI), solutions=solutions, elapsed_s=time.perf_counter() - wall0)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a live process (Linux /proc); 0 where unavailable."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return 0.0
