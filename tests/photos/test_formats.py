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


def test_pixel_size_is_read_from_each_formats_header() -> None:
    import struct

    from cityops.photos.formats import dimensions
    from tests.photos.images import jpeg, webp

    assert dimensions(png(), PNG) == (1, 1)
    assert dimensions(webp(), WEBP) == (1, 1)
    exif = b"\xff\xe1" + struct.pack(">H", 2 + 1000) + bytes(1000)  # an APP1 block first
    sof = b"\xff\xc2" + struct.pack(">HBHHB", 11, 8, 3000, 4000, 3) + bytes(3 * 3)
    assert dimensions(b"\xff\xd8" + exif + sof + b"\xff\xda", JPEG) == (4000, 3000)
    vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X" + bytes(8) + (39999).to_bytes(3, "little") * 2
    assert dimensions(vp8x, WEBP) == (40000, 40000)
    assert dimensions(jpeg(), JPEG) is None  # no frame header: size unknown, not refused
