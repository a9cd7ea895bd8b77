"""The service as a whole: health, OpenAPI coverage, security headers, migrations matching the models."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_health_and_security_headers(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_openapi_documents_every_endpoint_with_schemas(client) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    for required in ("/api/v1/orders", "/api/v1/pickups", "/api/v1/quotes", "/api/v1/depots/{depot_id}/slots"):
        assert required in paths
    for path, item in paths.items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in item.items():
            assert operation.get("summary") or operation.get("description"), (method, path)
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, (method, path)
            assert {"400", "401", "403", "404"} <= set(responses), (method, path)
            if method in ("post", "put", "patch") and "requestBody" in operation:
                content = operation["requestBody"]["content"]
                # JSON bodies, and file uploads (a bank statement) as multipart forms
                body = content.get("application/json") or content["multipart/form-data"]
                assert body["schema"], (method, path)
    order_in = doc["components"]["schemas"]["OrderIn"]
    assert {"site_id", "product_code", "delivery_date", "window_start", "window_end"} <= set(order_in["required"])
    assert doc["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


async def test_interactive_docs_page_is_served(client) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200 and "<html" in response.text.lower()


def test_migrations_match_the_models(database_url) -> None:
    """Autogenerate against the migrated database finds nothing to do: no table was made outside Alembic."""
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from api.models import metadata
    from core.settings import sync_database_url

    engine = sa.create_engine(sync_database_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            sqlite = conn.dialect.name == "sqlite"
    finally:
        engine.dispose()

    def same_on_sqlite(change: object) -> bool:
        # SQLite stores every integer in 64 bits: INTEGER and BIGINT are one type there.
        if not (sqlite and isinstance(change, list) and change and change[0][0] == "modify_type"):
            return False
        old, new = change[0][5], change[0][6]
        return isinstance(old, sa.Integer) and isinstance(new, sa.Integer)

    assert [change for change in diff if not same_on_sqlite(change)] == []


async def test_secrets_never_reach_the_logs(world, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    customer = await world.new_customer()
    secret_password = "correct-horse-battery-staple-42"
    await world.client.post("/api/v1/auth/token", json={"username": customer.username, "password": secret_password})
    await world.client.post("/api/v1/orders", headers=customer.h, json={"note": "x"})  # a refused request
    await world.client.get("/api/v1/orders/not-a-uuid", headers=customer.h)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret_password not in logged
    assert customer.token not in logged
    assert world.tokens["admin"] not in logged


async def test_cors_is_off_unless_origins_are_configured(client) -> None:
    response = await client.options(
        "/api/v1/products", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers
