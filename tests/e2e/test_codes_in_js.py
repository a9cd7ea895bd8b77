"""The browser's offline verifier (Base45, CBOR, Ed25519 over WebCrypto, depot tag, plate, validity) agrees with
tracking.codes on real and damaged tokens. Runs the ES module under Node (same WebCrypto API as Chromium)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tracking import codes
from tracking.keys import KeyRing, generate_key, public_keys_json

RUNNER = Path(__file__).parent / "js" / "verify-cases.mjs"
ROOT = Path(__file__).resolve().parents[2]
PLATES = ["沪A12345", "AB1234", "苏E9X88Z", None]


def _run_js(keys: list[dict[str, object]], cases: list[dict[str, object]]) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    answer = subprocess.run(
        [node, str(RUNNER)],
        input=json.dumps({"keys": keys, "cases": cases}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    return list(json.loads(answer.stdout))


def _damaged(token: str, rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    i = rng.randrange(len(token))
    choice = rng.randrange(3)
    if choice == 0:
        return token[:i] + rng.choice([c for c in alphabet if c != token[i]]) + token[i + 1 :]
    if choice == 1:
        return token[:i]
    return token + rng.choice(alphabet)


def test_the_browser_verifier_agrees_with_the_server() -> None:
    rng = random.Random(6)
    ring = KeyRing((generate_key(created_at=1),))
    other_ring = KeyRing((generate_key(created_at=2),))
    cases: list[dict[str, object]] = []
    expected: list[codes.Verification] = []
    for n in range(120):
        depot = uuid.uuid4()
        plate = rng.choice(PLATES)
        token = codes.issue(
            other_ring if n % 17 == 0 else ring,
            kind=rng.choice(["pickup", "trip", "receipt"]),
            subject_id=uuid.uuid4(),
            depot_id=depot,
            plate=plate,
            products=rng.sample(["diesel-0", "diesel-m10", "diesel-m35"], rng.randint(1, 3)),
            max_litres=rng.randint(1, 60_000),
            not_before=1_900_000_000,
            expires=1_900_003_600,
        )
        token = _damaged(token, rng) if n % 5 == 0 else token
        at_depot = depot if n % 7 else uuid.uuid4()
        now = rng.choice([1_899_999_000, 1_900_000_000, 1_900_001_000, 1_900_003_600])
        typed_plate = rng.choice([plate, "沪a 123-45", "ZZ999", None]) if plate else None
        cases.append({"token": token, "depot_id": str(at_depot), "now": now, "plate": typed_plate})
        expected.append(codes.verify(token, public_keys=ring, now=now, depot_id=at_depot, plate=typed_plate))

    results = _run_js(public_keys_json(ring), cases)
    for case, want, got in zip(cases, expected, results, strict=True):
        assert got["reasons"] == [str(r) for r in want.reasons], case
        assert got["authorised"] == want.ok, case
        if want.payload is not None:
            assert got["subject"] == str(want.payload.subject_id)
            assert got["kind"] == str(want.payload.kind)
            assert got["max_litres"] == want.payload.max_litres
    assert sum(w.ok for w in expected) > 10
    seen = {r for w in expected for r in w.reasons}
    every_reason = {"malformed", "unknown_key", "bad_signature", "wrong_depot", "expired", "not_yet_valid"}
    assert seen >= every_reason | {"plate_mismatch"}, seen
