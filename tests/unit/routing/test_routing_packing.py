from routing.solver.packing import assign_compartments, fill, min_compartments_for


def test_products_get_disjoint_compartments_that_hold_them() -> None:
    caps = (4000, 4000, 4000, 6000)
    groups = assign_compartments(caps, [7000, 7000])
    assert groups is not None
    assert not set(groups[0]) & set(groups[1])
    for demand, group in zip([7000, 7000], groups, strict=True):
        assert sum(caps[i] for i in group) >= demand


def test_enough_litres_but_not_enough_compartments() -> None:
    assert assign_compartments((5000, 5000, 5000), [6000, 6000]) is None
    assert assign_compartments((5000, 5000, 5000), [6000, 5000]) is not None


def test_total_over_capacity_is_refused() -> None:
    assert assign_compartments((5000,), [5001]) is None


def test_many_small_groups() -> None:
    caps = (3000, 3000, 5000, 5000, 7000, 7000, 8000, 2000)
    groups = assign_compartments(caps, [2000, 2900, 4000, 5000, 6000, 7000, 9000])
    assert groups is not None
    used = [i for g in groups for i in g]
    assert len(used) == len(set(used))


def test_min_compartments_and_fill() -> None:
    assert min_compartments_for((3000, 5000, 8000), 8000) == 1
    assert min_compartments_for((3000, 5000, 8000), 9000) == 2
    assert min_compartments_for((3000, 5000), 9000) == 3  # does not fit at all
    assert fill((3000, 5000, 8000), (0, 1), 6000) == [(1, 5000), (0, 1000)]
