"""Personal data encrypted at rest: AES-256-GCM column values under a key ring.

A stored value is ``enc1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>``: the key id travels with
the ciphertext, so keys can be rotated (``cityops privacy rotate-keys``) while old rows are still
readable. The ring's first key encrypts; every key in it decrypts.

Keys, in this order (docs/privacy.md):

- ``CITYOPS_DATA_KEYS="kid:base64key,kid:base64key"``, newest first (rotation);
- ``CITYOPS_DATA_KEY=base64key`` (one key; its id is a fingerprint of the key);
- else ``CITYOPS_DATA_KEY_FILE`` (default ``var/data.key``), generated once (mode 0600, logged)
  so a fresh machine or the demo keeps its data readable across restarts.

A value that cannot be decrypted (unknown key id, wrong key) raises :class:`DataKeyError`, never
garbage; ``check_readable`` runs that test on start-up. A value without the ``enc1.`` prefix is
a row written before encryption: it is read as it is and encrypted by ``rotate-keys``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Engine, Table, Text, inspect, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from cityops.errors import CityOpsError
from cityops.settings import Settings, get_settings
from cityops.store.engine import READ_ONLY_OPTION

log = logging.getLogger(__name__)

PREFIX = "enc1."
NONCE_BYTES = 12
KEY_BYTES = 32
_AAD = b"cityops-personal-data"


class DataKeyError(CityOpsError):
    """The data keys are missing, malformed, or do not open what is stored."""

    status = 500
    code = "data_key_error"


def _b64decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_key(text: str, *, what: str) -> bytes:
    """A 32-byte key from base64 (standard or URL-safe alphabet)."""
    try:
        raw = _b64decode(text.replace("+", "-").replace("/", "_"))
    except (ValueError, binascii.Error) as exc:
        raise DataKeyError(f"{what} is not base64", code="data_key_malformed") from exc
    if len(raw) != KEY_BYTES:
        raise DataKeyError(
            f"{what} must be {KEY_BYTES} bytes (base64 of 32 random bytes), not {len(raw)}",
            code="data_key_malformed",
        )
    return raw


def fingerprint(key: bytes) -> str:
    """A key id derived from the key: stable, short, says nothing about the key."""
    return "k" + hashlib.sha256(b"cityops-kid" + key).hexdigest()[:8]


@dataclass(frozen=True)
class KeyRing:
    """Data keys by id, newest (the one that encrypts) first."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise DataKeyError("no data key", code="data_key_missing")
        for kid, key in self.keys:
            if not kid.isalnum() or len(kid) > 16:
                raise DataKeyError(
                    f"key id {kid!r} must be 1-16 letters or digits", code="data_key_malformed"
                )
            if len(key) != KEY_BYTES:
                raise DataKeyError(f"key {kid} must be {KEY_BYTES} bytes")

    @property
    def current(self) -> str:
        return self.keys[0][0]

    @cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        """One AES-GCM object per key, made once (making one costs more than a decryption)."""
        return {kid: AESGCM(key) for kid, key in self.keys}

    def _cipher(self, kid: str) -> AESGCM:
        cipher = self._ciphers.get(kid)
        if cipher is not None:
            return cipher
        raise DataKeyError(
            f"stored personal data was encrypted with key {kid!r}, which is not configured "
            "(CITYOPS_DATA_KEYS / CITYOPS_DATA_KEY / the key file)",
            code="data_key_unknown",
        )

    def encrypt(self, plaintext: str) -> str:
        kid = self.current
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._cipher(kid).encrypt(nonce, plaintext.encode(), _AAD)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{kid}.{body}"

    def key_id(self, stored: str) -> str | None:
        """The key id of a stored value; None for a plaintext (pre-encryption) value."""
        if not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].split(".", 1)[0]

    def decrypt(self, stored: str) -> str:
        kid = self.key_id(stored)
        if kid is None:
            return stored
        try:
            raw = _b64decode(stored[len(PREFIX) + len(kid) + 1 :])
        except (ValueError, binascii.Error) as exc:
            raise DataKeyError("a stored value is corrupt", code="data_corrupt") from exc
        try:
            plain = self._cipher(kid).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _AAD)
        except InvalidTag as exc:
            raise DataKeyError(
                f"key {kid!r} does not open the stored personal data: the configured key is "
                "not the one it was written with",
                code="data_key_wrong",
            ) from exc
        return plain.decode()


