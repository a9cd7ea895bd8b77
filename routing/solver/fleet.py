"""The fleet a warm-started search works with.

A search that starts from our construction needs no more tankers than the construction used, plus a few spares
to move work to.  Every vehicle the model holds costs search time (OR-Tools' operators try moves between every
pair of routes, empty ones included), so a day with many idle tankers is searched faster with them left out:
measured on the Gehring & Homberger RC1_10_1 instance (1,000 customers, 250 vehicles of which about 100 are
needed), a 110-vehicle search ended 6 points of gap lower at 60 s.  Tankers that a pin, a preference or a trip
under way names always stay.
"""

from __future__ import annotations

import math

from routing.solver.extract import Plan
from routing.solver.instance import Instance

SPARE_SHARE = 0.1
MIN_SPARES = 3


def search_fleet(instance: Instance, vehicles: list[int], plan: Plan) -> list[int]:
    """`vehicles` (in their order) without the idle tankers beyond the spares."""
    problem = instance.problem
    index_of = {tanker.id: index for index, tanker in enumerate(problem.tankers)}
    named = {pin.tanker_id for pin in problem.options.pins}
    named |= {trip.tanker_id for trip in problem.options.started}
    named |= {job.preferred_tanker_id for job in problem.jobs if job.preferred_tanker_id is not None}
    keep = {index for index, trips in plan.items() if any(trips)}
    keep |= {index_of[name] for name in named if name in index_of}
    idle = [v for v in vehicles if v not in keep]
    spares = max(MIN_SPARES, math.ceil(SPARE_SHARE * len(keep)))
    if len(idle) <= spares:
        return vehicles
    keep |= set(_varied(instance, idle, spares))
    return [v for v in vehicles if v in keep]


def _varied(instance: Instance, idle: list[int], count: int) -> list[int]:
    """`count` idle tankers taken in turn from each kind (home depot, compartments, vehicle class, shift), so
    that every kind of idle tanker is still on offer to the search."""
    kinds: dict[tuple[object, ...], list[int]] = {}
    for index in idle:
        t = instance.problem.tankers[index]
        kinds.setdefault((t.depot_id, t.compartments, t.vehicle_class, t.shift_start_s, t.shift_end_s), []).append(
            index
        )
    queues = list(kinds.values())
    chosen: list[int] = []
    while len(chosen) < count:
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen
