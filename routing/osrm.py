"""Road matrices from OSRM: in-process (the ``osrm-bindings`` wheel) or over HTTP (``osrm-routed``).

Both providers implement ``MatrixProvider`` and differ only in how they fetch one raw table:

* every point is **snapped** to the nearest road of the profile; ``table(points).snaps`` reports where
  and how far (metres).  A point snapped farther than ``max_snap_m`` is treated as off the network:
  every arc to or from it is unreachable;
* a pair OSRM cannot route (``null`` in the table: islands, one-way traps, a private estate) gets
  ``UNREACHABLE`` metres and seconds.  The solver excludes a job its tanker's depot cannot reach there
  and back (reason ``unreachable``); between two sites the value is far beyond any shift, so such an
  arc is never used;
* metres and seconds are rounded **up** to whole units (OSRM answers in tenths);
* matrices are cached by a hash of (points, profile, dataset, snap radius): in memory (the last few)
  and, with ``cache_dir``, on disk as ``.npz`` files.

``route_geometry(points)`` draws the road line through waypoints in order (route service, full overview,
GeoJSON geometry), for maps; it is not cached here (callers cache what they redraw).

``build_dataset(pbf)`` runs the wheel's ``osrm-extract`` / ``osrm-partition`` / ``osrm-customize``
(the MLD pipeline) and returns the ``.osrm`` base path that ``OsrmLocal`` and ``osrm-routed`` load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.matrix import UNREACHABLE, Matrix, Point

__all__ = [
    "OsrmError",
    "OsrmHttp",
    "OsrmLocal",
    "OsrmUnavailable",
    "RoadTable",
    "Snap",
    "build_dataset",
    "osrm_binary",
    "profile_path",
]


class OsrmError(RuntimeError):
    """OSRM is missing, refused the request, or the dataset could not be built."""


class OsrmUnavailable(OsrmError):
    """OSRM itself cannot answer (wheel missing, dataset not loadable, server unreachable), as opposed to
    one request it refused: callers may stop asking for a while."""


@dataclass(frozen=True, slots=True)
class Snap:
    """Where a point meets the road network."""

    index: int
    lat: float  # the input point
    lon: float
    snapped_lat: float
    snapped_lon: float
    distance_m: float  # input point -> snapped point, straight line
    name: str  # the street's name, "" when unnamed
    on_network: bool  # distance_m <= the provider's max_snap_m


@dataclass(frozen=True, slots=True)
class RoadTable:
    matrix: Matrix
    snaps: tuple[Snap, ...]
    unreachable_pairs: int  # ordered pairs (i != j) without a route

    def off_network(self) -> list[Snap]:
        return [s for s in self.snaps if not s.on_network]


@dataclass(slots=True)
class _Raw:
    distances: np.ndarray  # float metres, nan = no route
    durations: np.ndarray  # float seconds, nan = no route
    snapped: list[tuple[float, float, float, str]]  # (lat, lon, distance_m, name) per point


class _OsrmProvider:
    def __init__(
        self,
        *,
        profile: str,
        max_snap_m: float = 500.0,
        cache_dir: str | Path | None = None,
        cache_size: int = 8,
    ) -> None:
        if max_snap_m <= 0:
            raise ValueError("max_snap_m must be positive")
        self.profile = profile
        self.max_snap_m = max_snap_m
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: OrderedDict[str, RoadTable] = OrderedDict()
        self._memory_lock = threading.Lock()  # one provider serves the web threads of a process
        self._cache_size = cache_size
        self.fetches = 0  # raw tables actually asked of OSRM (for tests and logs)
        self.route_fetches = 0  # route geometries asked of OSRM

    # -- MatrixProvider ----------------------------------------------------------------------------

    def matrix(self, points: Sequence[Point]) -> Matrix:
        return self.table(points).matrix

    def table(self, points: Sequence[Point]) -> RoadTable:
        key = self.cache_key(points)
        with self._memory_lock:
            cached = self._memory.get(key)
        if cached is None:
            cached = self._load(key, points)
        if cached is None:
            cached = self._convert(points, self._fetch(points))
            self.fetches += 1
            self._store(key, cached)
        with self._memory_lock:
            self._memory[key] = cached
            self._memory.move_to_end(key)
            while len(self._memory) > self._cache_size:
                self._memory.popitem(last=False)
        return cached

    def cache_key(self, points: Sequence[Point]) -> str:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(f"{type(self).__name__}|{self.profile}|{self.dataset_id()}|{self.max_snap_m}|".encode())
        for lat, lon in points:
            digest.update(f"{lat:.7f},{lon:.7f};".encode())
        return digest.hexdigest()

    def route_geometry(self, points: Sequence[Point]) -> list[tuple[float, float]]:
        """The road line through ``points`` ((lat, lon), visited in order) as (lon, lat) pairs, GeoJSON order.

        It runs from the first point's snapped position to the last's.  Raises ``OsrmError`` when OSRM
        finds no route or a point lies farther than ``max_snap_m`` from any road (as ``table`` would call
        it unreachable), ``OsrmUnavailable`` when OSRM cannot be asked at all.
        """
        if len(points) < 2:
            raise ValueError("a route needs at least two points")
        answer = self._fetch_route(points)
        self.route_fetches += 1
        return self._route_line(answer)

    # -- to override -------------------------------------------------------------------------------

    def dataset_id(self) -> str:
        raise NotImplementedError

    def _fetch(self, points: Sequence[Point]) -> _Raw:
        raise NotImplementedError

    def _fetch_route(self, points: Sequence[Point]) -> Any:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------

    def _convert(self, points: Sequence[Point], raw: _Raw) -> RoadTable:
        n = len(points)
        snaps = tuple(
            Snap(
                index=i,
                lat=points[i][0],
                lon=points[i][1],
                snapped_lat=lat,
                snapped_lon=lon,
                distance_m=dist,
                name=name,
                on_network=dist <= self.max_snap_m,
            )
            for i, (lat, lon, dist, name) in enumerate(raw.snapped)
        )
        missing = np.isnan(raw.distances) | np.isnan(raw.durations)
        off = np.array([not s.on_network for s in snaps], dtype=bool)
        missing |= off[:, None] | off[None, :]
        np.fill_diagonal(missing, False)
        # OSRM answers in tenths; the epsilon keeps exact integers from rounding up by one.
        distances = np.ceil(np.nan_to_num(raw.distances, nan=0.0) - 1e-6).clip(min=0)
        durations = np.ceil(np.nan_to_num(raw.durations, nan=0.0) - 1e-6).clip(min=0)
        distances[missing] = UNREACHABLE
        durations[missing] = UNREACHABLE
        np.fill_diagonal(distances, 0)
        np.fill_diagonal(durations, 0)
        return RoadTable(
            matrix=Matrix.from_arrays(distances, durations),
            snaps=snaps,
            unreachable_pairs=int(missing.sum()) if n else 0,
        )

    def _route_line(self, answer: Any) -> list[tuple[float, float]]:
        # Only [] and iteration: the bindings' Array crashes the process on a negative index.
        if answer["code"] != "Ok" or "routes" not in answer or len(answer["routes"]) == 0:
            raise OsrmError(f"OSRM found no route: {answer['code']}")
        for index, waypoint in enumerate(answer["waypoints"]):
            if float(waypoint["distance"]) > self.max_snap_m:
                raise OsrmError(f"point {index} is {float(waypoint['distance']):.0f} m from the nearest road")
        geometry = answer["routes"][0]["geometry"]
        line = [(float(c[0]), float(c[1])) for c in geometry["coordinates"]]
        if len(line) < 2:
            raise OsrmError("OSRM returned a route without geometry")
        return line

    def _load(self, key: str, points: Sequence[Point]) -> RoadTable | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"{key}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                distances, durations = data["distances"], data["durations"]
                snapped = json.loads(str(data["snaps"]))
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache file is simply recomputed
        if distances.shape != (len(points), len(points)):
            return None
        snaps = tuple(Snap(**item) for item in snapped)
        unreachable = int((distances >= UNREACHABLE).sum())
        return RoadTable(Matrix.from_arrays(distances, durations), snaps, unreachable)

    def _store(self, key: str, table: RoadTable) -> None:
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        snaps = json.dumps([{f: getattr(s, f) for f in Snap.__slots__} for s in table.snaps])
        tmp = self.cache_dir / f"{key}.tmp.npz"
        np.savez_compressed(
            tmp,
            distances=np.array(table.matrix.distances_m, dtype=np.int64),
            durations=np.array(table.matrix.durations_s, dtype=np.int64),
            snaps=np.array(snaps),
        )
        tmp.replace(self.cache_dir / f"{key}.npz")


def _nan_rows(rows: Any) -> np.ndarray:
    return np.array([[math.nan if v is None else float(v) for v in row] for row in rows], dtype=float)


def _waypoint(item: Any) -> tuple[float, float, float, str]:
    lon, lat = item["location"]
    return float(lat), float(lon), float(item["distance"]), str(item["name"] or "")


_ENGINES: dict[tuple[str, str], Any] = {}
_ENGINES_LOCK = threading.Lock()


def _shared_engine(dataset_id: str, dataset: Path, algorithm: str) -> Any:
    """One engine per dataset (as built) and algorithm for the whole process, never destroyed.

    Engines are large (the whole road graph) and, measured here, destroying one while another answers a
    query can crash the process (a segfault inside ``Route``): so they are shared and kept.
    """
    key = (dataset_id, algorithm)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            osrm = _import_osrm()
            try:
                engine = osrm.OSRM(algorithm=algorithm, storage_config=str(dataset), use_shared_memory=False)
            except RuntimeError as error:
                raise OsrmUnavailable(f"OSRM could not load {dataset}: {error}") from error
            _ENGINES[key] = engine
        return engine


class OsrmLocal(_OsrmProvider):
    """OSRM in this process, through the ``osrm-bindings`` wheel (``pip install '.[osrm]'``).

    ``dataset`` is the ``.osrm`` base path written by ``build_dataset`` (or ``diesel osrm build``);
    ``algorithm`` must match how it was prepared: "MLD" (partition + customize) or "CH" (contract).
    """

    def __init__(self, dataset: str | Path, *, algorithm: str = "MLD", profile: str = "car", **kw: Any) -> None:
        super().__init__(profile=profile, **kw)
        self.dataset = Path(dataset)
        self.algorithm = algorithm.upper()
        if not _dataset_files(self.dataset):
            raise OsrmError(f"no OSRM dataset at {self.dataset} (build one with `diesel osrm build FILE.osm.pbf`)")
        self._engine: Any = None
        self._engine_lock = threading.Lock()  # route_geometry runs on web worker threads

    def dataset_id(self) -> str:
        digest = hashlib.blake2b(digest_size=12)
        for path in _dataset_files(self.dataset):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return f"{self.dataset.resolve()}#{digest.hexdigest()}"

    def engine(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                self._engine = _shared_engine(self.dataset_id(), self.dataset, self.algorithm)
        return self._engine

    def _fetch(self, points: Sequence[Point]) -> _Raw:
        osrm = _import_osrm()
        if len(points) == 0:
            return _Raw(np.zeros((0, 0)), np.zeros((0, 0)), [])
        params = osrm.TableParameters(
            coordinates=[(lon, lat) for lat, lon in points], annotations=["duration", "distance"]
        )
        try:
            answer = self.engine().Table(params)
        except RuntimeError as error:
            raise OsrmError(f"OSRM table failed: {error}") from error
        return _Raw(
            distances=_nan_rows(answer["distances"]),
            durations=_nan_rows(answer["durations"]),
            snapped=[_waypoint(item) for item in answer["sources"]],
        )

    def _fetch_route(self, points: Sequence[Point]) -> Any:
        osrm = _import_osrm()
        params = osrm.RouteParameters(
            coordinates=[(lon, lat) for lat, lon in points],
            geometries="geojson",
            overview="full",
            generate_hints=False,
        )
        engine = self.engine()
        try:
            return engine.Route(params)
        except RuntimeError as error:  # NoRoute, NoSegment, …: "Code - message"
            raise OsrmError(f"OSRM route failed: {error}") from error


class OsrmHttp(_OsrmProvider):
    """An ``osrm-routed`` server's table service (``/table/v1/{profile}/…?annotations=duration,distance``).

    osrm-routed refuses tables larger than its ``--max-table-size`` (default 100 locations), so big
    matrices are fetched in blocks of ``max_table_size // 2`` sources x destinations.  ``dataset`` is a
    label for the cache key (the server does not say which extract it serves): change it when the server
    is rebuilt, or leave the disk cache off.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:5000",
        *,
        profile: str = "driving",
        dataset: str = "",
        max_table_size: int = 100,
        timeout_s: float = 30.0,
        **kw: Any,
    ) -> None:
        super().__init__(profile=profile, **kw)
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        if max_table_size < 2:
            raise ValueError("max_table_size must be at least 2")
        self.base_url = base_url.rstrip("/")
        self.dataset = dataset
        self.block = max_table_size // 2
        self.timeout_s = timeout_s
        self.requests = 0

    def dataset_id(self) -> str:
        return f"{self.base_url}#{self.dataset}"

    def _fetch(self, points: Sequence[Point]) -> _Raw:
        n = len(points)
        distances = np.full((n, n), math.nan)
        durations = np.full((n, n), math.nan)
        snapped: list[tuple[float, float, float, str] | None] = [None] * n
        blocks = [list(range(s, min(n, s + self.block))) for s in range(0, n, self.block)]
        for sources in blocks:
            for targets in blocks:
                ids = sources if sources == targets else sources + targets
                answer = self._get_table([points[i] for i in ids], len(sources), len(ids) - len(sources))
                rows = np.ix_(sources, targets)
                distances[rows] = _nan_rows(answer["distances"])
                durations[rows] = _nan_rows(answer["durations"])
                for k, item in enumerate(answer["sources"]):
                    if snapped[sources[k]] is None:
                        snapped[sources[k]] = _waypoint(item)
        return _Raw(distances, durations, [s if s is not None else (0.0, 0.0, math.inf, "") for s in snapped])

    def _get_table(self, coords: Sequence[Point], sources: int, targets: int) -> Any:
        query = "annotations=duration,distance"
        if targets:  # a rectangular block: the first `sources` points to the rest
            query += "&sources=" + ";".join(map(str, range(sources)))
            query += "&destinations=" + ";".join(map(str, range(sources, sources + targets)))
        answer = self._get("table", coords, query)
        if answer.get("code") != "Ok":
            raise OsrmError(f"OSRM table refused: {answer.get('code')}: {answer.get('message', '')}")
        return answer

    def _fetch_route(self, points: Sequence[Point]) -> Any:
        answer = self._get("route", points, "overview=full&geometries=geojson&steps=false&generate_hints=false")
        if answer.get("code") != "Ok":
            raise OsrmError(f"OSRM route refused: {answer.get('code')}: {answer.get('message', '')}")
        return answer

    def _get(self, service: str, coords: Sequence[Point], query: str) -> Any:
        """One request; a refusal (HTTP 400 with a JSON body) is returned for the caller to judge."""
        path = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in coords)
        url = f"{self.base_url}/{service}/v1/{self.profile}/{path}?{query}"
        self.requests += 1
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:  # noqa: S310 (http(s) only)
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                answer = json.loads(error.read())
            except ValueError:
                kind = OsrmUnavailable if error.code >= 500 else OsrmError  # a proxy's 502 page, say
                raise kind(f"OSRM server answered HTTP {error.code}") from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise OsrmUnavailable(f"OSRM server at {self.base_url} failed: {error}") from error
        if not isinstance(answer, dict):
            raise OsrmError(f"OSRM server at {self.base_url} answered something that is not an object")
        return answer


