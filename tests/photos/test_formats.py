"""The photo type is what the bytes say; names are exactly <sha256>.<ext>."""

from __future__ import annotations

from cityops.photos.formats import JPEG, PNG, WEBP, parse_name, sniff
from tests.photos.images import jpeg, png, webp


def test_the_first_bytes_decide_the_type() -> None:
    assert sniff(jpeg()[:12]) is JPEG
    assert sniff(png()[:12]) is PNG
    assert sniff(webp()[:12]) is WEBP
    for other in (b"", b"\xff\xd8", b"GIF89a......", b"RIFF\x00\x00\x00\x00WAVE", b"<html>"):
        assert sniff(other) is None


def test_only_a_lower_case_hash_and_a_known_extension_make_a_name() -> None:
    sha = "ab" * 32
    assert parse_name(f"{sha}.jpg") == (sha, JPEG)
    assert parse_name(f"{sha}.webp") == (sha, WEBP)
    for bad in (f"{sha}.jpg\n", f"{sha}.gif", f"{sha.upper()}.png", f"../{sha}.png", f"{sha}"):
        assert parse_name(bad) is None
