"""Run the OR-Tools search in a forked child process and stream its improving plans to the parent.

Why a process: OR-Tools' iterated local search cannot be stopped from inside (see search.py), and a
dispatcher must be able to cancel a planning job, a benchmark must stop at a CPU budget, and a large
day should not leave its memory behind.  The child sends every new best plan (delivery indices only,
a few kB); the parent can therefore terminate the child at any moment and still return the best plan
found so far.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from routing.solver.extract import Plan, read_plan
from routing.solver.instance import Instance
from routing.solver.model import MILLI, Model, build_model, plan_routes
from routing.solver.search import Progress, SolveParams, run_search

Floors = dict[int, list[int]]
KEEP = 6  # improving plans kept per search as candidates for the final choice


@dataclass(slots=True)
class RunOutcome:
    plan: Plan | None = None
    floors: Floors = field(default_factory=dict)
    status: str = "not_solved"
    stopped_by: str = "completed"
    solutions: int = 0
    first_solution_s: float | None = None
    search_cpu_s: float = 0.0
    worker: int = 0  # which search (and so which instance's delivery numbering) the plan comes from
    cost: int | None = None  # the model's objective of the plan, milli-minor
    # Runners-up: (model cost, worker, plan, floors) of the last improving plans of every search, best
    # first.  The model does not see compartments, so a slightly worse model plan can be the better
    # real plan once packed: solve() finishes them all and keeps the best.
    candidates: list[tuple[int, int, Plan, Floors]] = field(default_factory=list)


def run_in_process(
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    on_progress: Callable[[Progress], None] | None,
    initial: Plan | None = None,
    started: float | None = None,
) -> RunOutcome:
    model = build_model(instance, vehicles)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    limit_s = _remaining(params, limit_s, started)

    def improved(cost: int, solutions: int) -> None:
        if on_progress is not None:
            on_progress(_progress(cost, solutions, wall0))

    outcome = run_search(model, params, limit_s, on_improvement=improved, initial=_warm(model, params, initial))
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


def _remaining(params: SolveParams, limit_s: float, started: float | None) -> float:
    """A wall limit counts from the start of solve(): what the matrix, the construction and the model
    took is no longer the search's (perf_counter is the system's monotonic clock, shared across fork)."""
    if params.clock != "wall" or started is None:
        return limit_s
    return max(0.05, limit_s - (time.perf_counter() - started))


def _warm(model: Model, params: SolveParams, initial: Plan | None) -> list[list[int]] | None:
    if initial is None or len(model.instance.deliveries) <= params.warm_start_above:
        return None
    return plan_routes(model, initial)


@dataclass(slots=True)
class _Child:
    process: Any
    receiver: Connection
    best: int | None = None
    plan: Plan | None = None
    floors: Floors = field(default_factory=dict)
    solutions: int = 0
    first_s: float | None = None
    cpu_s: float = 0.0
    status: str = "not_solved"
    stopped_by: str | None = None  # set once the child is finished (or stopped)
    history: list[tuple[int, Plan, Floors]] = field(default_factory=list)


def run_in_child(
    instances: list[Instance],
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    on_progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    initials: list[Plan | None] | None = None,
    started: float | None = None,
) -> RunOutcome:
    """One forked search per instance (the same day under different seeds), in parallel; best plan wins."""
    context = multiprocessing.get_context("fork")
    wall0 = time.perf_counter()
    # Objects that exist now are never collected in the children: their pages stay shared.
    gc.freeze()
    children: list[_Child] = []
    for worker, instance in enumerate(instances):
        receiver, sender = context.Pipe(duplex=False)
        initial = initials[worker] if initials else None
        process = context.Process(
            target=_child_main,
            args=(worker, instance, vehicles, params, limit_s, initial, sender, started),
            daemon=True,
        )
        process.start()
        sender.close()
        children.append(_Child(process, receiver))
    best: list[int] = []
    # The children's own wall limit is the real stop in "wall" mode; this is a safety net.
    hard_wall = limit_s * (params.wall_factor if params.clock == "cpu" else 1.0) + 60.0
    cancelled = False
    while any(child.stopped_by is None for child in children):
        live = [c.receiver for c in children if c.stopped_by is None]
        for ready in wait(live, timeout=0.02):
            child = next(c for c in children if c.receiver is ready)
            try:
                _handle(child.receiver.recv(), child, best, on_progress, wall0)
            except EOFError:  # the child died without a final word: keep what it sent
                child.stopped_by = child.stopped_by or "completed"
        cancelled = cancelled or (cancel is not None and cancel.is_set())
        overdue = time.perf_counter() - wall0 > hard_wall
        for child in children:
            if child.stopped_by is not None:
                continue
            stop = None
            if cancelled:
                stop = "cancelled"
            elif (params.clock == "cpu" and _cpu_seconds(child.process.pid) >= limit_s) or overdue:
                stop = "time_limit"
            elif not child.process.is_alive() and not child.receiver.poll():
                stop = "completed"
            if stop is not None:
                _stop(child, stop, best, on_progress, wall0)
    for child in children:
        child.process.join()
        child.receiver.close()
    gc.unfreeze()
    return _merge(children, cancelled)


def _stop(
    child: _Child, reason: str, best: list[int], on_progress: Callable[[Progress], None] | None, wall0: float
) -> None:
    child.cpu_s = max(child.cpu_s, _cpu_seconds(child.process.pid))
    child.process.kill()
    while child.receiver.poll(0.05):  # plans sent before the kill
        try:
            _handle(child.receiver.recv(), child, best, on_progress, wall0)
        except EOFError:
            break
    child.stopped_by = child.stopped_by if child.stopped_by is not None and reason == "completed" else reason


def _merge(children: list[_Child], cancelled: bool) -> RunOutcome:
    ranked = [(c.best, w) for w, c in enumerate(children) if c.plan is not None and c.best is not None]
    outcome = RunOutcome(
        solutions=sum(c.solutions for c in children),
        search_cpu_s=sum(c.cpu_s for c in children),
        first_solution_s=min((c.first_s for c in children if c.first_s is not None), default=None),
    )
    stops = [c.stopped_by or "completed" for c in children]
    if cancelled:
        outcome.stopped_by = "cancelled"
    elif "time_limit" in stops:
        outcome.stopped_by = "time_limit"
    elif "solution_limit" in stops:
        outcome.stopped_by = "solution_limit"
    else:
        outcome.stopped_by = stops[0]
    pool = [(cost, w, plan, floors) for w, c in enumerate(children) for cost, plan, floors in c.history]
    outcome.candidates = sorted(pool, key=lambda item: (item[0], item[1]))[:KEEP]
    if ranked:
        cost, worker = min(ranked)
        chosen = children[worker]
        outcome.plan, outcome.floors, outcome.worker, outcome.cost = chosen.plan, chosen.floors, worker, cost
        outcome.status = "solved" if chosen.status == "not_solved" else chosen.status
    else:
        outcome.status = children[0].status
    return outcome


def _handle(
    message: tuple[Any, ...],
    child: _Child,
    best: list[int],
    on_progress: Callable[[Progress], None] | None,
    wall0: float,
) -> None:
    kind = message[0]
    if kind == "best":
        _, cost, solutions, plan, floors = message
        child.best, child.plan, child.floors, child.solutions = cost, plan, floors, solutions
        child.history = [*child.history[-(KEEP - 1) :], (cost, plan, floors)]
        if child.first_s is None:
            child.first_s = time.perf_counter() - wall0
        if not best or cost < best[0]:
            best[:] = [cost]
            if on_progress is not None:
                on_progress(_progress(cost, solutions, wall0))
        return
    _, status, stopped_by, solutions, first, cpu, cost, plan, floors = message
    child.status, child.stopped_by, child.solutions, child.cpu_s = status, stopped_by, solutions, cpu
    if child.first_s is None:
        child.first_s = first
    if plan is not None and (child.best is None or cost <= child.best):
        child.plan, child.floors, child.best = plan, floors, cost


def _child_main(
    worker: int,
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    initial: Plan | None,
    sender: Connection,
    started: float | None,
) -> None:
    cpu0 = time.process_time()
    model = build_model(instance, vehicles)
    limit_s = _remaining(params, limit_s, started)

    def improved(cost: int, solutions: int) -> None:
        plan, floors = read_plan(model, lambda var: var.Min())
        sender.send(("best", cost, solutions, plan, floors))

    outcome = run_search(model, params, limit_s, on_improvement=improved, initial=_warm(model, params, initial))
    plan: Plan | None = None
    floors: Floors = {}
    cost = None
    if outcome.assignment is not None:
        plan, floors = read_plan(model, outcome.assignment.Value)
        cost = outcome.assignment.ObjectiveValue()
    sender.send(
        (
            "done",
            outcome.status,
            outcome.stopped_by,
            outcome.solutions,
            outcome.first_solution_s,
            time.process_time() - cpu0,
            cost,
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
