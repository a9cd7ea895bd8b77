"""The routing problem: immutable, validated input data.

Units are integers throughout: litres, metres, seconds, minor currency units (fen).
Every time of day is a number of seconds from the start of the planning day (00:00 local time of the
depot); a night shift simply runs past 86 400.  The matrix, when given, is indexed by *location*: the
depots first, in the order of ``Problem.depots``, then the jobs in the order of ``Problem.jobs``.
"""

from __future__ import annotations

import msgspec

from routing.matrix import Matrix

DAY_S = 86_400

# Bounded so that costs in milli-minor units (see routing.solver) stay far inside int64.
MAX_PENALTY_MINOR = 10**12
MAX_COMPARTMENTS = 12


class ProblemError(ValueError):
    """The problem is not valid; ``errors`` lists every reason, one human sentence each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Depot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    lat: float
    lon: float
    open_s: int = 0
    close_s: int = DAY_S
    # Loading takes load_fixed_s + litres / load_rate_l_per_min minutes; a rate of 0 means "no
    # volume-dependent part" (used by benchmark instances that have no loading time).
    load_fixed_s: int = 900
    load_rate_l_per_min: int = 1800
    # Spans [start, end) in which every loading bay is booked (customer pickups): no tanker loads then.
    bays_full: tuple[tuple[int, int], ...] = ()


class Tanker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    depot_id: str
    compartments: tuple[int, ...]
    vehicle_class: int = 1
    shift_start_s: int = 0
    shift_end_s: int = DAY_S
    # None: the whole shift may be worked.
    max_duty_s: int | None = None
    cost_per_km_minor: int = 0
    fixed_cost_minor: int = 0
    driver_id: str | None = None

    @property
    def capacity_l(self) -> int:
        return sum(self.compartments)


class Job(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    lat: float
    lon: float
    product: str
    litres: int
    # One or two receiving windows (start, end) in seconds from the start of the day; service must
    # *start* inside a window.
    windows: tuple[tuple[int, int], ...] = ((0, DAY_S),)
    discharge_fixed_s: int = 600
    discharge_rate_l_per_min: int = 900
    allowed_vehicle_classes: tuple[int, ...] | None = None
    preferred_tanker_id: str | None = None
    # Cost of leaving the job out.  Large by default: the planner serves every job it can.
    penalty_minor: int = 10_000_000


class Pin(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The job must be served by this tanker (or reported unassigned)."""

    job_id: str
    tanker_id: str


