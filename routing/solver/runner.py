"""Run the OR-Tools search in a child process and stream its improving plans to the parent.

Why a process: OR-Tools' iterated local search cannot be stopped from inside (see search.py), and a
dispatcher must be able to cancel a planning job, a benchmark must stop at a CPU budget, and a large
day should not leave its memory behind.  The child sends every new best plan (delivery indices only,
a few kB); the parent can therefore terminate the child at any moment and still return the best plan
found so far.

The children come from a fork server (multiprocessing's "forkserver"), never from a fork of this process: the
planner runs on a worker thread (a Celery thread pool, the demo's embedded worker), and a fork of a process with
threads copies their held locks into a child where nobody will ever release them.  The fork server is a fresh
single-threaded process that has imported the solver once; a search is a fork of it, so it starts in milliseconds.
What a search needs travels to it pickled: its instance, with the matrix as the flat int64 arrays (see _Shipped).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import logging
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import msgspec

from routing.matrix import Matrix
from routing.solver.extract import Floors, Plan, finish
from routing.solver.instance import Instance
from routing.solver.phases import search_day
from routing.solver.search import Progress, SolveParams

log = logging.getLogger("routing.solver")

KEEP = 6  # improving plans kept per search as candidates for the final choice
REPORT_EVERY_S = 1.0


class _Reporter:
    """Progress in the currency of the final plan: an improving search plan is finished (packed, repaired,
    timed) before its cost is reported, so the best cost a dispatcher watches is what a stored plan costs.

    Finishing takes time on big days, so it is done at most once per REPORT_EVERY_S (and never more
    than a tenth of the time), always for the newest best plan; the first plan is reported at once.
    Reported plans are not added to the final choice: their timing would make a seeded run unrepeatable.
    """

    def __init__(self, instances: list[Instance], on_progress: Callable[[Progress], None] | None, wall0: float):
        self.instances, self.on_progress, self.wall0 = instances, on_progress, wall0
        self.pending: tuple[int, int, Plan, Floors] | None = None
        self.next_at = 0.0

    def improved(self, worker: int, solutions: int, plan: Plan, floors: Floors) -> None:
        if self.on_progress is None:
            return
        self.pending = (worker, solutions, plan, floors)
        self.report_due()

    def due(self) -> bool:
        return time.perf_counter() >= self.next_at

    def report_due(self) -> None:
        now = time.perf_counter()
        if self.pending is None or self.on_progress is None or now < self.next_at:
            return
        worker, solutions, plan, floors = self.pending
        self.pending = None
        cost = finish(self.instances[worker], copy.deepcopy(plan), dict(floors)).cost_minor
        took = time.perf_counter() - now
        self.next_at = now + max(REPORT_EVERY_S, 10 * took)
        self.on_progress(
            Progress(best_cost_minor=cost, solutions=solutions, elapsed_s=time.perf_counter() - self.wall0)
        )


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
    wall0, cpu0 = time.perf_counter(), time.process_time()
    limit_s = _remaining(params, limit_s, started)
    reporter = _Reporter([instance], on_progress, wall0)

    def improved(cost: int, solutions: int, read: Callable[[], tuple[Plan, Floors]]) -> None:
        if on_progress is not None and reporter.due():  # reading the plan costs time inside the search
            reporter.improved(0, solutions, *read())

    day = search_day(instance, vehicles, params, limit_s, _wall(params, limit_s), initial, improved)
    return RunOutcome(
        plan=day.plan,
        floors=day.floors,
        status=day.search.status,
        stopped_by=day.search.stopped_by,
        solutions=day.solutions,
        first_solution_s=day.search.first_solution_s,
        search_cpu_s=time.process_time() - cpu0,
        cost=day.cost,
    )


def _wall(params: SolveParams, limit_s: float) -> float:
    """A search's wall time: its limit, or with a CPU budget the wall limit that paces OR-Tools (the parent
    stops the search at the budget)."""
    return limit_s * (params.wall_factor if params.clock == "cpu" else 1.0)


def _remaining(params: SolveParams, limit_s: float, started: float | None) -> float:
    """A wall limit counts from the start of solve(): what the matrix, the construction and the model
    took is no longer the search's (perf_counter is the system's monotonic clock, the same in every process)."""
    if params.clock != "wall" or started is None:
        return limit_s
    return max(0.05, limit_s - (time.perf_counter() - started))


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
    worker: int = 0
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
    """One search per instance (the same day under different seeds), in parallel child processes; best plan wins."""
    context = _context()
    wall0 = time.perf_counter()
    children: list[_Child] = []
    try:
        for worker, instance in enumerate(instances):
            receiver, sender = context.Pipe(duplex=False)
            initial = initials[worker] if initials else None
            shipped = _Shipped.of(instance)
            search = functools.partial(_search, shipped, vehicles, params, limit_s, initial, sender, started)
            process = context.Process(
                target=_child_main,
                args=(sender, search),
                daemon=True,
            )
            process.start()
            sender.close()
            children.append(_Child(process, receiver, worker=worker))
        best: list[int] = []
        reporter = _Reporter(instances, on_progress, wall0)
        # The children's own wall limit is the real stop in "wall" mode; this is a safety net.
        hard_wall = limit_s * (params.wall_factor if params.clock == "cpu" else 1.0) + 60.0
        cancelled = False
        while any(child.stopped_by is None for child in children):
            live = [c.receiver for c in children if c.stopped_by is None]
            for ready in wait(live, timeout=0.02):
                child = next(c for c in children if c.receiver is ready)
                try:
                    _handle(child.receiver.recv(), child, best, reporter)
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
                    _stop(child, stop, best, reporter)
            reporter.report_due()
        for child in children:
            child.process.join()
            child.receiver.close()
    finally:
        for child in children:  # on an error above: no search outlives the call
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
    return _merge(children, cancelled)


def _stop(child: _Child, reason: str, best: list[int], reporter: _Reporter) -> None:
    child.cpu_s = max(child.cpu_s, _cpu_seconds(child.process.pid))
    child.process.kill()
    while child.receiver.poll(0.05):  # plans sent before the kill
        try:
            _handle(child.receiver.recv(), child, best, reporter)
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
    stops = [c.stopped_by or "completed" for c in children if c.stopped_by != "failed"] or ["completed"]
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


def _handle(message: tuple[Any, ...], child: _Child, best: list[int], reporter: _Reporter) -> None:
    kind = message[0]
    if kind == "failed":  # a bug, not a verdict on the day: the other searches and the construction stand
        log.error("search %d failed, its plans are dropped:\n%s", child.worker, message[1])
        child.stopped_by = "failed"
        return
    if kind == "best":
        _, cost, solutions, plan, floors = message
        child.best, child.plan, child.floors, child.solutions = cost, plan, floors, solutions
        child.history = [*child.history[-(KEEP - 1) :], (cost, plan, floors)]
        if child.first_s is None:
            child.first_s = time.perf_counter() - reporter.wall0
        if not best or cost < best[0]:
            best[:] = [cost]
            reporter.improved(child.worker, solutions, plan, floors)
        return
    _, status, stopped_by, solutions, first, cpu, cost, plan, floors = message
    child.status, child.stopped_by, child.solutions, child.cpu_s = status, stopped_by, solutions, cpu
    if child.first_s is None:
        child.first_s = first
    if plan is not None and (child.best is None or cost <= child.best):
        child.plan, child.floors, child.best = plan, floors, cost


def _context() -> multiprocessing.context.ForkServerContext:
    """The fork server's context, started on the first search; it ends with this process.

    It preloads this module (OR-Tools, numpy and the solver), so a search, a fork of the server, finds them
    imported, and a main script given by its path (multiprocessing's default).  A main module run with `-m` (as
    `python -m api.cli worker`) is imported again by each search, as multiprocessing does: preloaded, runpy would
    warn that it is imported already."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


