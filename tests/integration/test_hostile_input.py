import pytest

pytestmark = pytest.mark.integration


async def test_explore(world):
    c = world.client
    cust = await world.new_customer()
    A = {**world.h("admin")}
    dep = world.depots["main"]["id"]

    def show(name, r):
        print("@@", name, r.status_code, r.headers.get("content-type"), r.text[:250])

    for d in ["0001-01-01", "9999-12-31", "1900-01-01"]:
        show("slots " + d, await c.get(f"/api/v1/depots/{dep}/slots?date={d}", headers=cust.h))
        show("order " + d, await cust.order(delivery_date=d))
        show(
            "quote " + d,
            await c.post(
                "/api/v1/quotes",
                headers=cust.h,
                json={
                    "site_id": cust.site["id"],
                    "product_code": "diesel-0",
                    "quantity_litres": 1000,
                    "delivery_date": d,
                },
            ),
        )
        show("orders list " + d, await c.get(f"/api/v1/orders?date={d}", headers=cust.h))
        show("prices " + d, await c.get(f"/api/v1/prices?date={d}", headers=cust.h))
    for ts in [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T08:00:00+08:00",
        "9999-12-31T23:30:00-12:00",
        "9999-12-31T22:00:00+08:00",
        "2030-01-08T09:00:00",
    ]:
        show(
            "pickup " + ts,
            await c.post(
                "/api/v1/pickups",
                headers=cust.h,
                json={
                    "depot_id": dep,
                    "product_code": "diesel-0",
                    "quantity_litres": 1000,
                    "slot_start": ts,
                    "vehicle_plate": "沪A12345",
                    "driver_name": "张三",
                    "driver_phone": "13800138000",
                },
            ),
        )
    show(
        "put prices dup",
        await c.put(
            "/api/v1/prices",
            headers=A,
            json=[
                {"depot_id": dep, "product_code": "diesel-0", "date": "2030-02-01", "price_per_litre_minor": 800},
                {"depot_id": dep, "product_code": "diesel-0", "date": "2030-02-01", "price_per_litre_minor": 801},
            ],
        ),
    )
    show(
        "put prices 0001",
        await c.put(
            "/api/v1/prices",
            headers=A,
            json=[{"depot_id": dep, "product_code": "diesel-0", "date": "0001-01-01", "price_per_litre_minor": 800}],
        ),
    )
    show("put prices obj", await c.put("/api/v1/prices", headers=A, json={"depot_id": dep}))
    show("limit twice", await c.get("/api/v1/orders?limit=1&limit=2", headers=cust.h))
    show("post non-uuid cancel", await c.post("/api/v1/orders/123/cancel", headers=cust.h, json={}))
    show(
        "slots unknown depot", await c.get("/api/v1/depots/01a204bf-a13f-7500-b068-bbc709d829f8/slots", headers=cust.h)
    )
    show("slots bad product", await c.get(f"/api/v1/depots/{dep}/slots?product_code=%3Cscript%3E", headers=cust.h))
    show("apps status", await c.get("/api/v1/applications?status=%27%3B+DROP", headers=A))
    show("pickups status", await c.get("/api/v1/pickups?status=zzz", headers=cust.h))
    show(
        "idem key unicode",
        await c.post(
            "/api/v1/orders",
            headers={**cust.h, "Idempotency-Key": "\u00e9t\u00e9".encode("latin-1")},
            json=cust.order_body(),
        ),
    )
    show(
        "idem key ctrl",
        await c.post("/api/v1/orders", headers={**cust.h, "Idempotency-Key": "a\tb"}, json=cust.order_body()),
    )
    show(
        "trailing garbage",
        await c.post(
            "/api/v1/sites", headers={**cust.h, "content-type": "application/json"}, content=b'{"name":"x"} garbage'
        ),
    )
    show(
        "bom",
        await c.post(
            "/api/v1/auth/token",
            headers={"content-type": "application/json"},
            content='\ufeff{"username":"a","password":"b"}'.encode(),
        ),
    )
    show(
        "utf16",
        await c.post(
            "/api/v1/auth/token",
            headers={"content-type": "application/json"},
            content='{"username":"a","password":"b"}'.encode("utf-16"),
        ),
    )
    show(
        "surrogate",
        await c.post(
            "/api/v1/auth/token",
            headers={"content-type": "application/json"},
            content=b'{"username":"\\ud800","password":"b"}',
        ),
    )
    show(
        "cust surrogate",
        await c.post(
            "/api/v1/customers",
            headers={**A, "content-type": "application/json"},
            content=b'{"name":"\\ud800x","credit_limit_minor":1}',
        ),
    )
    show(
        "cust 1e3",
        await c.post(
            "/api/v1/customers",
            headers={**A, "content-type": "application/json"},
            content=b'{"name":"n","credit_limit_minor":1e3}',
        ),
    )
    show(
        "cust -0",
        await c.post(
            "/api/v1/customers",
            headers={**A, "content-type": "application/json"},
            content=b'{"name":"n","credit_limit_minor":-0}',
        ),
    )
    show(
        "cust big int",
        await c.post(
            "/api/v1/customers",
            headers={**A, "content-type": "application/json"},
            content=b'{"name":"n","credit_limit_minor":' + b"9" * 5000 + b"}",
        ),
    )
