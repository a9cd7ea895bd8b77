"""One owner per rule (ARCHITECTURE.md, habits 3 and 11), checked on the source by `make lint` (and by the unit tier).

* a `status` is assigned only by the module that owns that lifecycle's state machine: orders, pickup bookings and
  applications by orders/lifecycle.py, planning jobs, plans, trips and stops by dispatch/states.py, webhook
  deliveries by notify/webhooks/states.py, notifications by notify/states.py, money's documents by money;
* the prices and amounts of orders and bookings only by orders/lifecycle.py (and money, which has amounts of its
  own);
* the money columns of credit accounts (`balance_minor`, `open_orders_minor`, `credit_limit_minor`) only by money;

whether by an attribute assignment (plain, augmented, or one target of a tuple), `setattr`, the keywords of
`update(...).values(...)` / `insert(...).values(...)` (or a dict given to `.values`), the keywords of the
`Order`, `PickupBooking` or `CreditAccount` constructors, or an `UPDATE orders|pickup_bookings|credit_accounts`
in SQL text. The order path's one statement (orders/repository.py) reserves on credit_accounts in SQL: it is the
one listed exception, money.ledger.reserve in a single round trip.

Product packages only (routing is a library whose results have statuses of their own; migrations, tests and
benchmarks write rows as they need them).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "core", "money", "orders", "dispatch", "tracking", "notify", "web")

STATUS_OWNERS = ("orders/lifecycle.py", "dispatch/states.py", "notify/webhooks/states.py", "notify/states.py", "money/")
PRICE_FIELDS = frozenset(
    {
        "price_per_litre_minor",
        "gross_minor",
        "discount_bps",
        "discount_per_litre_minor",
        "discount_minor",
        "amount_minor",
    }
)
PRICE_OWNERS = ("orders/lifecycle.py", "money/")
MONEY_FIELDS = frozenset({"balance_minor", "open_orders_minor", "credit_limit_minor"})
MONEY_OWNERS = ("money/",)
# (module, field): a field of the same name that is not an order's or a booking's.
NOT_AN_ORDERS = {
    ("orders/catalogue.py", "price_per_litre_minor"): "the catalogue's day prices and contract prices",
    ("orders/catalogue.py", "discount_per_litre_minor"): "contract prices",
}
GUARDED_CONSTRUCTORS = frozenset({"Order", "PlacedOrder", "PickupBooking", "CreditAccount"})
SQL_UPDATE = re.compile(r"\bUPDATE\s+(orders|pickup_bookings|credit_accounts)\b", re.IGNORECASE)
SQL_OWNERS = {("orders/repository.py", "credit_accounts"): "the order path's one statement reserves credit"}


def _owned(module: str, owners: tuple[str, ...]) -> bool:
    return any(module == owner or (owner.endswith("/") and module.startswith(owner)) for owner in owners)


def _allowed(module: str, field: str) -> bool:
    if field == "status":
        return _owned(module, STATUS_OWNERS)
    if field in MONEY_FIELDS:
        return _owned(module, MONEY_OWNERS)
    if field in PRICE_FIELDS:
        return _owned(module, PRICE_OWNERS) or (module, field) in NOT_AN_ORDERS
    return True


GUARDED = frozenset({"status"}) | PRICE_FIELDS | MONEY_FIELDS


def _assigned_attributes(node: ast.AST) -> list[ast.Attribute]:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    found = []
    for target in targets:
        found += [x for x in ast.walk(target) if isinstance(x, ast.Attribute) and isinstance(x.ctx, ast.Store)]
    return found


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _written_by_call(call: ast.Call) -> list[str]:
    """Fields a call writes: `.values(field=...)`, `.values({"field": ...})`, `setattr(x, "field", ...)`, and the
    price and money keywords of the guarded constructors."""
    name = _call_name(call)
    if name == "values":
        fields = [k.arg for k in call.keywords if k.arg]
        for arg in call.args:
            if isinstance(arg, ast.Dict):
                fields += [k.value for k in arg.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        return fields
    if name == "setattr" and len(call.args) >= 2:
        field = call.args[1]
        return [field.value] if isinstance(field, ast.Constant) and isinstance(field.value, str) else []
    if name in GUARDED_CONSTRUCTORS:
        return [k.arg for k in call.keywords if k.arg and k.arg != "status"]  # creation in the initial status
    return []


def violations(source: str, module: str) -> list[str]:
    """Where `module` (a path from the repository's root, e.g. "tracking/driver.py") writes what it does not own."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for attribute in _assigned_attributes(node):
            if attribute.attr in GUARDED and not _allowed(module, attribute.attr):
                found.append(f"{module}:{node.lineno}: assigns {ast.unparse(attribute)}")
        if isinstance(node, ast.Call):
            for field in _written_by_call(node):
                if field in GUARDED and not _allowed(module, field):
                    found.append(f"{module}:{node.lineno}: writes {field} in {ast.unparse(node.func)}(...)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for table in SQL_UPDATE.findall(node.value):
                if (module, table.lower()) not in SQL_OWNERS:
                    found.append(f"{module}:{node.lineno}: SQL updates {table}")
    return found


def _product_modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def test_only_the_owners_write_statuses_prices_and_balances() -> None:
    found = []
    for path in _product_modules():
        module = path.relative_to(ROOT).as_posix()
        found += violations(path.read_text(encoding="utf-8"), module)
    assert not found, "written outside their owner (see tests/unit/test_ownership.py):\n" + "\n".join(found)


def test_the_product_is_scanned() -> None:
    modules = {path.relative_to(ROOT).as_posix() for path in _product_modules()}
    assert {"orders/lifecycle.py", "tracking/driver.py", "tracking/rack.py", "dispatch/publish.py"} <= modules


PLANTED = [
    ("tracking/driver.py", "order.status = 'delivered'"),
    ("tracking/rack.py", "booking.status, booking.updated_at = 'completed', now"),
    ("tracking/rack.py", "booking.amount_minor = new_amount"),
    ("tracking/driver.py", "order.gross_minor, order.discount_minor = gross, discount"),
    ("orders/accounts.py", "account.balance_minor -= payment"),
    ("orders/pickups.py", "credit.open_orders_minor += amount"),
    ("orders/accounts.py", "credit.credit_limit_minor = data.credit_limit_minor"),
    ("dispatch/publish.py", "await session.execute(update(Order).where(Order.id == x).values(status='scheduled'))"),
    ("dispatch/publish.py", "stmt = update(PickupBooking).values({'amount_minor': 0})"),
    ("tracking/trips.py", "setattr(order, 'status', 'loaded')"),
    ("tracking/driver.py", "await session.execute(text(\"UPDATE orders SET status = 'failed' WHERE id = :id\"))"),
    ("orders/pickups.py", "booking = PickupBooking(reference=r, amount_minor=breakdown.amount_minor)"),
    ("dispatch/planning.py", "plan.status = 'published'"),
    ("notify/webhooks/sender.py", "delivery.status = 'failed'"),
    ("orders/delivery.py", "sql = 'update credit_accounts set open_orders_minor = 0'"),
]


@pytest.mark.parametrize(("module", "line"), PLANTED)
def test_a_planted_write_outside_its_owner_is_caught(module: str, line: str) -> None:
    source = f"async def planted(session, order, booking, account, credit, delivery, plan):\n    {line}\n"
    assert violations(source, module), f"{line!r} in {module} went unnoticed"


OWNED = [
    ("orders/lifecycle.py", "order.status, order.updated_at = 'delivered', at"),
    ("orders/lifecycle.py", "booking.amount_minor = line.amount_minor"),
    ("dispatch/states.py", "trip.status = str(target)"),
    ("notify/webhooks/states.py", "delivery.status = str(target)"),
    ("money/ledger.py", "account.balance_minor += amount_minor"),
    ("money/invoices.py", "invoice.status = str(target)"),
    ("orders/repository.py", "sql = 'UPDATE credit_accounts SET open_orders_minor = open_orders_minor + $8'"),
    ("orders/catalogue.py", "existing.price_per_litre_minor = item.price_per_litre_minor"),
    ("orders/delivery.py", "order = Order(**fields)"),
    ("dispatch/planning.py", "job = PlanJob(status='queued')"),
]


@pytest.mark.parametrize(("module", "line"), OWNED)
def test_the_owner_may_write_what_it_owns(module: str, line: str) -> None:
    source = f"async def owned(order, booking, trip, delivery, account, invoice, existing, item, fields):\n    {line}\n"
    assert violations(source, module) == []
