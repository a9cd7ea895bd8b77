"""HTTP handlers customers use to look after their account themselves: editing a site, searching an address for its
pin, and the drivers they may ask for on an order."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.hours import zone
from core.settings import Settings
from orders import accounts, catalogue, drivers, geocoding
from orders import schemas as s

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, Any]
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
Query = Annotated[str, QueryParameter(min_length=2, max_length=200, description="an address or place name")]
Language = Annotated[
    str | None, QueryParameter(pattern=r"^[A-Za-z]{2}(-[A-Za-z]{2,4})?$", description="answer in: zh-CN, en …")
]


class SelfServiceController(Controller):
    tags = ["accounts"]
    guards = [CUSTOMER_OR_STAFF]

    @put(
        "/sites/{site_id:uuid}",
        status_code=HTTP_200_OK,
        summary="Change a site: name, address, pin, receiving hours, tank (a customer its own)",
        description="The whole site as `POST /sites` takes it; the time zone stays when it is left out. Orders "
        "already placed keep their price and window. Audited (`site_changed`, before and after).",
    )
    async def update_site(
        self, site_id: FromPath[uuid.UUID], data: JSONBody[s.SiteIn], request: Req, db_session: Db, now: Now
    ) -> s.SiteOut:
        site = await accounts.update_site(db_session, site_id=site_id, data=data, actor=request.user, now=now)
        return accounts.site_out(site)

    @get("/geocode/status", summary="Whether an address search is configured (GEOCODER)")
    async def geocoder_status(self, settings: Conf) -> geocoding.GeocoderStatus:
        return geocoding.status(settings.geocoder)

    @get(
        "/geocode",
        summary="Search an address for a site's pin (when a geocoder is configured)",
        description="Up to five places `{address, lat, lon}` from the configured Nominatim server. 409 "
        "`geocoder_not_configured` without one (`GEOCODER=none`: `GET /geocode/status` tells beforehand), 503 "
        "`geocoder_unavailable` when it does not answer.",
    )
    async def geocode(self, q: Query, settings: Conf, lang: Language = None) -> list[geocoding.GeocodeResult]:
        return await geocoding.geocode(q, settings=settings.geocoder, language=lang)

    @get(
        "/depots/{depot_id:uuid}/drivers",
        summary="The drivers based at a depot, by name: whom an order may ask for (`preferred_driver_id`)",
        description="Names only (no phone, licence or shift), of the drivers whose licence is valid on `date` (the "
        "delivery day; today in the depot's time zone by default). The depot is the one serving the site, as a "
        "quote names it.",
    )
    async def depot_drivers(
        self,
        depot_id: FromPath[uuid.UUID],
        db_session: Db,
        now: Now,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
    ) -> list[drivers.DriverChoiceOut]:
        depot = await catalogue.get_depot(db_session, depot_id)
        day = day or now.astimezone(zone(depot.timezone)).date()
        return await drivers.drivers_of_depot(db_session, depot_id, day=day)
