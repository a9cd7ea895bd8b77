"""A video file for Chromium's fake camera (`--use-file-for-fake-video-capture`) that shows a QR code.

Y4M is a text header and raw frames; each frame here is I420 (the Y plane, then U and V at half size).
Black modules on white paper need only the Y plane: U and V stay at 128 (no colour).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480
FRAMES = 10


def qr_image(token: str, *, box: int = 420) -> Image.Image:
    """The token's QR code as the app renders it (tracking.qr.render_png), scaled to fit `box` px, greyscale."""
    from tracking.qr import render_png

    image = Image.open(io.BytesIO(render_png(token, scale=1))).convert("L")
    scale = max(1, box // image.width)
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def write_y4m(image: Image.Image, path: Path) -> Path:
    """Centre `image` (greyscale) on a white 640x480 frame and write FRAMES identical frames."""
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(image, ((WIDTH - image.width) // 2, (HEIGHT - image.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((WIDTH // 2) * (HEIGHT // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(FRAMES):
            out.write(b"FRAME\n")
            out.write(luma)
            out.write(chroma)
            out.write(chroma)
    return path


def qr_video(token: str, path: Path) -> Path:
    return write_y4m(qr_image(token), path)
