"""Photo storage: content-addressed files, written whole or not at all.

A photo is stored once per content, as ``<photo_dir>/<sha[:2]>/<sha256>.<ext>``: the two-digit
shard keeps a folder small when a district has millions of case photos (上报照片, 处置后照片).
It is written to a temp file in ``photo_dir``, synced, then renamed into place, so a reader
never sees half a photo and a crash leaves at most a stray ``.upload-*`` file.

The cases service calls ``require_known`` so that a case never points at a photo we do not hold.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cityops.errors import CityOpsError, NotFound, PayloadTooLarge, ValidationFailed
from cityops.photos.formats import (
    DIMENSION_BYTES,
    HEAD_BYTES,
    REF_PREFIX,
    Format,
    dimensions,
    is_photo_ref,
    name_of,
    parse_name,
    sniff,
)

CHUNK = 1 << 16


class UnsupportedPhoto(CityOpsError):
    status = 415
    code = "unsupported_photo_type"


class EmptyPhoto(CityOpsError):
    status = 400
    code = "empty_photo"


class BadPhotoName(CityOpsError):
    status = 400
    code = "bad_photo_name"


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    name: str  # <sha256>.<ext>
    size: int
    format: Format

    @property
    def ref(self) -> str:
        """What a case stores in ``photos``."""
        return REF_PREFIX + self.name


def _path(directory: Path, name: str) -> Path:
    return directory / name[:2] / name


class TooManyPixels(CityOpsError):
    status = 422
    code = "photo_too_many_pixels"


def _check_pixels(head: bytes, fmt: Format, max_pixels: int | None) -> None:
    if max_pixels is None:
        return
    size = dimensions(head, fmt)
    if size is not None and size[0] * size[1] > max_pixels:
        raise TooManyPixels(
            f"the photo is {size[0]} × {size[1]} pixels; at most {max_pixels} pixels are taken"
        )


def store(
    *, directory: Path, source: BinaryIO, max_bytes: int, max_pixels: int | None = None
) -> StoredPhoto:
    """Store the photo read from ``source``; refuse empty, oversize or non-image content, and
    (``max_pixels``) a header stating more pixels than that (a decompression bomb)."""
    first = source.read(CHUNK)
    if not first:
        raise EmptyPhoto("the photo is empty")
    fmt = sniff(first[:HEAD_BYTES])
    if fmt is None:
        raise UnsupportedPhoto("only JPEG, PNG and WebP photos are taken (judged by content)")
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            chunk = first
            head = b""
            while chunk:
                if len(head) < DIMENSION_BYTES:
                    head += chunk[: DIMENSION_BYTES - len(head)]
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"a photo may be at most {max_bytes} bytes", code="photo_too_large"
                    )
                digest.update(chunk)
                out.write(chunk)
                chunk = source.read(CHUNK)
            _check_pixels(head, fmt, max_pixels)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a web server in front may serve the folder
        name = name_of(digest.hexdigest(), fmt)
        final = _path(directory, name)
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)  # atomic; the same bytes again simply replace themselves
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredPhoto(name, size, fmt)


def locate(*, directory: Path, name: str) -> tuple[Path, Format]:
    """The file and format of a stored photo; a malformed name is 400, a missing one 404."""
    parsed = parse_name(name)
    if parsed is None:
        raise BadPhotoName("a photo name is <sha256 hex>.<jpg|png|webp>")
    path = _path(directory, name)
    if not path.is_file():
        raise NotFound(f"no photo {name}", code="photo_not_found")
    return path, parsed[1]


def require_known(refs: Iterable[str], *, directory: Path) -> None:
    """Refuse (422 ``unknown_photo``) a ``photo:`` reference that was never uploaded.

    Other references (URLs of photos kept elsewhere) are not ours to check and pass.
    """
    for ref in refs:
        if not is_photo_ref(ref):
            continue
        name = ref[len(REF_PREFIX) :]
        if parse_name(name) is None or not _path(directory, name).is_file():
            raise ValidationFailed(f"photo {ref!r} was not uploaded", code="unknown_photo")
