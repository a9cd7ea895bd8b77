import numpy as np

from routing.matrix import GeodesicProvider, euclidean_matrix, matrix_for

SHANGHAI = (31.2304, 121.4737)
BEIJING = (39.9042, 116.4074)


def test_known_distance_with_road_factor_and_speed() -> None:
    provider = GeodesicProvider(road_factor=1.0, speed_kmh=36.0)
    m = provider.matrix([SHANGHAI, BEIJING])
    assert abs(m.distances_m[0][1] - 1_067_000) < 10_000  # great circle ~1,067 km
    assert m.durations_s[0][1] == -(-m.distances_m[0][1] // 10)  # 36 km/h = 10 m/s, rounded up
    assert m.distances_m[0][0] == 0 and m.durations_s[1][1] == 0
    assert m.distances_m[0][1] == m.distances_m[1][0]


def test_road_factor_scales_and_values_round_up() -> None:
    plain = GeodesicProvider(road_factor=1.0).matrix([SHANGHAI, (31.3, 121.5)])
    road = GeodesicProvider(road_factor=1.3).matrix([SHANGHAI, (31.3, 121.5)])
    assert road.distances_m[0][1] >= int(plain.distances_m[0][1] * 1.3) - 1
    speed = 50 / 3.6
    assert road.durations_s[0][1] >= road.distances_m[0][1] / speed
    assert road.durations_s[0][1] - road.distances_m[0][1] / speed < 1


def test_geodesic_method_agrees_with_great_circle() -> None:
    points = [SHANGHAI, BEIJING, (22.54, 114.06)]
    fast = np.array(GeodesicProvider().matrix(points).distances_m)
    exact = np.array(GeodesicProvider(method="geodesic").matrix(points).distances_m)
    assert np.all(np.abs(fast - exact) <= 0.006 * exact + 1)


def test_provider_caches_by_points() -> None:
    provider = GeodesicProvider()
    first = provider.matrix([SHANGHAI, BEIJING])
    assert provider.matrix([SHANGHAI, BEIJING]) is first
    assert provider.matrix([BEIJING, SHANGHAI]) is not first


def test_problem_matrix_wins_over_provider(tiny) -> None:
    computed = matrix_for(tiny)
    assert computed.size == 6
    import msgspec

    given = msgspec.structs.replace(tiny, matrix=computed)
    assert matrix_for(given) is computed


def test_euclidean_rounding_modes() -> None:
    d, t = euclidean_matrix([(0, 0), (1, 1)], scale=10, rounding="floor")
    assert d[0, 1] == 14 and t[0, 1] == 14
    d, _ = euclidean_matrix([(0, 0), (1, 1)], rounding="nint")
    assert d[0, 1] == 1
    d, _ = euclidean_matrix([(0, 0), (1, 1)])
    assert d[0, 1] == 2
