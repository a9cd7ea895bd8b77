"""The drivers a customer may ask for on an order: the tanker drivers based at the depot that serves it (planning
pairs a depot's tankers with its own drivers only) whose hazardous-goods licence is valid on the day. Customers see
their names and nothing else: no phone, licence or shift.

The fleet belongs to dispatch, above orders: its table is read here by name, as a plain table clause, so that
orders imports nothing of dispatch.
"""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
from sqlalchemy import ColumnElement, Date, String, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput

_drivers = table(
    "drivers",
    column("id", Uuid()),
    column("name", String()),
    column("home_depot_id", Uuid()),
    column("hazmat_licence_expires", Date()),
)


class DriverChoiceOut(msgspec.Struct):
    id: uuid.UUID
    name: str


def _choosable(depot_id: uuid.UUID, day: date) -> tuple[ColumnElement[bool], ...]:
    return (_drivers.c.home_depot_id == depot_id, _drivers.c.hazmat_licence_expires >= day)


async def drivers_of_depot(session: AsyncSession, depot_id: uuid.UUID, *, day: date) -> list[DriverChoiceOut]:
    """The depot's drivers who may drive on `day`, by name."""
    rows = await session.execute(
        select(_drivers.c.id, _drivers.c.name)
        .where(*_choosable(depot_id, day))
        .order_by(_drivers.c.name, _drivers.c.id)
    )
    return [DriverChoiceOut(id=driver_id, name=name) for driver_id, name in rows]


async def check_preferred_driver(
    session: AsyncSession, driver_id: uuid.UUID, *, depot_id: uuid.UUID, day: date
) -> None:
    """A preferred driver must be one of the serving depot's drivers on the delivery day (`drivers_of_depot`)."""
    found = await session.scalar(select(_drivers.c.id).where(_drivers.c.id == driver_id, *_choosable(depot_id, day)))
    if found is None:
        raise InvalidInput(
            "this driver does not drive from the depot serving the site that day: pick one of its drivers or none",
            code="invalid_preferred_driver",
            field="preferred_driver_id",
        )
