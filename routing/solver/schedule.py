"""Turn a tanker's ordered trips into a timed, compartment-assigned day (or say it does not fit).

The OR-Tools model reserves a full-truck loading time per trip; here the real loaded volume is known,
so loading is timed exactly.  Times are the earliest possible, then the whole day is shifted later by
as much as the waiting allows without making any stop late or the day longer, so the duty time a
driver sees is as short as the route permits.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.problem import discharge_time_s, first_free_load, load_time_s, next_full_bays
from routing.solution import CompartmentLoad, Stop, Trip
from routing.solver.instance import Instance
from routing.solver.packing import assign_compartments, fill


@dataclass(slots=True)
class PackedTrip:
    loads: tuple[CompartmentLoad, ...]
    stop_compartments: list[tuple[int, ...]]
    litres: int


def pack_trip(instance: Instance, tanker_index: int, deliveries: list[int]) -> PackedTrip | None:
    """Exact compartment assignment for one trip, or None when its loads cannot be separated."""
    caps = instance.tanker(tanker_index).compartments
    jobs = instance.problem.jobs
    items = [instance.deliveries[d] for d in deliveries]
    products = [jobs[item.job_index].product for item in items]
    if instance.problem.options.full_compartments:
        groups = assign_compartments(caps, [item.litres for item in items])
        if groups is None:
            return None
        loads: list[CompartmentLoad] = []
        stop_compartments = []
        for item, product, group in zip(items, products, groups, strict=True):
            filled = fill(caps, group, item.litres)
            loads += [CompartmentLoad(compartment=c, product=product, litres=q) for c, q in filled]
            stop_compartments.append(tuple(c for c, _ in filled))
        ordered = tuple(sorted(loads, key=lambda x: x.compartment))
        return PackedTrip(ordered, stop_compartments, sum(item.litres for item in items))
    distinct = list(dict.fromkeys(products))
    totals = [sum(item.litres for item, p in zip(items, products, strict=True) if p == product) for product in distinct]
    groups = assign_compartments(caps, totals)
    if groups is None:
        return None
    loads = []
    remaining: dict[str, list[list[int]]] = {}
    for product, total, group in zip(distinct, totals, groups, strict=True):
        filled = fill(caps, group, total)
        loads += [CompartmentLoad(compartment=c, product=product, litres=q) for c, q in filled]
        remaining[product] = [[c, q] for c, q in filled]
    # Stops of a product drain its compartments one after another, in visiting order.
    stop_compartments = []
    for item, product in zip(items, products, strict=True):
        need, used = item.litres, []
        for slot in remaining[product]:
            if need <= 0:
                break
            if slot[1] == 0:
                continue
            take = min(need, slot[1])
            slot[1] -= take
            need -= take
            used.append(slot[0])
        stop_compartments.append(tuple(used))
    return PackedTrip(tuple(sorted(loads, key=lambda x: x.compartment)), stop_compartments, sum(totals))


def schedule_tanker(
    instance: Instance,
    tanker_index: int,
    trips: list[list[int]],
    not_before: list[int] | None = None,
    *,
    full_load: bool = False,
) -> list[Trip] | None:
    """Timed trips for one tanker, or None if the day breaks a window, depot hours, shift or duty.

    ``full_load``: every loading takes the full-truck time, as in the OR-Tools model, so that a day that fits
    here also fits the model (for plans the search goes on from)."""
    packed = []
    for deliveries in trips:
        trip = pack_trip(instance, tanker_index, deliveries)
        if trip is None:
            return None
        packed.append(trip)
    sim = _Simulation(instance, tanker_index, trips, packed, full_load=full_load)
    attempts = [None] if not_before is None else [None, not_before]
    for floor in attempts:
        day = sim.run(0, floor)
        if day is None:
            continue
        delay, timed = day
        if delay > 0:
            shifted = sim.run(delay, floor)
            if shifted is not None:
                timed = shifted[1]
        if sim.fits_day(timed):
            return timed
    return None


class _Simulation:
    def __init__(
        self,
        instance: Instance,
        tanker_index: int,
        trips: list[list[int]],
        packed: list[PackedTrip],
        *,
        full_load: bool = False,
    ):
        self.instance = instance
        self.full_load_s = instance.full_load_s[tanker_index] if full_load else None
        self.tanker = instance.tanker(tanker_index)
        self.depot = instance.problem.depot(self.tanker.depot_id)
        self.home = instance.depot_location(tanker_index)
        self.trips = trips
        self.packed = packed
        started = {t.tanker_id: t for t in instance.problem.options.started}.get(self.tanker.id)
        self.fixed_depart = started.depart_s if started is not None else None

    def run(self, delay: int, floor: list[int] | None) -> tuple[int, list[Trip]] | None:
        """Earliest schedule with the first loading delayed by ``delay``; also the largest safe delay."""
        instance, tanker, depot = self.instance, self.tanker, self.depot
        durations, distances = instance.matrix.durations_s, instance.matrix.distances_m
        clock = max(tanker.shift_start_s, depot.open_s) + delay
        waited = 0  # waiting accumulated so far (what a later start can absorb)
        room = 10**12  # largest extra delay no window or closing time forbids
        timed: list[Trip] = []
        for number, (deliveries, packed) in enumerate(zip(self.trips, self.packed, strict=True)):
            load = load_time_s(depot, packed.litres) if self.full_load_s is None else self.full_load_s
            load_start = max(clock, depot.open_s)
            if floor is not None:
                load_start = max(load_start, floor[number])
            load_start = first_free_load(depot, load_start, load)  # a bay must be free
            if number > 0:
                waited += load_start - clock
            depart = load_start + load
            if number == 0 and self.fixed_depart is not None:
                depart, load_start, room = self.fixed_depart, self.fixed_depart - load, 0
            if depart > depot.close_s:
                return None
            room = min(room, waited + depot.close_s - depart)
            busy = next_full_bays(depot, depart)
            if busy is not None and not (number == 0 and self.fixed_depart is not None):
                room = min(room, waited + busy - depart)  # a later loading must not run into full bays
            here, clock, metres = self.home, depart, 0
            stops = []
            for delivery_index, compartments in zip(deliveries, packed.stop_compartments, strict=True):
                delivery = instance.deliveries[delivery_index]
                job = instance.problem.jobs[delivery.job_index]
                there = instance.problem.job_location(delivery.job_index)
                metres += distances[here][there]
                arrival = clock + durations[here][there]
                window = next(((s, e) for s, e in job.windows if arrival <= e), None)
                if window is None:
                    return None
                start = max(arrival, window[0])
                waited += start - arrival
                room = min(room, waited + window[1] - start)
                clock = start + discharge_time_s(job, delivery.litres)
                stops.append(
                    Stop(
                        job_id=job.id,
                        litres=delivery.litres,
                        arrival_s=arrival,
                        start_s=start,
                        departure_s=clock,
                        compartments=compartments,
                    )
                )
                here = there
            metres += distances[here][self.home]
            clock += durations[here][self.home]
            timed.append(
                Trip(
                    depot_id=depot.id,
                    load_start_s=load_start,
                    depart_s=depart,
                    return_s=clock,
                    distance_m=metres,
                    loads=packed.loads,
                    stops=tuple(stops),
                )
            )
        return max(0, min(room, waited)), timed

    def fits_day(self, timed: list[Trip]) -> bool:
        if not timed:
            return True
        start, end = timed[0].load_start_s, timed[-1].return_s
        if end > self.tanker.shift_end_s:
            return False
        if self.fixed_depart is None and start < self.tanker.shift_start_s:
            return False
        return self.tanker.max_duty_s is None or end - start <= self.tanker.max_duty_s