def parse_ring(text: str) -> KeyRing:
    """``CITYOPS_DATA_KEYS``: ``kid:base64key,kid:base64key``, newest first.

    An entry without ``kid:`` gets its fingerprint as id: the id a lone ``CITYOPS_DATA_KEY`` or
    the key file had, so such a key can go second in the ring when it is rotated out.
    """
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kid, sep, key = part.partition(":")
        if not sep:
            raw = parse_key(part, what="a CITYOPS_DATA_KEYS key")
            keys.append((fingerprint(raw), raw))
            continue
        kid = kid.strip()
        if not kid:
            raise DataKeyError(
                "CITYOPS_DATA_KEYS: a key id before ':' is empty", code="data_key_malformed"
            )
        keys.append((kid, parse_key(key, what=f"CITYOPS_DATA_KEYS key {kid}")))
    if len({k for k, _ in keys}) != len(keys):
        raise DataKeyError("CITYOPS_DATA_KEYS names a key id twice", code="data_key_malformed")
    return KeyRing(tuple(keys))


def new_key() -> str:
    """A fresh key as base64 (what to put in CITYOPS_DATA_KEY or CITYOPS_DATA_KEYS)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _key_file(path: Path) -> bytes:
    if path.exists():
        return parse_key(path.read_text(), what=f"the key file {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key() + "\n")
    log.warning(
        "no CITYOPS_DATA_KEY set: generated the personal-data key %s (mode 0600). Back it up: "
        "without it the stored names and phone numbers cannot be read.",
        path,
    )
    return parse_key(path.read_text(), what=f"the key file {path}")


def ring_from_settings(settings: Settings) -> KeyRing:
    if settings.data_keys.strip():
        return parse_ring(settings.data_keys)
    if settings.data_key:
        key = parse_key(settings.data_key, what="CITYOPS_DATA_KEY")
    else:
        key = _key_file(settings.data_key_file)
    return KeyRing(((fingerprint(key), key),))


_lock = threading.Lock()
_ring: KeyRing | None = None


def install(ring: KeyRing) -> None:
    """Make ``ring`` the process's key ring (start-up; tests)."""
    global _ring
    with _lock:
        _ring = ring


def ring() -> KeyRing:
    """The process's key ring, read from the settings on first use."""
    global _ring
    with _lock:
        if _ring is None:
            _ring = ring_from_settings(get_settings())
        return _ring


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; reads and writes plaintext. Not searchable in SQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        del dialect
        return None if value is None else ring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        del dialect
        return None if value is None else ring().decrypt(value)


def encrypted_columns(tables: list[Table]) -> Iterator[tuple[Table, Column[Any]]]:
    for table in tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def check_readable(engine: Engine, tables: list[Table], keys: KeyRing) -> None:
    """Open the newest and oldest stored value of each encrypted column; raise if one fails.

    Start-up runs this so a wrong or missing key stops the process with a clear message
    instead of failing (or, worse, answering garbage) on the first read of a case.
    """
    present = inspect(engine)
    stored = [
        (table, column)
        for table, column in encrypted_columns(tables)
        if present.has_table(table.name)
        and column.name in {c["name"] for c in present.get_columns(table.name)}
    ]  # a column not migrated yet holds nothing to open
    with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
        for table, column in stored:
            raw = type_coerce(column, Text)
            pk = list(table.primary_key.columns)
            for order in ([c.desc() for c in pk], [c.asc() for c in pk]):
                stmt = select(raw).where(column.is_not(None)).order_by(*order).limit(1)
                value = conn.execute(stmt).scalar()
                if value is not None:
                    keys.decrypt(value)
