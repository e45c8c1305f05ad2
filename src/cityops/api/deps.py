"""Dependency aliases shared by every router: ``SessionDep``, ``CurrentUser``, ``Ctx``.

A request's session is one transaction: committed when the route returns, rolled back on error.
Bus events collected in ``session.info["events"]`` are published only after the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from cityops.api.context import AppContext, unit_of_work
from cityops.auth.models import Role, User
from cityops.auth.scope import Principal
from cityops.auth.security import read_token
from cityops.errors import Unauthorized

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: Ctx, request: Request) -> Iterator[Session]:
    # GET and HEAD only read: they begin as readers, so on SQLite they never queue behind
    # (or hold up) a writer; everything else takes the write lock at BEGIN, as before.
    with unit_of_work(ctx, reads_first=request.method in ("GET", "HEAD")) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    ctx: Ctx, session: SessionDep, token: Annotated[str | None, Depends(oauth2)]
) -> Principal:
    if not token:
        raise Unauthorized(
            "log in first: send Authorization: Bearer <token>", code="not_authenticated"
        )
    claims = read_token(secret=ctx.settings.secret_key, token=token, now=ctx.clock.now())
    user = session.get(User, int(claims["sub"]))
    if user is None or not user.active:
        raise Unauthorized("account not found or disabled", code="invalid_token")
    return Principal(user.id, user.username, Role(user.role), user.scope_code, user.staff_id)


CurrentUser = Annotated[Principal, Depends(get_principal)]
