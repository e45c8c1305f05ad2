"""Who may use the SensorThings door, and how they say who they are.

- ``Authorization: Bearer <token>`` — the same token as the rest of the API.
- ``Authorization: Basic user:password`` — the same accounts. STA clients such as
  ``frost-sta-client`` speak Basic; devices and gateways get an account with the ``device`` role
  (its password is the device's key). A verified (user, password) is remembered against the
  stored hash, so the slow scrypt check runs once per process and a changed password is checked
  afresh.

What each role may do is the sensing policy (``auth.policy.SENSING_POLICY``): reading is
``read`` (staff roles, not residents, not devices), posting Observations and CreateObservations
is ``ingest`` (devices and the city administrator), every other change is ``manage`` (the city
administrator).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from cityops.api.deps import Ctx, SessionDep
from cityops.auth.models import Role, User
from cityops.auth.scope import Principal
from cityops.auth.security import check_password, read_token
from cityops.errors import Unauthorized

_VERIFIED: dict[tuple[str, str], str] = {}  # (username, sha256(password)) -> stored hash
_VERIFIED_MAX = 1024


def _principal(user: User | None) -> Principal:
    if user is None or not user.active:
        raise Unauthorized("account not found or disabled", code="invalid_credentials")
    return Principal(user.id, user.username, Role(user.role), user.scope_code, user.staff_id)


def _basic(session: SessionDep, credentials: str) -> Principal:
    try:
        username, _, password = base64.b64decode(credentials).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials", code="invalid_credentials") from None
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise Unauthorized("wrong user name or password", code="invalid_credentials")
    memo = (username, hashlib.sha256(password.encode()).hexdigest())
    if _VERIFIED.get(memo) != user.password_hash:
        if not check_password(password, user.password_hash):
            raise Unauthorized("wrong user name or password", code="invalid_credentials")
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[memo] = user.password_hash
    return _principal(user)


def get_caller(request: Request, ctx: Ctx, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic(session, credentials.strip())
    if scheme.lower() == "bearer":
        claims = read_token(
            secret=ctx.settings.secret_key, token=credentials.strip(), now=ctx.clock.now()
        )
        return _principal(session.get(User, int(claims["sub"])))
    raise Unauthorized(
        "log in first: Authorization: Bearer <token>, or Basic user:password",
        code="not_authenticated",
    )


CallerDep = Annotated[Principal, Depends(get_caller)]
