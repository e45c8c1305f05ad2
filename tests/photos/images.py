"""Small real images for upload tests, and the upload call itself."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from tests.api.conftest import Api


def png(seed: int = 0) -> bytes:
    """A valid 1×1 PNG; ``seed`` picks the pixel, so different seeds are different files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, 128, 64]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


def jpeg(size: int = 600, seed: int = 0) -> bytes:
    """JPEG-framed bytes (SOI, JFIF APP0, filler, EOI) of exactly ``size`` bytes."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    filler = bytes((seed + i) % 251 for i in range(size - len(head) - 2))
    return head + filler + b"\xff\xd9"


def webp() -> bytes:
    body = b"WEBPVP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def upload(
    api: Api,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    who: str | None = "resident",
) -> Any:
    headers = api.headers(who) if who else {}
    return api.client.post(
        "/api/v1/photos", headers=headers, files={"file": (filename, data, content_type)}
    )


def uploaded_ref(api: Api, data: bytes, who: str = "resident") -> str:
    r = upload(api, data, who=who)
    assert r.status_code == 201, r.text
    ref: str = r.json()["ref"]
    return ref
