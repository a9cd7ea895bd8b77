"""A fast first plan of our own: sequential nearest-feasible trips, tanker by tanker.

OR-Tools' parallel cheapest insertion needs many seconds on days of 1,000+ deliveries with reload
nodes (it evaluates every insertion with its filters).  This construction needs a fraction of that: each
tanker in turn (earliest shift first) opens a trip with the most urgent delivery it can still reach,
then extends it with the nearest deliveries (among ``neighbours`` candidates) that keep litres,
compartments (exact, one product per compartment), windows, shift, duty and depot hours; when none
fits it returns to reload, up to ``max_trips`` trips.  Loading is timed for a full truck (like the
model), so the plan survives the exact re-timing in ``extract.finish``.  It compartment-checks every
extension, which the OR-Tools model cannot, so it also leaves fewer jobs to the repair step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from routing.problem import discharge_time_s, first_free_load
from routing.solver.extract import Plan
from routing.solver.instance import Instance
from routing.solver.packing import assign_compartments, min_compartments_for

WAIT_M_PER_S = 3  # a waiting second counts as 3 m of driving (tried 0, 3, 7, 14 on fuel days: 3 was best)


@lru_cache(maxsize=65536)
def _packable(caps: tuple[int, ...], demands: tuple[int, ...]) -> bool:
    return assign_compartments(caps, demands) is not None


def construct(instance: Instance, vehicles: list[int], *, neighbours: int = 40) -> Plan:
    problem = instance.problem
    deliveries = instance.deliveries
    n = len(deliveries)
    if n == 0 or not vehicles:
        return {}
    full = problem.options.full_compartments
    jobs = problem.jobs
    site = np.array([problem.job_location(d.job_index) for d in deliveries], dtype=np.int64)
    dist_all = instance.dist
    dur_all = instance.dur
    between = dist_all[np.ix_(site, site)].astype(float)
    np.fill_diagonal(between, np.inf)
    k = min(neighbours, n - 1) if n > 1 else 0
    near = np.argsort(between, axis=1)[:, :k] if k else np.zeros((n, 0), dtype=np.int64)
    if k:  # argsort of the k nearest only would be faster, but argpartition then needs a sort too
        near = np.take_along_axis(near, np.argsort(np.take_along_axis(between, near, axis=1), axis=1), axis=1)
    service = [discharge_time_s(jobs[d.job_index], d.litres) for d in deliveries]
    windows = [jobs[d.job_index].windows for d in deliveries]
    product = [jobs[d.job_index].product for d in deliveries]
    litres = [d.litres for d in deliveries]
    eligible = [set(instance.eligible.get(d.job_index, ())) for d in deliveries]
    urgency = sorted(range(n), key=lambda d: (windows[d][-1][1], windows[d][0][0]))
    served = [False] * n
    plan: Plan = {}
    order = sorted(vehicles, key=lambda t: (problem.tankers[t].shift_start_s, -problem.tankers[t].capacity_l, t))
    started = {trip.tanker_id for trip in problem.options.started}

    for t in order:
        tanker = problem.tankers[t]
        if tanker.id in started:
            continue  # a started trip's fixed prefix is the model's business
        depot = problem.depot(tanker.depot_id)
        home = instance.depot_location(t)
        caps = tuple(tanker.compartments)
        capacity = tanker.capacity_l
        load_s = instance.full_load_s[t]
        end_limit = tanker.shift_end_s
        trips: list[list[int]] = []
        day_start: int | None = None
        ready = max(tanker.shift_start_s, depot.open_s)  # when the next loading may start

        def visit(clock: int, here: int, d: int) -> tuple[int, int] | None:
            """(service start, departure) at delivery d, or None if no window is reachable."""
            arrival = clock + int(dur_all[here, site[d]])
            for start, end in windows[d]:
                if arrival <= end:
                    begin = max(arrival, start)
                    return begin, begin + service[d]
            return None

        def back_in_time(
            departure: int, at: int, first_load: int, home: int = home, end: int = end_limit, duty: int | None = None
        ) -> bool:
            back = departure + int(dur_all[at, home])
            return back <= end and (duty is None or back - first_load <= duty)

        while len(trips) < instance.trips:
            load_start = first_free_load(depot, ready, load_s)
            depart = load_start + load_s
            if depart > min(depot.close_s, end_limit):
                break
            first_load = day_start if day_start is not None else load_start
            # Open the trip with the most urgent delivery this tanker can serve and bring home in time.
            opener = None
            for d in urgency:
                if served[d] or t not in eligible[d]:
                    continue
                timed = visit(depart, home, d)
                if timed is None or not back_in_time(timed[1], int(site[d]), first_load, duty=tanker.max_duty_s):
                    continue
                if litres[d] > capacity:
                    continue
                if full and min_compartments_for(caps, litres[d]) > len(caps):
                    continue
                opener = (d, timed)
                break
            if opener is None:
                break
            d, (_, clock) = opener
            trip = [d]
            served[d] = True
            load = litres[d]
            by_product: dict[str, int] = {product[d]: litres[d]}
            stop_litres = [litres[d]]
            here = int(site[d])
            while True:
                best = None
                best_score = None
                for c in near[d]:
                    c = int(c)
                    if served[c] or t not in eligible[c] or load + litres[c] > capacity:
                        continue
                    timed = visit(clock, here, c)
                    if timed is None or not back_in_time(timed[1], int(site[c]), first_load, duty=tanker.max_duty_s):
                        continue
                    # Nearest: metres driven, plus waiting valued at WAIT_M_PER_S metres a second.
                    score = int(dist_all[here, site[c]]) + WAIT_M_PER_S * (
                        timed[0] - clock - int(dur_all[here, site[c]])
                    )
                    if best_score is not None and score >= best_score:
                        continue
                    if full:
                        demands = tuple(sorted([*stop_litres, litres[c]]))
                    else:
                        totals = dict(by_product)
                        totals[product[c]] = totals.get(product[c], 0) + litres[c]
                        demands = tuple(sorted(totals.values()))
                    if not _packable(caps, demands):
                        continue
                    best, best_score = (c, timed), score
                if best is None:
                    break
                c, (_, clock) = best
                trip.append(c)
                served[c] = True
                load += litres[c]
                by_product[product[c]] = by_product.get(product[c], 0) + litres[c]
                stop_litres.append(litres[c])
                here = int(site[c])
                d = c
            trips.append(trip)
            if day_start is None:
                day_start = load_start
            ready = clock + int(dur_all[here, home])
        if trips:
            plan[t] = trips
    # A job split into several deliveries is kept only whole (finish() drops partial jobs anyway).
    return plan
