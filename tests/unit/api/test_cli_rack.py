"""`diesel rack verify` works offline from a cached key file."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from tracking.codes import issue
from tracking.keys import KeyRing, generate_key, public_keys_json


def pickup_code(ring: KeyRing, depot: uuid.UUID, *, max_litres: int) -> str:
    now = int(time.time())
    return issue(
        ring,
        kind="pickup",
        subject_id=uuid.uuid4(),
        depot_id=depot,
        plate="沪A12345",
        products=["diesel-0"],
        max_litres=max_litres,
        not_before=now - 60,
        expires=now + 3600,
    )


def key_file(tmp_path: Path, ring: KeyRing) -> str:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(public_keys_json(ring)))
    return str(keys)


def test_rack_verify_offline_authorises_a_good_code_and_refuses_another_depot(tmp_path) -> None:
    ring = KeyRing(keys=(generate_key(),))
    depot = uuid.uuid4()
    token = pickup_code(ring, depot, max_litres=20_000)
    keys = key_file(tmp_path, ring)
    runner = CliRunner()
    # A Base45 code may begin with "-": after "--" it is never taken for an option.
    good = runner.invoke(
        main, ["rack", "verify", "--keys", keys, "--depot", str(depot), "--plate", "沪A 12345", "--", token]
    )
    assert good.exit_code == 0 and "AUTHORISED" in good.output and "20000 L" in good.output, good.output
    bad = runner.invoke(main, ["rack", "verify", "--keys", keys, "--depot", str(uuid.uuid4()), "--", token])
    assert bad.exit_code == 1 and "wrong_depot" in bad.output
    # As a scanner types it: the code on standard input.
    scanned = runner.invoke(main, ["rack", "verify", "--keys", keys, "--depot", str(depot)], input=token + "\n")
    assert scanned.exit_code == 0 and "AUTHORISED" in scanned.output, scanned.output


def test_a_code_that_begins_with_a_dash_is_verified_after_the_double_dash(tmp_path) -> None:
    depot = uuid.uuid4()
    for _ in range(2000):  # the first characters follow the key id: about 1 key in 25 gives codes that begin with "-"
        ring = KeyRing(keys=(generate_key(),))
        token = pickup_code(ring, depot, max_litres=1_000)
        if token.startswith("-"):
            break
    assert token.startswith("-")
    keys = key_file(tmp_path, ring)
    result = CliRunner().invoke(main, ["rack", "verify", "--keys", keys, "--depot", str(depot), "--", token])
    assert result.exit_code == 0 and "AUTHORISED" in result.output, result.output
    refused = CliRunner().invoke(main, ["rack", "verify", token, "--keys", keys, "--depot", str(depot)])
    assert refused.exit_code == 2 and "No such option" in refused.output  # why the help says "--"