# -- building a dataset ---------------------------------------------------------------------------


def _import_osrm() -> Any:
    try:
        import osrm
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise OsrmUnavailable(
            "the osrm-bindings wheel is not installed: pip install '.[osrm]' (Python >= 3.12)"
        ) from error
    return osrm


def _osrm_package_dir() -> Path | None:
    spec = importlib.util.find_spec("osrm")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def osrm_binary(name: str) -> Path:
    """An OSRM tool (``osrm-extract``, ``osrm-routed``, …): from the wheel, else from PATH."""
    package = _osrm_package_dir()
    if package is not None and (package / "bin" / name).is_file():
        return package / "bin" / name
    found = shutil.which(name)
    if found:
        return Path(found)
    raise OsrmError(f"{name} not found: install the osrm-bindings wheel (pip install '.[osrm]')")


def profile_path(profile: str) -> Path:
    """A profile name shipped with the wheel ("car", "bicycle", "foot") or a path to a .lua file."""
    candidate = Path(profile)
    if candidate.suffix == ".lua":
        if not candidate.is_file():
            raise OsrmError(f"profile {profile} does not exist")
        return candidate
    package = _osrm_package_dir()
    shipped = package / "share" / "profiles" / f"{profile}.lua" if package is not None else None
    if shipped is None or not shipped.is_file():
        raise OsrmError(f"unknown OSRM profile {profile!r} (give a .lua path or car/bicycle/foot)")
    return shipped


