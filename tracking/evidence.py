"""Delivery photos and signatures: decoded and checked before they are stored.

A proof arrives as a `data:` URL and is kept only when its bytes are what it says they are:
* a JPEG, PNG or WebP by its magic bytes, and the type the URL declares;
* at most `MAX_BYTES` once decoded from base64 (strict base64: nothing but the alphabet);
* between `MIN_SIDE` and `MAX_SIDE` pixels a side and at most `MAX_PIXELS` in all, read from the header before a
  single pixel is decoded (a few hundred bytes of PNG or WebP can declare a picture of gigabytes);
* decodable to the last pixel (garbage and truncated files fail here);
* nothing before or after the image: the container's own structure must end at the last byte, so an image with
  a ZIP archive, HTML or a script appended (a polyglot) is refused.

Every refusal is 422 `invalid_evidence` on the field `evidence`, its `reasons` naming the rule it broke:
`not_a_data_url`, `not_base64`, `too_large`, `type_not_allowed`, `type_mismatch`, `malformed`, `trailing_data`,
`dimensions` or `undecodable`.
Pure: bytes in, a verdict out (no I/O); decoding costs a few milliseconds, so callers run it off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import re
import struct
import threading
from collections.abc import Iterator

from PIL import Image, ImageFile

from core.errors import InvalidInput

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_BYTES = 150_000  # the driver app sends a JPEG of at most 1024 px a side, under 190,000 base64 characters
MIN_SIDE = 16
MAX_SIDE = 4096
MAX_PIXELS = 2048 * 2048  # 12 MiB of RGB once decoded
_DATA_URL = re.compile(r"data:([^;,]{1,100});base64,(.*)", re.DOTALL)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def refuse(reason: str, detail: str) -> InvalidInput:
    return InvalidInput(
        f"the photo or signature was refused: {detail}", code="invalid_evidence", field="evidence", reasons=[reason]
    )


def check(data_url: str) -> str:
    """The data URL, unchanged, when it holds an acceptable image; else raises 422 `invalid_evidence`."""
    match = _DATA_URL.fullmatch(data_url)
    if match is None:
        raise refuse("not_a_data_url", "send it as data:image/jpeg;base64,… (or image/png, image/webp)")
    declared, encoded = match.groups()
    if declared not in FORMATS:
        raise refuse("type_not_allowed", f"{declared} is not accepted: JPEG, PNG or WebP only")
    if len(encoded) > (MAX_BYTES + 2) // 3 * 4:
        raise refuse("too_large", f"more than {MAX_BYTES} bytes")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise refuse("not_base64", "the data is not valid base64") from None
    detected = sniff(raw)
    if detected is None:
        raise refuse("type_not_allowed", "the data is not a JPEG, PNG or WebP image")
    if detected != declared:
        raise refuse("type_mismatch", f"declared {declared} but the data is {detected}")
    end = container_end(raw, detected)
    if end is None:
        raise refuse("malformed", "the image's structure is broken or cut short")
    if end != len(raw):
        raise refuse("trailing_data", "there is data after the end of the image")
    _decode(raw, FORMATS[detected])
    return data_url


def sniff(raw: bytes) -> str | None:
    """The media type by magic bytes, at offset 0 only."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(_PNG_MAGIC):
        return "image/png"
    if len(raw) >= 12 and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def container_end(raw: bytes, media_type: str) -> int | None:
    """Where the image's own structure ends (None when it is broken): its length, for a file with nothing appended."""
    try:
        if media_type == "image/png":
            return _png_end(raw)
        if media_type == "image/jpeg":
            return _jpeg_end(raw)
        (riff_size,) = struct.unpack_from("<I", raw, 4)  # RIFF: the size of what follows the first 8 bytes
        return 8 + int(riff_size)
    except (struct.error, IndexError, ValueError):  # ran off the end of the data
        return None


def _png_end(raw: bytes) -> int | None:
    """After the IEND chunk: chunks are length (4), type (4), data, CRC (4)."""
    position = len(_PNG_MAGIC)
    while position + 8 <= len(raw):
        (length,) = struct.unpack_from(">I", raw, position)
        kind = raw[position + 4 : position + 8]
        position += 12 + int(length)
        if kind == b"IEND":
            return position
    return None


def _jpeg_end(raw: bytes) -> int | None:
    """After the EOI marker: marker segments, and after each start of scan the entropy-coded data up to the next
    marker (in which 0xFF is followed by 0x00, or by a restart marker 0xD0-0xD7)."""
    position = 2
    while position < len(raw):
        if raw[position] != 0xFF:
            return None
        while raw[position] == 0xFF:  # fill bytes
            position += 1
        marker = raw[position]
        position += 1
        if marker == 0xD9:  # end of image
            return position
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            continue
        (length,) = struct.unpack_from(">H", raw, position)
        position += int(length)
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            while True:
                position = raw.index(b"\xff", position)
                following = raw[position + 1]
                if following != 0x00 and not 0xD0 <= following <= 0xD7:
                    break
                position += 2
    return None


# WeasyPrint (invoice PDFs, in this process too) sets Pillow's process-wide LOAD_TRUNCATED_IMAGES when imported,
# which makes `load()` fill a broken pixel stream with grey instead of failing: evidence is decoded strictly.
_strict_decoding = threading.Lock()


@contextlib.contextmanager
def _truncated_images_refused() -> Iterator[None]:
    with _strict_decoding:
        before, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _decode(raw: bytes, image_format: str) -> None:
    try:
        with _truncated_images_refused(), Image.open(io.BytesIO(raw), formats=[image_format]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
                raise refuse(
                    "dimensions",
                    f"{width}×{height} px: each side must be {MIN_SIDE}-{MAX_SIDE} px, at most {MAX_PIXELS} px in all",
                )
            image.load()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise refuse("dimensions", "the image declares far too many pixels") from None
    except Exception:  # any decoder failure (OSError, SyntaxError, ValueError, EOFError, …) means it is not an image
        raise refuse("undecodable", "the image could not be decoded") from None
