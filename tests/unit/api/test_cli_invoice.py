"""`diesel invoice verify` checks a seal offline from saved public keys."""

from __future__ import annotations

import json
import uuid
from datetime import date

from click.testing import CliRunner

from api.cli import main
from core.signing import KeyRing, generate_key, public_keys_json
from money.documents.records import DocumentKind
from money.documents.seal import Seal, sign_seal

SEAL = Seal(
    kind=DocumentKind.INVOICE,
    number="INV-2030-000007",
    issue_date=date(2030, 1, 31),
    seller_tax_id="91310000SELLER0001",
    buyer_tax_id="91310000BUYER00001",
    total_minor=39_550_50,
    tax_minor=4_550_06,
    currency="CNY",
    lines_hash=uuid.uuid4().bytes,
)


def test_invoice_verify_offline(tmp_path) -> None:
    ring = KeyRing(keys=(generate_key(),))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(public_keys_json(ring)))
    token = sign_seal(SEAL, ring)
    runner = CliRunner()
    good = runner.invoke(main, ["invoice", "verify", "--keys", str(keys), "--", token])
    assert good.exit_code == 0, good.output
    assert "GENUINE" in good.output and "INV-2030-000007" in good.output and "39,550.50 CNY" in good.output
    scanned = runner.invoke(main, ["invoice", "verify", "--keys", str(keys)], input=token + "\n")
    assert scanned.exit_code == 0 and "GENUINE" in scanned.output

    stranger = KeyRing(keys=(generate_key(),))
    unknown = runner.invoke(main, ["invoice", "verify", "--keys", str(keys), "--", sign_seal(SEAL, stranger)])
    assert unknown.exit_code == 1 and "REFUSED" in unknown.output and "unknown_key" in unknown.output
    broken = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    refused = runner.invoke(main, ["invoice", "verify", "--keys", str(keys), "--", broken])
    assert refused.exit_code == 1 and "REFUSED" in refused.output


def test_invoice_verify_says_when_the_key_file_is_broken(tmp_path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("[{}]")
    result = CliRunner().invoke(main, ["invoice", "verify", "--keys", str(keys), "--", "ABC"])
    assert result.exit_code != 0 and "key file is not usable" in result.output
