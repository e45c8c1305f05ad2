"""Dependency aliases shared by every router: ``SessionDep``, ``CurrentUser``, ``Ctx``.

A request's session is one transaction: committed when the route returns, rolled back on error.
Bus events collected in ``session.info["events"]`` are published only after the commit.

A write route marked ``@reads_first`` begins as a reader like a GET: its writes are done in
another transaction (the medicare payment queue's group commit), and a writer's lock held while
it waits for that transaction would stall it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

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


_READS_FIRST = "_cityops_reads_first"
F = TypeVar("F", bound=Callable[..., object])


def reads_first(endpoint: F) -> F:
    """Mark a route whose own session only reads though its method is not GET (put it under
    the ``@router.post`` line)."""
    setattr(endpoint, _READS_FIRST, True)
    return endpoint


def get_session(ctx: Ctx, request: Request) -> Iterator[Session]:
    # GET and HEAD only read: they begin as readers, so on SQLite they never queue behind
    # (or hold up) a writer; everything else takes the write lock at BEGIN, as before, unless
    # the route is marked ``reads_first``.
    reader = request.method in ("GET", "HEAD") or getattr(
        request.scope.get("endpoint"), _READS_FIRST, False
    )
    with unit_of_work(ctx, reads_first=reader) as session:
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
