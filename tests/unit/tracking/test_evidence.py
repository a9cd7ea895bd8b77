"""Delivery photos and signatures are decoded and checked before they are stored (tracking.evidence)."""

from __future__ import annotations

import base64
import io
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image

from core.errors import InvalidInput
from tracking import evidence


def image_bytes(kind: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def data_url(raw: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(raw).decode()}"


def refused(url: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        evidence.check(url)
    error = caught.value
    assert (error.status_code, error.code, error.field) == (422, "invalid_evidence", "evidence")
    [reason] = error.extra["reasons"]
    return str(reason)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue()


@pytest.mark.parametrize(("kind", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_a_real_photo_is_accepted_unchanged(kind: str, media_type: str) -> None:
    url = data_url(image_bytes(kind), media_type)
    assert evidence.check(url) == url


def test_a_progressive_jpeg_with_metadata_is_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(out, format="JPEG", progressive=True, comment=b"site gate")
    assert evidence.check(data_url(out.getvalue(), "image/jpeg"))


@pytest.mark.parametrize(
    ("raw", "media_type", "reason"),
    [
        (image_bytes("JPEG") + zip_archive(), "image/jpeg", "trailing_data"),  # JPEG + ZIP polyglot
        (image_bytes("PNG") + b"<html><script>alert(1)</script></html>", "image/png", "trailing_data"),
        (image_bytes("WEBP") + b"\x00" * 64, "image/webp", "trailing_data"),
        (image_bytes("JPEG")[:-200], "image/jpeg", "malformed"),  # truncated: no end of image
        (image_bytes("PNG")[:-30], "image/png", "malformed"),
        (b"\xff\xd8\xff" + b"garbage" * 50, "image/jpeg", "malformed"),
        (image_bytes("PNG"), "image/jpeg", "type_mismatch"),
        (image_bytes("JPEG"), "image/png", "type_mismatch"),
        (image_bytes("GIF"), "image/gif", "type_not_allowed"),
        (image_bytes("GIF"), "image/png", "type_not_allowed"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "image/svg+xml", "type_not_allowed"),
        (b"%PDF-1.4 " + image_bytes("PNG"), "image/png", "type_not_allowed"),  # magic bytes at offset 0 only
        (image_bytes("PNG", (8, 8)), "image/png", "dimensions"),  # too small to show anything
        (image_bytes("PNG", (5000, 20)), "image/png", "dimensions"),
        (image_bytes("JPEG", (2100, 2100)), "image/jpeg", "dimensions"),  # above MAX_PIXELS
    ],
)
def test_polyglots_garbage_and_wrong_sizes_are_refused(raw: bytes, media_type: str, reason: str) -> None:
    assert refused(data_url(raw, media_type)) == reason


def test_a_png_whose_pixels_do_not_decode_is_refused() -> None:
    """Its chunk structure is sound (so no trailing data), but the compressed pixels are garbage."""
    header = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    raw = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"not zlib at all")
    raw += png_chunk(b"IEND", b"")
    assert refused(data_url(raw, "image/png")) == "undecodable"


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding() -> None:
    """A few hundred bytes declaring 100,000 × 100,000 px (30 GB of pixels): refused before any pixel is decoded."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * 100_000
    pixels = zlib.compressobj(9)
    idat = pixels.compress(row * 20) + pixels.flush()  # a start of the image: decoding all of it would take ages
    raw = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    started = time.perf_counter()
    assert refused(data_url(raw, "image/png")) == "dimensions"
    assert time.perf_counter() - started < 1.0
    # Past Pillow's own bomb limit too (2 × Image.MAX_IMAGE_PIXELS).
    huge = struct.pack(">IIBBBBB", 2_000_000, 2_000_000, 8, 2, 0, 0, 0)
    raw = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", huge) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    assert refused(data_url(raw, "image/png")) == "dimensions"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.com/photo.jpg", "not_a_data_url"),
        ("data:image/jpeg,notbase64", "not_a_data_url"),
        ("data:image/jpeg;base64,!!!not-base64!!!", "not_base64"),
        ("data:image/jpeg;base64,/9j/4AAQ SkZJRg==", "not_base64"),
        ("data:image/jpeg;base64,/9j/4AAQSkZJRg", "not_base64"),  # bad padding
        ("data:image/jpeg;base64,", "type_not_allowed"),
        ("data:text/html;base64," + base64.b64encode(b"<script>alert(1)</script>").decode(), "type_not_allowed"),
        ("data:image/jpeg;base64," + "A" * 200_004, "too_large"),
    ],
)
def test_urls_that_are_not_base64_images_are_refused(url: str, reason: str) -> None:
    assert refused(url) == reason
