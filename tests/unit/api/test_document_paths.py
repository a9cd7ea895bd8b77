"""File-name addresses of documents reach their routes; nothing else is touched."""

from __future__ import annotations

import uuid

import pytest

from api.paths import rewrite

ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("path", "routed"),
    [
        (f"/api/v1/invoices/{ID}.pdf", f"/api/v1/invoices/{ID}/pdf"),
        (f"/api/v1/credit-notes/{ID}.pdf", f"/api/v1/credit-notes/{ID}/pdf"),
        (f"/api/v1/customers/{ID}/statements/2030-01.pdf", f"/api/v1/customers/{ID}/statements/2030-01/pdf"),
        (f"/api/v1/customers/{ID}/statements/2030-01.csv", f"/api/v1/customers/{ID}/statements/2030-01/csv"),
        (f"/api/v1/customers/{ID}/statements/2030-01.xlsx", f"/api/v1/customers/{ID}/statements/2030-01/xlsx"),
    ],
)
def test_document_addresses_are_routed(path: str, routed: str) -> None:
    assert rewrite(path) == routed


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/invoices/{ID}",
        "/api/v1/invoices.xlsx",
        "/api/v1/invoices/efapiao.json",
        f"/api/v1/invoices/{ID}/efapiao.json",
        f"/api/v1/invoices/{ID}.exe",
        "/api/v1/invoices/not-a-uuid.pdf",
        f"/api/v1/orders/{ID}.pdf",
        f"/elsewhere/api/v1/invoices/{ID}.pdf",
        f"/api/v1/customers/{ID}/statements/2030-01",
    ],
)
def test_other_paths_are_left_alone(path: str) -> None:
    assert rewrite(path) is None