@dataclass(slots=True)
class _Shipped:
    """An instance as it travels to a search: without its matrix, whose tuples of Python ints would take seconds
    to pickle and unpickle on a big day; the int64 arrays beside it hold the same numbers as flat buffers, and the
    child makes the matrix again from them (``open``)."""

    instance: Instance
    problem_has_matrix: bool

    @classmethod
    def of(cls, instance: Instance) -> _Shipped:
        problem = instance.problem
        has_matrix = problem.matrix is instance.matrix  # a problem's own matrix is the instance's: sent once
        if has_matrix:
            problem = msgspec.structs.replace(problem, matrix=None)
        empty = Matrix(distances_m=(), durations_s=())
        light = Instance(**{name: getattr(instance, name) for name in Instance.__dataclass_fields__})
        light.problem, light.matrix = problem, empty
        return cls(light, has_matrix)

    def open(self) -> Instance:
        instance = self.instance
        instance.matrix = Matrix(
            distances_m=tuple(map(tuple, instance.dist.tolist())),
            durations_s=tuple(map(tuple, instance.dur.tolist())),
        )
        if self.problem_has_matrix:
            instance.problem = msgspec.structs.replace(instance.problem, matrix=instance.matrix)
        return instance


def _child_main(sender: Connection, search: Callable[[], None]) -> None:
    """A search, in a fork of the fork server.  It ends with os._exit: the fork server's exit handlers are not
    the child's to run; an error goes to the parent."""
    code = 0
    try:
        search()
    except BaseException:  # whatever went wrong, the parent hears of it and carries on
        code = 1
        with contextlib.suppress(OSError, ValueError):
            sender.send(("failed", traceback.format_exc(limit=-8)))
    finally:
        os._exit(code)


