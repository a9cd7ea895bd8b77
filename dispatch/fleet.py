"""Tankers, drivers and their daily pairing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from core.models import User
from dispatch import schemas as s
from dispatch.models import Driver, Pairing, Tanker
from orders.catalogue import get_depot
from orders.rules import check_phone, check_plate


def tanker_out(t: Tanker) -> s.TankerOut:
    return s.TankerOut(
        id=t.id,
        plate=t.plate,
        depot_id=t.depot_id,
        compartments_litres=list(t.compartments_litres),
        capacity_litres=sum(t.compartments_litres),
        vehicle_class=t.vehicle_class,
        cost_per_km_minor=t.cost_per_km_minor,
        fixed_cost_minor=t.fixed_cost_minor,
        shift_start=t.shift_start.isoformat(),
        shift_end=t.shift_end.isoformat(),
        has_meter=t.has_meter,
        available=t.available,
    )


def driver_out(d: Driver, *, today: date) -> s.DriverOut:
    return s.DriverOut(
        id=d.id,
        name=d.name,
        user_id=d.user_id,
        phone=d.phone,
        hazmat_licence_expires=d.hazmat_licence_expires,
        licence_valid_today=d.hazmat_licence_expires >= today,
        shift_start=d.shift_start.isoformat(),
        shift_end=d.shift_end.isoformat(),
        max_duty_minutes=d.max_duty_minutes,
        home_depot_id=d.home_depot_id,
    )


async def create_tanker(session: AsyncSession, *, data: s.TankerIn) -> Tanker:
    plate = check_plate(data.plate)
    await get_depot(session, data.depot_id)
    shift_start, shift_end = time.fromisoformat(data.shift_start), time.fromisoformat(data.shift_end)
    if shift_end <= shift_start:
        raise InvalidInput("the shift must end after it starts", code="invalid_shift", field="shift_end")
    if sum(data.compartments_litres) > 60_000:
        raise InvalidInput("a tanker carries at most 60,000 L", code="tanker_too_large", field="compartments_litres")
    if await session.scalar(select(Tanker.id).where(Tanker.plate == plate)) is not None:
        raise Conflict(f"a tanker with plate {plate} exists already", code="tanker_exists", field="plate")
    tanker = Tanker(
        plate=plate,
        depot_id=data.depot_id,
        compartments_litres=list(data.compartments_litres),
        vehicle_class=data.vehicle_class,
        cost_per_km_minor=data.cost_per_km_minor,
        fixed_cost_minor=data.fixed_cost_minor,
        shift_start=shift_start,
        shift_end=shift_end,
        has_meter=data.has_meter,
        available=data.available,
    )
    session.add(tanker)
    await session.flush()
    return tanker


async def get_tanker(session: AsyncSession, tanker_id: uuid.UUID) -> Tanker:
    tanker = await session.get(Tanker, tanker_id)
    if tanker is None:
        raise NotFound("no such tanker", code="tanker_not_found")
    return tanker


async def update_tanker(session: AsyncSession, *, tanker_id: uuid.UUID, data: s.TankerPatch) -> Tanker:
    tanker = await get_tanker(session, tanker_id)
    for name in ("available", "cost_per_km_minor", "fixed_cost_minor"):
        value = getattr(data, name)
        if value is not None:
            setattr(tanker, name, value)
    if data.shift_start is not None:
        tanker.shift_start = time.fromisoformat(data.shift_start)
    if data.shift_end is not None:
        tanker.shift_end = time.fromisoformat(data.shift_end)
    if tanker.shift_end <= tanker.shift_start:
        raise InvalidInput("the shift must end after it starts", code="invalid_shift", field="shift_end")
    await session.flush()
    return tanker


async def list_tankers(
    session: AsyncSession, *, depot_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[Tanker], int]:
    conditions = [] if depot_id is None else [Tanker.depot_id == depot_id]
    total = await session.scalar(select(func.count()).select_from(Tanker).where(*conditions)) or 0
    stmt = select(Tanker).where(*conditions).order_by(Tanker.plate, Tanker.id).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all(), total


async def create_driver(session: AsyncSession, *, data: s.DriverIn) -> Driver:
    phone = check_phone(data.phone, field="phone")
    shift_start, shift_end = time.fromisoformat(data.shift_start), time.fromisoformat(data.shift_end)
    if shift_end <= shift_start:
        raise InvalidInput("the shift must end after it starts", code="invalid_shift", field="shift_end")
    if data.home_depot_id is not None:
        await get_depot(session, data.home_depot_id)
    if data.user_id is not None:
        user = await session.get(User, data.user_id)
        if user is None or user.role != "driver":
            raise InvalidInput("user_id must be a user with the driver role", code="not_a_driver_user", field="user_id")
        if await session.scalar(select(func.count()).where(Driver.user_id == data.user_id)):
            raise Conflict("this user is already linked to a driver", code="driver_user_taken", field="user_id")
    driver = Driver(
        name=data.name,
        user_id=data.user_id,
        phone=phone,
        hazmat_licence_expires=data.hazmat_licence_expires,
        shift_start=shift_start,
        shift_end=shift_end,
        max_duty_minutes=data.max_duty_minutes,
        home_depot_id=data.home_depot_id,
    )
    session.add(driver)
    await session.flush()
    return driver


async def list_drivers(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Driver], int]:
    total = await session.scalar(select(func.count()).select_from(Driver)) or 0
    stmt = select(Driver).order_by(Driver.name, Driver.id).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all(), total


async def pair(session: AsyncSession, *, data: s.PairingIn) -> Pairing:
    await get_tanker(session, data.tanker_id)
    driver = await session.get(Driver, data.driver_id)
    if driver is None:
        raise NotFound("no such driver", code="driver_not_found")
    if driver.hazmat_licence_expires < data.date:
        raise InvalidInput(
            f"{driver.name}'s hazardous-goods licence expired on {driver.hazmat_licence_expires.isoformat()}: "
            "they cannot drive a tanker that day",
            code="licence_expired",
            field="driver_id",
        )
    existing = (
        await session.scalars(
            select(Pairing).where(
                Pairing.date == data.date, (Pairing.tanker_id == data.tanker_id) | (Pairing.driver_id == data.driver_id)
            )
        )
    ).all()
    for row in existing:
        await session.delete(row)
    await session.flush()
    pairing = Pairing(date=data.date, tanker_id=data.tanker_id, driver_id=data.driver_id)
    session.add(pairing)
    await session.flush()
    return pairing


async def list_pairings(session: AsyncSession, *, day: date) -> Sequence[Pairing]:
    return (await session.scalars(select(Pairing).where(Pairing.date == day))).all()
