"""QR rendering, read back by an independent decoder (zxing-cpp)."""

import io
import uuid

import pytest
import zxingcpp
from PIL import Image

from tracking import keys, qr
from tracking.codes import issue, verify

NOW = 1_760_000_000
DEPOT = uuid.uuid4()


@pytest.fixture(scope="module")
def token() -> str:
    ring = keys.KeyRing((keys.generate_key(created_at=NOW),))
    return issue(
        ring,
        kind="pickup",
        subject_id=uuid.uuid4(),
        depot_id=DEPOT,
        plate="沪A12345",
        products=["diesel-0"],
        max_litres=30000,
        not_before=NOW,
        expires=NOW + 3600,
    )


def test_qr_settings(token: str) -> None:
    code = qr.make_qr(token)
    assert code.mode == "alphanumeric"
    assert code.error == "Q"
    assert code.version == qr.qr_version(token) <= 10


def test_png_decodes_to_the_exact_token(token: str) -> None:
    png = qr.render_png(token, scale=6)
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    modules = 17 + 4 * qr.qr_version(token)
    assert image.size == ((modules + 2 * qr.QUIET_ZONE) * 6,) * 2  # 4-module quiet zone on each side
    results = zxingcpp.read_barcodes(image.convert("L"))
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert results[0].text == token
    assert results[0].ec_level == "Q"


def test_decoded_png_still_verifies(token: str) -> None:
    image = Image.open(io.BytesIO(qr.render_png(token, scale=4)))
    text = zxingcpp.read_barcodes(image.convert("L"))[0].text
    ring_less = verify(text, public_keys={}, now=NOW, depot_id=DEPOT)
    assert ring_less.reasons == ["unknown_key"]  # decoded intact: it got as far as the key lookup


def test_svg(token: str) -> None:
    svg = qr.render_svg(token)
    assert svg.startswith(b"<?xml") and b"<svg" in svg and svg.rstrip().endswith(b"</svg>")


def test_non_base45_text_is_refused() -> None:
    with pytest.raises(ValueError):
        qr.render_png("lowercase is not alphanumeric")
