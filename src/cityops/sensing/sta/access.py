"""Who may use the SensorThings door, and how they say who they are.

- ``Authorization: Bearer <token>`` — the same token as the rest of the API.
- ``Authorization: Basic user:password`` — a cityops account (STA clients such as
  ``frost-sta-client`` speak Basic); a verified (user, password) is remembered against the stored
  hash so the slow scrypt check runs once, and a changed password is checked afresh.
- ``Authorization: Basic device:<CITYOPS_STA_DEVICE_KEY>`` — the machine principal for devices
  and gateways; off unless the key is set.

Reading is open to every active account and to devices. Writing (entities and observations) is
for the city administrator role and for devices: the sensing network is city-wide metadata.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from cityops.api.deps import Ctx, SessionDep
from cityops.auth.models import Role, User
from cityops.auth.security import check_password, read_token
from cityops.errors import Forbidden, Unauthorized

DEVICE_USER = "device"
_VERIFIED: dict[tuple[str, str], str] = {}  # (username, sha256(password)) -> stored hash
_VERIFIED_MAX = 1024


@dataclass(frozen=True, slots=True)
class StaCaller:
    actor: str
    may_write: bool

    def require_write(self) -> None:
        if not self.may_write:
            raise Forbidden(
                "only the city administrator or a device may change the sensing network",
                code="role_forbidden",
            )


def _unauthorized(message: str, code: str) -> Unauthorized:
    return Unauthorized(message, code=code)


def _user_caller(user: User | None) -> StaCaller:
    if user is None or not user.active:
        raise _unauthorized("account not found or disabled", "invalid_credentials")
    return StaCaller(f"user:{user.username}", user.role == Role.city_admin)


def _basic(ctx: Ctx, session: SessionDep, credentials: str) -> StaCaller:
    try:
        username, _, password = base64.b64decode(credentials).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise _unauthorized("malformed Basic credentials", "invalid_credentials") from None
    key = ctx.settings.sta_device_key
    if username == DEVICE_USER:
        if key and hmac.compare_digest(password.encode(), key.encode()):
            return StaCaller("device:sta", True)
        raise _unauthorized("wrong device key", "invalid_credentials")
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise _unauthorized("wrong user name or password", "invalid_credentials")
    memo = (username, hashlib.sha256(password.encode()).hexdigest())
    if _VERIFIED.get(memo) != user.password_hash:
        if not check_password(password, user.password_hash):
            raise _unauthorized("wrong user name or password", "invalid_credentials")
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[memo] = user.password_hash
    return _user_caller(user)


def get_caller(request: Request, ctx: Ctx, session: SessionDep) -> StaCaller:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic(ctx, session, credentials.strip())
    if scheme.lower() == "bearer":
        claims = read_token(
            secret=ctx.settings.secret_key, token=credentials.strip(), now=ctx.clock.now()
        )
        return _user_caller(session.get(User, int(claims["sub"])))
    raise _unauthorized(
        "log in first: Authorization: Bearer <token>, or Basic user:password", "not_authenticated"
    )


CallerDep = Annotated[StaCaller, Depends(get_caller)]