def _search(
    shipped: _Shipped,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    initial: Plan | None,
    sender: Connection,
    started: float | None,
) -> None:
    cpu0 = time.process_time()
    instance = shipped.open()
    limit_s = _remaining(params, limit_s, started)

    def improved(cost: int, solutions: int, read: Callable[[], tuple[Plan, Floors]]) -> None:
        sender.send(("best", cost, solutions, *read()))

    day = search_day(
        instance, vehicles, params, limit_s, _wall(params, limit_s), initial, improved, after_build=trim_heap
    )
    outcome, plan, floors, cost = day.search, day.plan, day.floors, day.cost
    outcome.solutions = day.solutions
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


# A search's own memory is about this many times its model's dense matrices (nodes² × 8 bytes, one per cost
# per km and one for time): OR-Tools' caches, neighbour lists and guided-local-search penalties come on top.
# Measured on the generated 2,000-job day: 461 MiB per search for 220 MiB of matrices.
MODEL_OVERHEAD = 2.1
# A search also holds its own copy of the day's matrix: the two int64 arrays and the matrix made again from them
# (per entry and kind: 8 bytes of array, an 8-byte tuple slot and a 28-byte int).
COPY_BYTES_PER_ENTRY = 2 * (8 + 8 + 28)


def search_memory_mb(instance: Instance, vehicles: list[int]) -> float:
    """An estimate of one search's own memory (MiB), from the size of the model it builds and of its day."""
    nodes = len(instance.problem.depots) + len(instance.deliveries) + (instance.trips - 1) * len(vehicles)
    matrices = 1 + len({instance.tanker(t).cost_per_km_minor for t in vehicles})
    copy = COPY_BYTES_PER_ENTRY * instance.dist.size
    return (MODEL_OVERHEAD * matrices * nodes * nodes * 8 + copy) / 2**20


def searches_within(params: SolveParams, instance: Instance, vehicles: list[int]) -> int:
    """How many parallel searches fit ``params.memory_budget_mb`` beside this process (at least one)."""
    if params.memory_budget_mb is None or params.workers <= 1:
        return max(1, params.workers)
    room = params.memory_budget_mb - resident_mb()
    return max(1, min(params.workers, int(room // max(1.0, search_memory_mb(instance, vehicles)))))


def resident_mb() -> float:
    """This process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; nothing elsewhere).

    glibc keeps freed memory for reuse; after a big day's model is built, that is 80-100 MB of resident pages
    that a search keeps while it never needs them.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    return function


_MALLOC_TRIM = _malloc_trim()
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
