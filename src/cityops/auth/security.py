"""Password hashing (scrypt, standard library) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta
from typing import Any

import jwt

from cityops.errors import Unauthorized

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$<salt>$<hash>``; never the password itself."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt_b64), n=_N, r=_R, p=_P, dklen=32
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def issue_token(*, secret: str, user_id: int, role: str, now: datetime, minutes: int) -> str:
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(*, secret: str, token: str, now: datetime) -> dict[str, Any]:
    """Check signature and expiry; expiry against the injected clock, like every other deadline."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token", code="invalid_token") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise Unauthorized("invalid token", code="invalid_token")
    if now.timestamp() >= exp:
        raise Unauthorized("token expired", code="token_expired")
    return claims
