"""Distance and duration matrices, and the providers that build them.

A matrix is square over *locations* (for a Problem: its depots, then its jobs).  Distances are whole
metres and durations whole seconds, both rounded up so that a plan never promises a time the road
cannot give.
"""

from __future__ import annotations

import hashlib
import operator
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import msgspec
import numpy as np
from geopy import distance as geodistance

Point = tuple[float, float]  # (lat, lon) in degrees

# Metres and seconds of a pair with no road between them (OSRM's null): far beyond any shift, so the
# solver never drives it, and a job its depot cannot reach is reported `unreachable`.
UNREACHABLE = 1_000_000_000


class Matrix(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    distances_m: tuple[tuple[int, ...], ...]
    durations_s: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return len(self.distances_m)

    def errors(self, expected_size: int) -> list[str]:
        errors: list[str] = []
        for name, rows in (("distances_m", self.distances_m), ("durations_s", self.durations_s)):
            if len(rows) != expected_size or any(len(row) != expected_size for row in rows):
                errors.append(f"matrix.{name} must be {expected_size} x {expected_size} (depots, then jobs)")
            elif any(value < 0 for row in rows for value in row):
                errors.append(f"matrix.{name} has a negative entry")
        return errors

    @classmethod
    def from_arrays(cls, distances_m: np.ndarray, durations_s: np.ndarray) -> Matrix:
        distances = np.array(distances_m, dtype=np.int64)  # copies: the caller may change its arrays
        durations = np.array(durations_s, dtype=np.int64)
        matrix = cls(distances_m=_interned_rows(distances), durations_s=_interned_rows(durations))
        _remember_arrays(matrix, distances, durations)
        return matrix


def _interned_rows(values: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Rows of Python ints in which equal values are one int object.

    ``tuple(row)`` of ``tolist()`` makes a fresh 32-byte int per entry: 130 MB for each 2,000-point matrix,
    against 8 bytes an entry (the tuple's pointer) when a day's 100,000-odd distinct metres are shared.
    """
    if values.size == 0:
        return tuple(() for _ in range(len(values)))
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high < values.size:  # small non-negative values (metres, seconds): index by value
        table, codes = list(range(high + 1)), values
    else:  # e.g. UNREACHABLE pairs: index by rank among the distinct values
        distinct, inverse = np.unique(values, return_inverse=True)
        table, codes = distinct.tolist(), inverse.reshape(values.shape)
    return tuple(take(table, row.tolist()) for row in codes)


def take(table: list[int], index: list[int]) -> tuple[int, ...]:
    """``tuple(table[i] for i in index)``, at C speed."""
    if len(index) == 1:  # itemgetter of one item returns the item, not a 1-tuple
        return (table[index[0]],)
    return operator.itemgetter(*index)(table) if index else ()


# int64 copies of the two most recently used matrices (by identity), made once: the solver reads arrays, not tuples, and
# searches forked from one parent share these pages.
_ARRAYS: list[tuple[Matrix, np.ndarray, np.ndarray]] = []


def _remember_arrays(matrix: Matrix, distances: np.ndarray, durations: np.ndarray) -> None:
    distances.flags.writeable = False
    durations.flags.writeable = False
    # The day's matrix and one other (a part of the day being planned on its own: routing.solver.decompose).
    _ARRAYS[:] = [(matrix, distances, durations), *_ARRAYS[:1]]


def matrix_arrays(matrix: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """The matrix as read-only int64 arrays (distances, durations), remembered for the last matrix seen."""
    for k, (known, distances, durations) in enumerate(_ARRAYS):
        if known is matrix:
            _ARRAYS.insert(0, _ARRAYS.pop(k))  # most recently used first
            return distances, durations
    distances = np.array(matrix.distances_m, dtype=np.int64).reshape(matrix.size, matrix.size)
    durations = np.array(matrix.durations_s, dtype=np.int64).reshape(matrix.size, matrix.size)
    _remember_arrays(matrix, distances, durations)
    return distances, durations


class MatrixProvider(Protocol):
    """Anything that turns points into a matrix: geodesic here, OSRM (in-process or HTTP) later."""

    def matrix(self, points: Sequence[Point]) -> Matrix: ...


class GeodesicProvider:
    """Great-circle distance times a road factor, driven at a constant speed.

    ``method="great_circle"`` (default) is vectorised with numpy on geopy's mean earth radius, fast
    enough for thousands of points; ``method="geodesic"`` uses geopy's WGS-84 ellipsoid pair by pair
    (exact, slow: for a few hundred points at most).  The two differ by well under 1 %, far less
    than the road factor's own uncertainty.
    """

    def __init__(
        self,
        *,
        road_factor: float = 1.3,
        speed_kmh: float = 50.0,
        method: str = "great_circle",
        cache_size: int = 8,
    ) -> None:
        if road_factor < 1.0 or speed_kmh <= 0:
            raise ValueError("road_factor must be >= 1 and speed_kmh positive")
        if method not in ("great_circle", "geodesic"):
            raise ValueError(f"unknown method {method!r}")
        self.road_factor = road_factor
        self.speed_kmh = speed_kmh
        self.method = method
        self._cache: OrderedDict[str, Matrix] = OrderedDict()
        self._cache_size = cache_size

    def matrix(self, points: Sequence[Point]) -> Matrix:
        key = _points_key(points)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        metres = self._metres(points) * self.road_factor
        distances = np.ceil(metres - 1e-9)  # the epsilon keeps exact integers from rounding up by one
        seconds = np.ceil(distances / (self.speed_kmh / 3.6) - 1e-9)
        result = Matrix.from_arrays(distances, seconds)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def _metres(self, points: Sequence[Point]) -> np.ndarray:
        if self.method == "geodesic":
            n = len(points)
            out = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1, n):
                    out[i, j] = out[j, i] = geodistance.geodesic(points[i], points[j]).meters
            return out
        return self._great_circle(points, points)

    def _great_circle(self, rows: Sequence[Point], cols: Sequence[Point]) -> np.ndarray:
        lat_a = np.radians(np.array([p[0] for p in rows], dtype=float))
        lon_a = np.radians(np.array([p[1] for p in rows], dtype=float))
        lat_b = np.radians(np.array([p[0] for p in cols], dtype=float))
        lon_b = np.radians(np.array([p[1] for p in cols], dtype=float))
        dlat = lat_a[:, None] - lat_b[None, :]
        dlon = lon_a[:, None] - lon_b[None, :]
        a = np.sin(dlat / 2) ** 2 + np.cos(lat_a)[:, None] * np.cos(lat_b)[None, :] * np.sin(dlon / 2) ** 2
        central = 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        result: np.ndarray = central * geodistance.EARTH_RADIUS * 1000.0
        return result

    def block(self, rows: Sequence[Point], cols: Sequence[Point]) -> tuple[list[list[int]], list[list[int]]]:
        """(metres, seconds) from each of ``rows`` to each of ``cols``, entry for entry what `matrix` gives for
        those pairs: a matrix grown by a few points without computing it again (great_circle only)."""
        if self.method != "great_circle":
            raise ValueError("block needs method='great_circle'")
        if not rows or not cols:
            return [[] for _ in rows], [[] for _ in rows]
        metres = self._great_circle(rows, cols) * self.road_factor
        distances = np.ceil(metres - 1e-9)
        seconds = np.ceil(distances / (self.speed_kmh / 3.6) - 1e-9)
        return _shared_rows(distances.astype(np.int64)), _shared_rows(seconds.astype(np.int64))


_SHARED: list[int] = []  # 0, 1, 2, ...: one int object per value for every row `block` makes (8 bytes an entry)


def _shared_rows(values: np.ndarray) -> list[list[int]]:
    high = int(values.max())
    if int(values.min()) < 0 or high > 10_000_000:
        rows: list[list[int]] = values.tolist()
        return rows
    if len(_SHARED) <= high:
        _SHARED.extend(range(len(_SHARED), high + 1))
    return [list(take(_SHARED, row)) for row in values.tolist()]


def _points_key(points: Sequence[Point]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for lat, lon in points:
        digest.update(f"{lat:.7f},{lon:.7f};".encode())
    return digest.hexdigest()


_DEFAULT_PROVIDER = GeodesicProvider()


def matrix_for(problem: _HasLocations, provider: MatrixProvider | None = None) -> Matrix:
    """The problem's own matrix if it carries one, else one from the provider (geodesic by default)."""
    if problem.matrix is not None:
        return problem.matrix
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs]
    return (provider or _DEFAULT_PROVIDER).matrix(points)


class _Located(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...


class _HasLocations(Protocol):
    @property
    def depots(self) -> Sequence[_Located]: ...
    @property
    def jobs(self) -> Sequence[_Located]: ...
    @property
    def matrix(self) -> Matrix | None: ...


def euclidean_matrix(
    xy: Sequence[tuple[float, float]], *, scale: float = 1.0, rounding: str = "ceil"
) -> tuple[np.ndarray, np.ndarray]:
    """Planar distances (for benchmark instances): scale, then round ('ceil', 'floor' or 'nint')."""
    arr = np.array(xy, dtype=float)
    d = np.hypot(arr[:, None, 0] - arr[None, :, 0], arr[:, None, 1] - arr[None, :, 1]) * scale
    if rounding == "floor":
        d = np.floor(d + 1e-9)
    elif rounding == "nint":
        d = np.floor(d + 0.5)
    else:
        d = np.ceil(d - 1e-9)
    return d, d.copy()


__all__ = [
    "UNREACHABLE",
    "GeodesicProvider",
    "Matrix",
    "MatrixProvider",
    "Point",
    "euclidean_matrix",
    "matrix_for",
]
