"""Which photos we take and how they are named: pure, no files.

The type comes from the file's first bytes (magic numbers), never from the name or the declared
content type, so a text file renamed ``.jpg`` is refused. A stored photo is named by the SHA-256
of its bytes and the extension of its sniffed type: ``<64 hex>.<jpg|png|webp>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Format:
    ext: str
    media_type: str


JPEG = Format("jpg", "image/jpeg")
PNG = Format("png", "image/png")
WEBP = Format("webp", "image/webp")
BY_EXT = {f.ext: f for f in (JPEG, PNG, WEBP)}
# Bytes needed to tell the formats apart (WebP: "RIFF" <size> "WEBP").
HEAD_BYTES = 12
REF_PREFIX = "photo:"
_NAME = re.compile(r"([0-9a-f]{64})\.(jpg|png|webp)")


def sniff(head: bytes) -> Format | None:
    """The format the first bytes of a file announce, or None if it is none we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= HEAD_BYTES and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def name_of(sha256_hex: str, fmt: Format) -> str:
    return f"{sha256_hex}.{fmt.ext}"


def parse_name(name: str) -> tuple[str, Format] | None:
    """``(sha256, format)`` of a well-formed stored name, else None (no paths, no case games)."""
    m = _NAME.fullmatch(name)  # fullmatch: no trailing newline either
    if m is None:
        return None
    return m.group(1), BY_EXT[m.group(2)]


def is_photo_ref(ref: str) -> bool:
    """True for our own references (``photo:<sha256>.<ext>``); URLs and others are not ours."""
    return ref.startswith(REF_PREFIX)


# How far into the file the pixel size is looked for: a JPEG's frame header follows its EXIF
# block (at most 64 KB), the others' sit in the first 30 bytes.
DIMENSION_BYTES = 256 * 1024
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end, or the scan before any frame header
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _JPEG_SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if kind == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(data) >= 30:
        w = int.from_bytes(data[26:28], "little") & 0x3FFF
        h = int.from_bytes(data[28:30], "little") & 0x3FFF
        return w, h
    return None


def dimensions(data: bytes, fmt: Format) -> tuple[int, int] | None:
    """(width, height) in pixels as the file's header states it; None if it is not found.

    Read from the header, never by decoding: the point is to refuse a decompression bomb (a
    small file that claims 100,000 × 100,000 pixels) before anything decodes it.
    """
    if fmt is PNG:
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
    if fmt is WEBP:
        return _webp_size(data)
    return _jpeg_size(data)