class StartedTrip(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A tanker's first trip is under way: these jobs open its route, in this order, and are never moved."""

    tanker_id: str
    job_ids: tuple[str, ...]
    depart_s: int | None = None


class Options(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    multi_trip: bool = False
    max_trips: int = 3
    # Trucks without meters: every compartment is emptied at exactly one stop, so a compartment never
    # serves two stops (even of the same product).
    full_compartments: bool = False
    time_limit_s: float = 10.0
    # Cost the planner weighs (not billed: Solution.cost_minor leaves it out) for each job served by
    # another tanker than its preferred_tanker_id.  0 ignores preferences.
    preference_cost_minor: int = 5_000
    pins: tuple[Pin, ...] = ()
    started: tuple[StartedTrip, ...] = ()


class Problem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    depots: tuple[Depot, ...]
    tankers: tuple[Tanker, ...]
    jobs: tuple[Job, ...]
    options: Options = Options()
    # Optional explicit matrix over locations (depots, then jobs).  None: computed by a provider.
    matrix: Matrix | None = None

    def depot(self, depot_id: str) -> Depot:
        for depot in self.depots:
            if depot.id == depot_id:
                return depot
        raise KeyError(depot_id)

    def job_location(self, job_index: int) -> int:
        return len(self.depots) + job_index

    def depot_location(self, depot_id: str) -> int:
        for index, depot in enumerate(self.depots):
            if depot.id == depot_id:
                return index
        raise KeyError(depot_id)

    def trips_per_tanker(self) -> int:
        return self.options.max_trips if self.options.multi_trip else 1


def preference_misses(problem: Problem, served_by: dict[str, str]) -> int:
    """Jobs with a preferred tanker that ``served_by`` (job id -> tanker id) gives to another tanker."""
    return sum(
        1
        for job in problem.jobs
        if job.preferred_tanker_id is not None and job.id in served_by and served_by[job.id] != job.preferred_tanker_id
    )


def load_time_s(depot: Depot, litres: int) -> int:
    """Loading time at the rack, rounded up to a whole second."""
    return depot.load_fixed_s + _pump_seconds(litres, depot.load_rate_l_per_min)


def discharge_time_s(job: Job, litres: int) -> int:
    """Discharge time at the site, rounded up to a whole second."""
    return job.discharge_fixed_s + _pump_seconds(litres, job.discharge_rate_l_per_min)


def _pump_seconds(litres: int, rate_l_per_min: int) -> int:
    if rate_l_per_min <= 0:
        return 0
    return -(-litres * 60 // rate_l_per_min)


def problem_errors(problem: Problem) -> list[str]:
    """Every reason the problem is invalid (empty when it is valid)."""
    errors: list[str] = []
    errors += _duplicate_ids("depot", [d.id for d in problem.depots])
    errors += _duplicate_ids("tanker", [t.id for t in problem.tankers])
    errors += _duplicate_ids("job", [j.id for j in problem.jobs])
    depot_ids = {d.id for d in problem.depots}
    tanker_ids = {t.id for t in problem.tankers}
    job_ids = {j.id for j in problem.jobs}
    for depot in problem.depots:
        errors += _depot_errors(depot)
    for tanker in problem.tankers:
        errors += _tanker_errors(tanker, depot_ids)
    for job in problem.jobs:
        errors += _job_errors(job, tanker_ids)
    errors += _options_errors(problem.options, tanker_ids, job_ids)
    if problem.matrix is not None:
        size = len(problem.depots) + len(problem.jobs)
        errors += problem.matrix.errors(size)
    return errors


def validate(problem: Problem) -> Problem:
    """Return the problem unchanged, or raise ProblemError listing everything wrong with it."""
    errors = problem_errors(problem)
    if errors:
        raise ProblemError(errors)
    return problem


def _duplicate_ids(kind: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    errors = []
    for item in ids:
        if item in seen:
            errors.append(f"{kind} id {item!r} is used twice")
        seen.add(item)
    return errors


def _coordinate_errors(kind: str, item_id: str, lat: float, lon: float) -> list[str]:
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
        return []
    return [f"{kind} {item_id!r}: coordinates ({lat}, {lon}) are outside the globe"]


def first_free_load(depot: Depot, earliest: int, load_s: int) -> int:
    """The earliest loading start from `earliest` whose loading [start, start + load_s) meets no span in which every
    bay is booked."""
    start = earliest
    for busy_start, busy_end in sorted(depot.bays_full):
        if start < busy_end and start + load_s > busy_start:
            start = busy_end
    return start


def next_full_bays(depot: Depot, after: int) -> int | None:
    """The start of the first span of full bays at or after `after` (how far a loading ending then may move)."""
    starts = [busy_start for busy_start, _ in depot.bays_full if busy_start >= after]
    return min(starts) if starts else None


def _depot_errors(depot: Depot) -> list[str]:
    errors = _coordinate_errors("depot", depot.id, depot.lat, depot.lon)
    if not 0 <= depot.open_s < depot.close_s:
        errors.append(f"depot {depot.id!r}: opening hours [{depot.open_s}, {depot.close_s}) are empty")
    if depot.load_fixed_s < 0 or depot.load_rate_l_per_min < 0:
        errors.append(f"depot {depot.id!r}: loading time and rate must not be negative")
    if any(not 0 <= start < end for start, end in depot.bays_full):
        errors.append(f"depot {depot.id!r}: a span of full bays is empty or negative")
    return errors


def _tanker_errors(tanker: Tanker, depot_ids: set[str]) -> list[str]:
    errors = []
    name = f"tanker {tanker.id!r}"
    if tanker.depot_id not in depot_ids:
        errors.append(f"{name}: unknown depot {tanker.depot_id!r}")
    if not 1 <= len(tanker.compartments) <= MAX_COMPARTMENTS:
        errors.append(f"{name}: needs 1 to {MAX_COMPARTMENTS} compartments, has {len(tanker.compartments)}")
    if any(c <= 0 for c in tanker.compartments):
        errors.append(f"{name}: every compartment needs a positive capacity in litres")
    if not 0 <= tanker.shift_start_s < tanker.shift_end_s:
        errors.append(f"{name}: shift [{tanker.shift_start_s}, {tanker.shift_end_s}) is empty")
    if tanker.max_duty_s is not None and tanker.max_duty_s <= 0:
        errors.append(f"{name}: max_duty_s must be positive")
    if tanker.cost_per_km_minor < 0 or tanker.fixed_cost_minor < 0:
        errors.append(f"{name}: costs must not be negative")
    return errors


def _job_errors(job: Job, tanker_ids: set[str]) -> list[str]:
    name = f"job {job.id!r}"
    errors = _coordinate_errors("job", job.id, job.lat, job.lon)
    if job.litres <= 0:
        errors.append(f"{name}: litres must be positive")
    if not job.product:
        errors.append(f"{name}: product is empty")
    if not 1 <= len(job.windows) <= 2:
        errors.append(f"{name}: needs one or two time windows, has {len(job.windows)}")
    for start, end in job.windows:
        if not 0 <= start <= end:
            errors.append(f"{name}: window ({start}, {end}) is empty or negative")
    if len(job.windows) == 2 and job.windows[0][1] >= job.windows[1][0]:
        errors.append(f"{name}: the two windows must be in order and must not overlap")
    if job.discharge_fixed_s < 0 or job.discharge_rate_l_per_min < 0:
        errors.append(f"{name}: discharge time and rate must not be negative")
    if not 0 <= job.penalty_minor <= MAX_PENALTY_MINOR:
        errors.append(f"{name}: penalty_minor must be in [0, {MAX_PENALTY_MINOR}]")
    if job.allowed_vehicle_classes is not None and not job.allowed_vehicle_classes:
        errors.append(f"{name}: allowed_vehicle_classes is empty (use null for 'any')")
    if job.preferred_tanker_id is not None and job.preferred_tanker_id not in tanker_ids:
        errors.append(f"{name}: unknown preferred tanker {job.preferred_tanker_id!r}")
    return errors


def _options_errors(options: Options, tanker_ids: set[str], job_ids: set[str]) -> list[str]:
    errors = []
    if options.max_trips < 1:
        errors.append("options.max_trips must be at least 1")
    if options.time_limit_s <= 0:
        errors.append("options.time_limit_s must be positive")
    if not 0 <= options.preference_cost_minor <= MAX_PENALTY_MINOR:
        errors.append(f"options.preference_cost_minor must be in [0, {MAX_PENALTY_MINOR}]")
    pinned: dict[str, str] = {}
    for pin in options.pins:
        if pin.job_id not in job_ids:
            errors.append(f"pin: unknown job {pin.job_id!r}")
        if pin.tanker_id not in tanker_ids:
            errors.append(f"pin: unknown tanker {pin.tanker_id!r}")
        if pinned.get(pin.job_id, pin.tanker_id) != pin.tanker_id:
            errors.append(f"pin: job {pin.job_id!r} is pinned to two tankers")
        pinned[pin.job_id] = pin.tanker_id
    started_tankers: set[str] = set()
    started_jobs: set[str] = set()
    for trip in options.started:
        if trip.tanker_id not in tanker_ids:
            errors.append(f"started trip: unknown tanker {trip.tanker_id!r}")
        if trip.tanker_id in started_tankers:
            errors.append(f"started trip: tanker {trip.tanker_id!r} has two started trips")
        started_tankers.add(trip.tanker_id)
        for job_id in trip.job_ids:
            if job_id not in job_ids:
                errors.append(f"started trip of {trip.tanker_id!r}: unknown job {job_id!r}")
            if job_id in started_jobs:
                errors.append(f"started trip: job {job_id!r} appears twice")
            started_jobs.add(job_id)
            if pinned.get(job_id, trip.tanker_id) != trip.tanker_id:
                errors.append(f"job {job_id!r} is pinned to another tanker than its started trip")
    return errors


def decode_problem(data: bytes | str) -> Problem:
    """Parse and validate a problem from its JSON form (see docs/ROUTING.md)."""
    return validate(msgspec.json.decode(data, type=Problem))


def encode_problem(problem: Problem) -> bytes:
    return msgspec.json.encode(problem)
