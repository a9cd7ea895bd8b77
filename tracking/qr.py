"""QR rendering of codes (segno): error correction Q, 4-module quiet zone, alphanumeric mode.

Q (25 % recovery) because phone screens at a loading rack are scratched, dirty and glare in the sun.
Alphanumeric mode because tokens are Base45; segno would pick it by itself, but we force it and check, so a
token that is not Base45 fails loudly here instead of silently becoming a bigger byte-mode code.
"""

from __future__ import annotations

import io

import segno

__all__ = ["QUIET_ZONE", "make_qr", "qr_version", "render_png", "render_svg"]

QUIET_ZONE = 4  # modules; the minimum ISO/IEC 18004 asks for
ERROR = "q"


def make_qr(token: str) -> segno.QRCode:
    # boost_error=False: keep exactly Q so sizes are predictable (the size test measures the real version).
    qr = segno.make_qr(token, error=ERROR, mode="alphanumeric", boost_error=False)
    if qr.mode != "alphanumeric" or qr.error != "Q":
        raise ValueError(f"expected an alphanumeric QR code at level Q, got {qr.mode} at {qr.error}")
    return qr


def qr_version(token: str) -> int:
    version = make_qr(token).version
    if not isinstance(version, int):  # only Micro QR versions are strings ("M4"); we never make those
        raise ValueError(f"unexpected QR version {version!r}")
    return version


def render_svg(token: str, *, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    make_qr(token).save(buf, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=True, svgclass=None)
    return buf.getvalue()


def render_png(token: str, *, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    make_qr(token).save(buf, kind="png", scale=scale, border=QUIET_ZONE)
    return buf.getvalue()
