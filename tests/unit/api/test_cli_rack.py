"""`diesel rack verify` works offline from a cached key file."""

from __future__ import annotations

import json
import time
import uuid

from click.testing import CliRunner

from api.cli import main
from tracking.codes import issue
from tracking.keys import KeyRing, generate_key, public_keys_json


def test_rack_verify_offline_authorises_a_good_code_and_refuses_another_depot(tmp_path) -> None:
    ring = KeyRing(keys=(generate_key(),))
    depot = uuid.uuid4()
    now = int(time.time())
    token = issue(
        ring,
        kind="pickup",
        subject_id=uuid.uuid4(),
        depot_id=depot,
        plate="沪A12345",
        products=["diesel-0"],
        max_litres=20_000,
        not_before=now - 60,
        expires=now + 3600,
    )
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(public_keys_json(ring)))
    runner = CliRunner()
    good = runner.invoke(
        main, ["rack", "verify", token, "--keys", str(keys), "--depot", str(depot), "--plate", "沪A 12345"]
    )
    assert good.exit_code == 0 and "AUTHORISED" in good.output and "20000 L" in good.output
    bad = runner.invoke(main, ["rack", "verify", token, "--keys", str(keys), "--depot", str(uuid.uuid4())])
    assert bad.exit_code == 1 and "wrong_depot" in bad.output
