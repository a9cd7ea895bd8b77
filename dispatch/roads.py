"""OSRM for the app: the matrix provider the planner uses, and road lines for plan maps.

Both follow the settings: ``OSRM_URL`` (an ``osrm-routed`` server) wins over ``OSRM_DATASET`` (a dataset
loaded in this process); with neither, planning is geodesic and map lines are straight.

Road lines are drawn one OSRM route call per trip (depot -> stops -> depot) and kept in a bounded
in-process cache keyed by the waypoint sequence, since plans are re-read far more often than they change.
A trip OSRM cannot route (a site far off the network, no road) is drawn straight and logged; when OSRM
cannot be reached at all it is left alone for ``RETRY_AFTER_S`` so maps stay fast.  A map line never fails
the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import anyio.to_thread

import routing
from core.errors import ServiceUnavailable
from core.settings import Settings
from routing.matrix import Point
from routing.osrm import OsrmError, OsrmHttp, OsrmLocal, OsrmUnavailable

__all__ = [
    "GeometryProvider",
    "TripLine",
    "clear_caches",
    "geometry_provider",
    "matrix_provider",
    "shared_matrix_provider",
    "trip_lines",
    "trip_lines_async",
]

log = logging.getLogger("diesel.dispatch.roads")

LonLat = tuple[float, float]
GeometrySource = Literal["road", "straight"]
LINE_CACHE_SIZE = 1024  # trips; a line is a few hundred vertices
RETRY_AFTER_S = 60.0
HTTP_TIMEOUT_S = 10.0  # a map waits for this at most per request when the server hangs


class GeometryProvider(Protocol):
    def route_geometry(self, points: Sequence[Point]) -> list[LonLat]: ...


@dataclass(frozen=True, slots=True)
class TripLine:
    coordinates: tuple[LonLat, ...]  # (lon, lat), GeoJSON order
    source: GeometrySource


def matrix_provider(settings: Settings, *, timeout_s: float = 30.0) -> OsrmHttp | OsrmLocal | None:
    """Road distances when OSRM is configured (tables cached on disk under the data folder); None lets the
    planner use geodesic distances. A new provider each call: the worker makes one per planning job."""
    config = _config(settings)
    if config is None:
        return None
    kind, where = config
    cache_dir = settings.data_dir / "osrm-cache"
    if kind == "url":
        return OsrmHttp(where, cache_dir=cache_dir, timeout_s=timeout_s)
    return OsrmLocal(where, cache_dir=cache_dir)


# -- road lines ----------------------------------------------------------------------------------------

_Config = tuple[str, str]
_lock = threading.Lock()
_providers: dict[_Config, OsrmHttp | OsrmLocal] = {}
_down_until: dict[_Config, float] = {}
# None = OSRM had no route for these waypoints: drawn straight without asking again.
_lines: OrderedDict[tuple[_Config, tuple[Point, ...]], tuple[LonLat, ...] | None] = OrderedDict()


def _config(settings: Settings) -> _Config | None:
    if settings.osrm_url:
        return ("url", settings.osrm_url)
    if settings.osrm_dataset:
        return ("dataset", settings.osrm_dataset)
    return None


def geometry_provider(settings: Settings) -> OsrmHttp | OsrmLocal | None:
    """One provider per configuration for the process (road lines, moves, publish checks): an in-process dataset
    is loaded once, and tables the planner fetched are read back from the disk cache."""
    config = _config(settings)
    if config is None:
        return None
    with _lock:
        provider = _providers.get(config)
        if provider is None:
            # A missing dataset raises OsrmError here; not remembered, so a fixed setup is picked up.
            provider = matrix_provider(settings, timeout_s=HTTP_TIMEOUT_S)
            assert provider is not None
            _providers[config] = provider
        return provider


def shared_matrix_provider(settings: Settings) -> routing.MatrixProvider | None:
    """For requests (a move, a publish check): the process's provider, so a dataset is not loaded per request."""
    try:
        return geometry_provider(settings)
    except OsrmError as error:
        raise ServiceUnavailable(f"road distances are unavailable: {error}", code="osrm_unavailable") from None


def clear_caches() -> None:
    """Forget providers, cached lines and back-offs (tests; a rebuilt dataset)."""
    with _lock:
        _providers.clear()
        _down_until.clear()
        _lines.clear()


def _straight(waypoints: Sequence[Point]) -> TripLine:
    return TripLine(tuple((lon, lat) for lat, lon in waypoints), "straight")


def trip_lines(settings: Settings, trips: Sequence[Sequence[Point]]) -> list[TripLine]:
    """One line per trip, each trip its waypoints as (lat, lon) in driving order (depot, stops, depot).

    Blocking (OSRM calls): from async code use ``trip_lines_async``.
    """
    config = _config(settings)
    if config is None or not trips:
        return [_straight(w) for w in trips]
    with _lock:
        down = _down_until.get(config, 0.0) > time.monotonic()
    provider = None
    if not down:
        try:
            provider = geometry_provider(settings)
        except OsrmError as error:
            log.warning("road lines unavailable, drawing straight lines: %s", error)
    lines: list[TripLine] = []
    for waypoints in trips:
        key = (config, tuple((float(lat), float(lon)) for lat, lon in waypoints))
        with _lock:
            hit = key in _lines
            cached = _lines.get(key)
            if hit:
                _lines.move_to_end(key)
        if hit:
            lines.append(TripLine(cached, "road") if cached is not None else _straight(waypoints))
            continue
        if provider is None or len(waypoints) < 2:
            lines.append(_straight(waypoints))
            continue
        line: tuple[LonLat, ...] | None
        try:
            line = tuple(provider.route_geometry(key[1]))
        except OsrmUnavailable as error:
            log.warning("OSRM unavailable, straight lines for %.0f s: %s", RETRY_AFTER_S, error)
            with _lock:
                _down_until[config] = time.monotonic() + RETRY_AFTER_S
            provider = None
            lines.append(_straight(waypoints))
            continue
        except OsrmError as error:
            log.warning("no road line for a trip of %d waypoints, drawn straight: %s", len(waypoints), error)
            line = None
        except Exception:  # a map line must never fail the page
            log.exception("road line failed for a trip of %d waypoints, drawn straight", len(waypoints))
            lines.append(_straight(waypoints))
            continue
        with _lock:
            _lines[key] = line
            while len(_lines) > LINE_CACHE_SIZE:
                _lines.popitem(last=False)
        lines.append(TripLine(line, "road") if line is not None else _straight(waypoints))
    return lines


async def trip_lines_async(settings: Settings, trips: Sequence[Sequence[Point]]) -> list[TripLine]:
    """``trip_lines`` on a worker thread, so OSRM never blocks the event loop."""
    if _config(settings) is None:
        return trip_lines(settings, trips)
    return await anyio.to_thread.run_sync(trip_lines, settings, trips)
