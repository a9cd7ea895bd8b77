"""Demo data for `diesel demo`: a Shanghai region with 2 depots, 4 grades, prices, 3 customers, fleet and users.

Only `diesel demo` calls this; it is the only place the well-known password `demo` is ever set.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Role
from core.hours import HoursEntry, zone
from core.models import User
from dispatch.models import Driver, Tanker
from orders import accounts, catalogue, operators
from orders import schemas as s

DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo login, created by `diesel demo` only
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]

PRODUCTS = [
    s.ProductIn(code="diesel-0", name="Diesel 0#", name_zh="0号柴油", density_kg_m3=835.0),
    s.ProductIn(code="diesel-m10", name="Diesel -10#", name_zh="-10号柴油", density_kg_m3=830.0),
    s.ProductIn(code="diesel-m20", name="Diesel -20#", name_zh="-20号柴油", density_kg_m3=825.0),
    s.ProductIn(code="diesel-m35", name="Diesel -35#", name_zh="-35号柴油", density_kg_m3=815.0),
]
# Price per litre in fen for today; tomorrow is 5 fen dearer (a typical daily move).
BASE_PRICES = {"diesel-0": 780, "diesel-m10": 805, "diesel-m20": 830, "diesel-m35": 870}

DEPOTS = [
    s.DepotIn(
        code="sh-pudong",
        name="Pudong Depot 浦东油库",
        address="Gaoqiao, Pudong New Area, Shanghai",
        lat=31.3507,
        lon=121.5856,
        opening_hours=[HoursEntry(days=EVERY_DAY, open="06:00", close="22:00")],
        loading_bays=4,
        products=["diesel-0", "diesel-m10", "diesel-m20", "diesel-m35"],
    ),
    s.DepotIn(
        code="sh-jiading",
        name="Jiading Depot 嘉定油库",
        address="Malu Town, Jiading District, Shanghai",
        lat=31.3333,
        lon=121.2611,
        opening_hours=[HoursEntry(days=[1, 2, 3, 4, 5, 6], open="07:00", close="19:00")],
        loading_bays=2,
        products=["diesel-0", "diesel-m10"],
    ),
]

WEEKDAYS = [HoursEntry(days=[1, 2, 3, 4, 5, 6], open="07:00", close="18:00")]
CUSTOMERS = [
    (
        s.CustomerIn(name="沪通物流 Hutong Logistics", credit_limit_minor=50_000_000, tax_id="91310115MA1H7XXXX1"),
        [
            s.SiteIn(
                name="Waigaoqiao yard 外高桥堆场",
                address="Waigaoqiao Free Trade Zone, Pudong, Shanghai",
                lat=31.3550,
                lon=121.5980,
                tank_capacity_litres=30_000,
                receiving_hours=[HoursEntry(days=EVERY_DAY, open="06:00", close="22:00")],
            ),
            s.SiteIn(
                name="Zhangjiang depot 张江车场",
                address="Zhangjiang Hi-Tech Park, Pudong, Shanghai",
                lat=31.2040,
                lon=121.5900,
                tank_capacity_litres=20_000,
                receiving_hours=WEEKDAYS,
            ),
        ],
    ),
    (
        s.CustomerIn(
            name="申城建设 Shencheng Construction", credit_limit_minor=20_000_000, tax_id="91310114MA1G8XXXX2"
        ),
        [
            s.SiteIn(
                name="Anting building site 安亭工地",
                address="Anting Town, Jiading, Shanghai",
                lat=31.2920,
                lon=121.1600,
                tank_capacity_litres=10_000,
                receiving_hours=WEEKDAYS,
                max_vehicle_class=2,
            ),
        ],
    ),
    (
        s.CustomerIn(name="东海港运 Donghai Port Services", credit_limit_minor=80_000_000, tax_id="91310000MA1K9XXXX3"),
        [
            s.SiteIn(
                name="Yangshan quay 洋山码头",
                address="Yangshan Deep-Water Port, Shanghai",
                lat=30.6260,
                lon=122.0640,
                tank_capacity_litres=60_000,
                receiving_hours=[HoursEntry(days=EVERY_DAY, open="00:00", close="24:00")],
            ),
            s.SiteIn(
                name="Luchaogang yard 芦潮港堆场",
                address="Luchaogang, Pudong, Shanghai",
                lat=30.8450,
                lon=121.8450,
                tank_capacity_litres=25_000,
                receiving_hours=WEEKDAYS,
            ),
        ],
    ),
]

TANKERS = [  # plate, depot code, compartments, vehicle class
    ("沪A10001", "sh-pudong", [8000, 8000, 6000, 6000], 3),
    ("沪A10002", "sh-pudong", [10000, 8000, 8000, 6000, 4000], 3),
    ("沪A10003", "sh-pudong", [6000, 6000, 5000, 5000], 2),
    ("沪B20001", "sh-jiading", [8000, 6000, 6000, 5000], 2),
    ("沪B20002", "sh-jiading", [10000, 10000, 8000, 8000, 8000], 4),
]


async def seed(session: AsyncSession, *, now: datetime) -> bool:
    """Create the demo data once; returns False when it is there already."""
    if await session.scalar(select(User.id).where(User.username == "admin")) is not None:
        return False
    for product in PRODUCTS:
        await catalogue.create_product(session, data=product)
    depots = {d.code: await catalogue.create_depot(session, data=d) for d in DEPOTS}
    today = now.astimezone(zone("Asia/Shanghai")).date()
    prices = [
        s.PriceIn(depot_id=depot.id, product_code=code, valid_from=day, price_per_litre_minor=base + extra)
        for depot in depots.values()
        for code, base in BASE_PRICES.items()
        if code in {p.code for p in depot.products}
        for day, extra in ((today, 0), (today + timedelta(days=1), 5))
    ]
    await catalogue.set_prices(session, prices=prices, currency="CNY", actor=None, now=now)

    for name, role in (("admin", Role.ADMIN), ("dispatcher", Role.DISPATCHER)):
        await accounts.create_user(session, username=name, password=DEMO_PASSWORD, role=role, now=now)
    rack_user = await accounts.create_user(
        session, username="rack1", password=DEMO_PASSWORD, role=Role.RACK_OPERATOR, now=now
    )
    await operators.set_depots(session, user_id=rack_user.id, depots=["sh-pudong"], actor=None, now=now)
    driver_user = await accounts.create_user(
        session,
        username="driver1",
        password=DEMO_PASSWORD,
        role=Role.DRIVER,
        display_name="Wang Wei",
        now=now,
    )
    for index, (customer, sites) in enumerate(CUSTOMERS, start=1):
        account = await accounts.create_customer(session, data=customer, currency="CNY", now=now, actor=None)
        for site in sites:
            session.add(accounts.new_site(site, customer_id=account.id, default_tz="Asia/Shanghai", now=now))
        await accounts.create_user(
            session,
            username=f"fleet{index}",
            password=DEMO_PASSWORD,
            role=Role.CUSTOMER,
            customer_id=account.id,
            display_name=f"{customer.name} admin",
            now=now,
        )

    for plate, depot_code, compartments, vehicle_class in TANKERS:
        session.add(
            Tanker(
                plate=plate,
                depot_id=depots[depot_code].id,
                compartments_litres=compartments,
                vehicle_class=vehicle_class,
                cost_per_km_minor=650,
                fixed_cost_minor=80_000,
                shift_start=time(6, 0),
                shift_end=time(18, 0),
            )
        )
    drivers = [
        ("Wang Wei 王伟", driver_user.id, "13800000001", "sh-pudong", today + timedelta(days=400)),
        ("Li Qiang 李强", None, "13800000002", "sh-pudong", today + timedelta(days=200)),
        ("Zhang Min 张敏", None, "13800000003", "sh-pudong", today + timedelta(days=90)),
        ("Liu Yang 刘洋", None, "13800000004", "sh-jiading", today + timedelta(days=300)),
        ("Chen Jie 陈杰", None, "13800000005", "sh-jiading", today - timedelta(days=3)),  # licence expired
    ]
    for name, user_id, phone, depot_code, expires in drivers:
        session.add(
            Driver(
                name=name,
                user_id=user_id,
                phone=phone,
                hazmat_licence_expires=expires,
                shift_start=time(6, 0),
                shift_end=time(18, 0),
                home_depot_id=depots[depot_code].id,
            )
        )
    await session.flush()
    return True


def demo_logins() -> list[tuple[str, str]]:
    return [
        ("admin", "administrator / finance"),
        ("dispatcher", "dispatcher"),
        ("driver1", "tanker driver"),
        ("rack1", "rack operator at the Pudong depot (sh-pudong)"),
        ("fleet1", "customer account admin (Hutong Logistics); fleet2, fleet3 for the other accounts"),
    ]


__all__ = ["DEMO_PASSWORD", "demo_logins", "seed"]