def _dataset_files(base: Path) -> list[Path]:
    return sorted(base.parent.glob(base.name + ".*")) if base.parent.is_dir() else []


def dataset_base(pbf: str | Path, out_dir: str | Path) -> Path:
    name = Path(pbf).name
    for suffix in (".osm.pbf", ".osm.bz2", ".osm", ".pbf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(out_dir) / f"{name}.osrm"


def build_dataset(
    pbf: str | Path,
    out_dir: str | Path | None = None,
    *,
    profile: str = "car",
    threads: int = 2,
    log: Any = None,
) -> Path:
    """extract + partition + customize (MLD): returns the ``.osrm`` base path to load.

    ``log`` (a callable taking a line) receives each step's name; the tools' own output is kept and
    shown only when a step fails.
    """
    source = Path(pbf).resolve()
    if not source.is_file():
        raise OsrmError(f"{source} does not exist")
    out = (Path(out_dir) if out_dir is not None else source.parent).resolve()
    out.mkdir(parents=True, exist_ok=True)
    base = dataset_base(source, out)
    lua = profile_path(profile)
    extract = [str(osrm_binary("osrm-extract")), "-p", str(lua), "-t", str(threads), "-o", str(base), str(source)]
    steps = [
        ("extract", extract),
        ("partition", [str(osrm_binary("osrm-partition")), "-t", str(threads), str(base)]),
        ("customize", [str(osrm_binary("osrm-customize")), "-t", str(threads), str(base)]),
    ]
    for name, command in steps:
        if log is not None:
            log(f"osrm {name}: {' '.join(command[1:])}")
        # The profile's lib/ folder is found relative to the working directory or the profile.
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=lua.parent)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise OsrmError(f"osrm-{name} failed (exit {done.returncode}):\n{tail}")
    return base
