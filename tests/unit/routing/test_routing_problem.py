import msgspec
import pytest

from routing import (
    Job,
    Options,
    Pin,
    Problem,
    ProblemError,
    StartedTrip,
    decode_problem,
    encode_problem,
    validate,
)
from routing.matrix import Matrix
from routing.problem import discharge_time_s, load_time_s, problem_errors


def test_json_round_trip_keeps_every_field(tiny: Problem) -> None:
    data = encode_problem(tiny)
    assert decode_problem(data) == tiny
    assert b'"compartments":[10000,10000,10000]' in data


def test_unknown_fields_are_rejected(tiny: Problem) -> None:
    raw = msgspec.json.decode(encode_problem(tiny))
    raw["jobs"][0]["colour"] = "red"
    with pytest.raises(msgspec.ValidationError):
        decode_problem(msgspec.json.encode(raw))


def test_valid_problem_passes(tiny: Problem) -> None:
    assert validate(tiny) is tiny


def test_every_error_is_listed(make) -> None:
    bad_job = make.job("J1", 1, 1, litres=0, windows=((10, 5), (1, 2), (3, 4)))
    p = make.problem(
        [bad_job, make.job("J1", 2, 2)],
        [make.tanker("T1", depot_id="nowhere", compartments=())],
        pins=(Pin(job_id="J9", tanker_id="T1"),),
    )
    with pytest.raises(ProblemError) as caught:
        validate(p)
    text = " | ".join(caught.value.errors)
    for fragment in (
        "job id 'J1' is used twice",
        "unknown depot 'nowhere'",
        "compartments",
        "litres must be positive",
        "one or two time windows",
        "window (10, 5)",
        "pin: unknown job 'J9'",
    ):
        assert fragment in text


def test_overlapping_windows_and_started_trip_errors(make) -> None:
    job = make.job("J1", 1, 1, windows=((100, 500), (400, 900)))
    p = make.problem([job], started=(StartedTrip(tanker_id="T1", job_ids=("J1", "J1")),))
    errors = problem_errors(p)
    assert any("must be in order" in e for e in errors)
    assert any("appears twice" in e for e in errors)


def test_matrix_size_must_match_locations(tiny: Problem) -> None:
    wrong = Matrix(distances_m=((0,),), durations_s=((0,),))
    errors = problem_errors(msgspec.structs.replace(tiny, matrix=wrong))
    assert any("must be 6 x 6" in e for e in errors)


def test_pump_times_round_up(make) -> None:
    depot = make.depot(load_fixed_s=900, load_rate_l_per_min=1800)
    assert load_time_s(depot, 1800) == 960
    assert load_time_s(depot, 1801) == 961  # 60.03 s of pumping -> 61 s
    job = Job(id="J", lat=0, lon=0, product="0#", litres=1, discharge_fixed_s=600, discharge_rate_l_per_min=900)
    assert discharge_time_s(job, 901) == 600 + 61
    zero_rate = msgspec.structs.replace(job, discharge_rate_l_per_min=0)
    assert discharge_time_s(zero_rate, 10_000) == 600


def test_options_defaults_are_single_trip() -> None:
    assert Options().multi_trip is False
    p = Problem(depots=(), tankers=(), jobs=())
    assert p.trips_per_tanker() == 1
