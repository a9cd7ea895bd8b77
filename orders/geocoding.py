"""Address search for customers' sites: a configured Nominatim server, through geopy (`GEOCODER=nominatim`,
`GEOCODER_URL`). Without one (`GEOCODER=none`, the default) there is no search: sites are placed by a pin on the map.

geopy's clients block, so a search runs in a worker thread. The server's answer is trusted for nothing but
coordinates and a display name, both checked before they are shown.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio
import msgspec
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from core.errors import Conflict, ServiceUnavailable
from core.settings import GeocoderSettings

MAX_RESULTS = 5
USER_AGENT = "diesel-direct"  # Nominatim's usage policy asks every client to name itself


class GeocodeResult(msgspec.Struct):
    address: str
    lat: float
    lon: float


class GeocoderStatus(msgspec.Struct):
    enabled: bool
    provider: str


def status(settings: GeocoderSettings) -> GeocoderStatus:
    return GeocoderStatus(enabled=settings.enabled, provider=settings.kind)


def _client(settings: GeocoderSettings) -> Nominatim:
    assert settings.url is not None
    parts = urlsplit(settings.url)
    # geopy joins scheme, "domain" and /search: a path prefix of the server rides along with the host.
    return Nominatim(
        user_agent=USER_AGENT, domain=parts.netloc + parts.path, scheme=parts.scheme, timeout=settings.timeout_s
    )


def _result(location: Any) -> GeocodeResult | None:
    try:
        lat, lon = float(location.latitude), float(location.longitude)
    except (AttributeError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeocodeResult(address=str(location.address or "")[:300], lat=lat, lon=lon)


async def geocode(query: str, *, settings: GeocoderSettings, language: str | None = None) -> list[GeocodeResult]:
    """Up to five places matching `query`. 409 `geocoder_not_configured` without a geocoder (this server is not set
    up to search: `GET /geocode/status` says so beforehand); 503 `geocoder_unavailable` when it does not answer in
    time or answers nonsense."""
    if not settings.enabled:
        raise Conflict(
            "no address search is configured here: place the site with a pin", code="geocoder_not_configured"
        )
    search = partial(_client(settings).geocode, query, exactly_one=False, limit=MAX_RESULTS, language=language)
    try:
        found = await anyio.to_thread.run_sync(search)
    except (GeopyError, OSError, ValueError) as error:
        raise ServiceUnavailable(
            f"the address search did not answer ({type(error).__name__}): try again, or place a pin",
            code="geocoder_unavailable",
        ) from None
    results = [r for r in (_result(location) for location in found or []) if r is not None]
    return results[:MAX_RESULTS]
