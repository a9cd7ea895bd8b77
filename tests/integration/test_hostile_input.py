import pytest
from tests.factories import ok, EVERY_DAY

pytestmark = pytest.mark.integration


async def test_explore(world):
    c = world.client
    cust = await world.new_customer()
    H = {**cust.h, "content-type": "application/json"}
    site = {
        "name": "x",
        "address": "a",
        "lat": 31.0,
        "lon": 121.0,
        "tank_capacity_litres": 1000,
        "receiving_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
    }
    import json

    cases = [
        (
            "NaN literal",
            '{"name":"x","address":"a","lat":NaN,"lon":121,"tank_capacity_litres":1000,"receiving_hours":[]}',
        ),
        ("1e999", '{"name":"x","address":"a","lat":1e999,"lon":121,"tank_capacity_litres":1000,"receiving_hours":[]}'),
        ("tank str", json.dumps({**site, "tank_capacity_litres": "5000"})),
        ("tank float", json.dumps({**site, "tank_capacity_litres": 5000.0})),
        ("tank 5000.5", json.dumps({**site, "tank_capacity_litres": 5000.5})),
        ("tank bool", json.dumps({**site, "tank_capacity_litres": True})),
        ("lat str", json.dumps({**site, "lat": "31.0"})),
        ("deep", "[" * 100000 + "]" * 100000),
        ("deep obj", '{"name":' + "[" * 50000 + "]" * 50000 + "}"),
        ("bad utf8", b'{"name":"\xff\xfe"}'),
        ("nul", json.dumps({**site, "name": "a\u0000b"})),
        ("dup", '{"name":"a","name":"b"}'),
        ("empty", ""),
        ("array", "[]"),
        ("null", "null"),
    ]
    for name, body in cases:
        r = await c.post("/api/v1/sites", headers=H, content=body)
        print("@@", name, r.status_code, r.headers.get("content-type"), r.text[:300])
    r = await c.post("/api/v1/sites", headers={**cust.h, "content-type": "text/plain"}, content=json.dumps(site))
    print("text/plain", r.status_code, r.text[:300])
    r = await c.post(
        "/api/v1/sites", headers={**cust.h, "content-type": "application/x-www-form-urlencoded"}, content="name=x"
    )
    print("form", r.status_code, r.text[:300])
    r = await c.post("/api/v1/sites", headers=H, content=b"{" + b" " * (300 * 1024) + b"}")
    print("big", r.status_code, r.text[:300])

    async def gen():
        for _ in range(300):
            yield b" " * 1024

    r = await c.post("/api/v1/sites", headers=H, content=gen())
    print("big chunked", r.status_code, r.text[:300])
    for q in [
        "/api/v1/orders?limit=0",
        "/api/v1/orders?limit=99999",
        "/api/v1/orders?limit=abc",
        "/api/v1/orders?date=notadate",
        "/api/v1/orders?date=2030-02-30",
        "/api/v1/orders?offset=-1",
        "/api/v1/orders?customer_id=xyz",
        "/api/v1/prices?date=x",
        "/api/v1/prices?depot_id=zzz",
        "/api/v1/orders/123",
        "/api/v1/orders/00000000-0000-0000-0000-000000000000",
        "/api/v1/depots/not-a-uuid/slots",
        "/api/v1/orders?status=%00",
        "/api/v1/sites?customer_id=%00",
        "/api/v1/orders?limit=1e3",
        "/api/v1/orders?limit=99999999999999999999999999",
    ]:
        r = await c.get(q, headers=cust.h)
        print(q, r.status_code, r.headers.get("content-type"), r.text[:200])
