"""Exact assignment of a trip's loads to compartments.

A *group* is what may share compartments: one product (normal trucks, a compartment serves several
stops of its product) or one stop (``full_compartments``: a compartment is emptied at one stop).
The question is whether the compartments can be split into disjoint subsets, one per group, each
holding at least the group's litres.  That is a small bin-covering problem; with at most 12
compartments an exact search over subset bitmasks with memoised failures is instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache


def assign_compartments(capacities: Sequence[int], demands: Sequence[int]) -> list[tuple[int, ...]] | None:
    """For each group (by position in ``demands``) the compartment indices it gets, or None."""
    caps = tuple(capacities)
    if sum(demands) > sum(caps):
        return None
    # Biggest groups first: they have the fewest options, so failures show early.
    order = sorted(range(len(demands)), key=lambda g: -demands[g])
    wanted = tuple(demands[g] for g in order)
    chosen = _search(caps, wanted, 0, (1 << len(caps)) - 1)
    if chosen is None:
        return None
    result: list[tuple[int, ...]] = [() for _ in demands]
    for group, mask in zip(order, chosen, strict=True):
        result[group] = tuple(i for i in range(len(caps)) if mask >> i & 1)
    return result


def min_compartments_for(capacities: Sequence[int], litres: int) -> int:
    """The fewest compartments that can hold ``litres`` (largest first); a lower bound used by the model."""
    total = 0
    for count, capacity in enumerate(sorted(capacities, reverse=True), start=1):
        total += capacity
        if total >= litres:
            return count
    return len(capacities) + 1


def fill(capacities: Sequence[int], compartments: Sequence[int], litres: int) -> list[tuple[int, int]]:
    """Spread ``litres`` over the given compartments, biggest first: (compartment, litres) pairs."""
    out: list[tuple[int, int]] = []
    left = litres
    for index in sorted(compartments, key=lambda i: -capacities[i]):
        if left <= 0:
            break
        take = min(left, capacities[index])
        out.append((index, take))
        left -= take
    return out


@lru_cache(maxsize=200_000)
def _search(caps: tuple[int, ...], wanted: tuple[int, ...], group: int, free: int) -> tuple[int, ...] | None:
    if group == len(wanted):
        return ()
    need = wanted[group]
    options = []
    sub = free
    while sub:
        members = [caps[i] for i in range(len(caps)) if sub >> i & 1]
        total = sum(members)
        # Only minimal subsets: a superset just wastes a compartment another group may need.
        if total >= need and total - min(members) < need:
            options.append((total - need, sub))
        sub = (sub - 1) & free
    # Least waste first: keeps the big compartments for the groups still to come.
    for _, mask in sorted(options):
        rest = _search(caps, wanted, group + 1, free & ~mask)
        if rest is not None:
            return (mask, *rest)
    return None
