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
