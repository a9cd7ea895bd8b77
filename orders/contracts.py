"""Contract prices per customer: a fixed price or a discount per litre for a product, at one depot or at all of
them, for a period. The sales desk replaces a customer's whole list at once; every change is audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal
from core.errors import InvalidInput
from orders import cache
from orders import schemas as s
from orders.accounts import get_customer
from orders.cache import ContractInfo
from orders.catalogue import depot_infos, get_product
from orders.models import ContractPrice

MAX_CONTRACT_PRICES = 500


def contract_out(row: ContractPrice | ContractInfo) -> s.ContractPriceOut:
    return s.ContractPriceOut(
        product_code=row.product_code,
        depot_id=row.depot_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        price_per_litre_minor=row.price_per_litre_minor,
        discount_per_litre_minor=row.discount_per_litre_minor,
    )


async def list_contract_prices(
    session: AsyncSession, *, customer_id: uuid.UUID, viewer: Principal
) -> Sequence[ContractPrice]:
    """The customer's contract prices (a customer sees only its own: another account is 404)."""
    await get_customer(session, customer_id, viewer=viewer)
    return await _rows(session, customer_id)


async def _rows(session: AsyncSession, customer_id: uuid.UUID) -> Sequence[ContractPrice]:
    stmt = (
        select(ContractPrice)
        .where(ContractPrice.customer_id == customer_id)
        .order_by(
            ContractPrice.product_code,
            ContractPrice.valid_from,
            ContractPrice.depot_id.is_(None),  # a depot's own first, on every database
            ContractPrice.depot_id,
        )
    )
    return (await session.scalars(stmt)).all()


def _last_day(item: s.ContractPriceIn) -> date:
    return item.valid_to or date.max


async def _check(session: AsyncSession, items: list[s.ContractPriceIn]) -> None:
    """Every item names a known product (stocked at its depot, if it names one), one kind of price and a period;
    two items for the same product and depot may not overlap (which one would apply?)."""
    if len(items) > MAX_CONTRACT_PRICES:
        raise InvalidInput(f"at most {MAX_CONTRACT_PRICES} contract prices", code="too_many_items")
    depots = {d.id: d for d in await depot_infos(session)}
    for index, item in enumerate(items):
        await get_product(session, item.product_code, field=f"[{index}].product_code")
        if (item.price_per_litre_minor is None) == (item.discount_per_litre_minor is None):
            raise InvalidInput(
                f"item {index}: give either price_per_litre_minor or discount_per_litre_minor",
                code="contract_price_or_discount",
                field=f"[{index}].price_per_litre_minor",
            )
        if item.valid_to is not None and item.valid_to < item.valid_from:
            raise InvalidInput(
                f"item {index}: valid_to is before valid_from", code="invalid_period", field=f"[{index}].valid_to"
            )
        if item.depot_id is not None:
            depot = depots.get(item.depot_id)
            if depot is None:
                raise InvalidInput(f"item {index}: unknown depot", code="unknown_depot", field=f"[{index}].depot_id")
            if item.product_code not in depot.products:
                raise InvalidInput(
                    f"item {index}: depot {depot.name} does not stock '{item.product_code}'",
                    code="product_not_stocked",
                    field=f"[{index}].product_code",
                )
        for earlier_index, earlier in enumerate(items[:index]):
            same = (earlier.product_code, earlier.depot_id) == (item.product_code, item.depot_id)
            if same and earlier.valid_from <= _last_day(item) and item.valid_from <= _last_day(earlier):
                raise InvalidInput(
                    f"item {index} overlaps item {earlier_index}: the same product and depot on the same days",
                    code="contract_overlap",
                    field=f"[{index}].valid_from",
                )


def _snapshot(rows: Sequence[ContractPrice | s.ContractPriceIn]) -> list[dict[str, object]]:
    return [
        {
            "product_code": r.product_code,
            "depot_id": r.depot_id,
            "valid_from": r.valid_from,
            "valid_to": r.valid_to,
            "price_per_litre_minor": r.price_per_litre_minor,
            "discount_per_litre_minor": r.discount_per_litre_minor,
        }
        for r in rows
    ]


async def set_contract_prices(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    items: list[s.ContractPriceIn],
    actor: Principal,
    now: datetime,
) -> Sequence[ContractPrice]:
    """Replace the customer's contract prices (an empty list ends them all); audited when anything changed."""
    await get_customer(session, customer_id, lock=True)  # two replacements at once: the audit's befores stay true
    await _check(session, items)
    before = _snapshot(await _rows(session, customer_id))
    await session.execute(delete(ContractPrice).where(ContractPrice.customer_id == customer_id))
    session.add_all(
        ContractPrice(
            customer_id=customer_id,
            product_code=item.product_code,
            depot_id=item.depot_id,
            valid_from=item.valid_from,
            valid_to=item.valid_to,
            price_per_litre_minor=item.price_per_litre_minor,
            discount_per_litre_minor=item.discount_per_litre_minor,
            created_at=now,
            created_by=actor.id,
        )
        for item in items
    )
    await session.flush()
    cache.invalidate(session, "contracts")
    rows = await _rows(session, customer_id)
    after = _snapshot(rows)
    if _sorted(before) != _sorted(after):
        record_audit(
            session,
            actor=actor,
            subject_type="contract_prices",
            subject_id=customer_id,
            customer_id=customer_id,
            action="contract_prices_replaced",
            at=now,
            before={"items": before},
            after={"items": after},
        )
    return rows


def _sorted(items: list[dict[str, object]]) -> list[str]:
    return sorted(repr(sorted(i.items())) for i in items)


async def contract_on(
    session: AsyncSession, *, customer_id: uuid.UUID, depot_id: uuid.UUID, product_code: str, day: date
) -> ContractInfo | None:
    """The customer's contract for the product at the depot on the day, if any: one for this depot before one for
    every depot. From the per-process cache (orders/cache.py): a warm order path reads nothing here."""
    contracts = cache.for_session(session).contracts
    found, infos = contracts.get(customer_id)
    if not found:
        infos = tuple(
            ContractInfo(
                product_code=r.product_code,
                depot_id=r.depot_id,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
                price_per_litre_minor=r.price_per_litre_minor,
                discount_per_litre_minor=r.discount_per_litre_minor,
            )
            for r in await _rows(session, customer_id)
        )
        contracts.put(customer_id, infos)
    assert isinstance(infos, tuple)
    matching = [c for c in infos if c.applies(depot_id=depot_id, product_code=product_code, day=day)]
    matching.sort(key=lambda c: c.depot_id is None)  # the depot's own first
    return matching[0] if matching else None
