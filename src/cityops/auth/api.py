"""Token login (OAuth2 password flow) and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.security import issue_token
from cityops.auth.service import authenticate
from cityops.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    scope_code: str | None


class Me(BaseModel):
    id: int
    username: str
    role: str
    scope_code: str | None
    staff_id: int | None


@router.post("/token", response_model=Token)
def login(
    ctx: Ctx, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    user = authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        raise Unauthorized("wrong username or password", code="bad_credentials")
    token = issue_token(
        secret=ctx.settings.secret_key,
        user_id=user.id,
        role=user.role.value,
        now=ctx.clock.now(),
        minutes=ctx.settings.token_minutes,
    )
    return Token(access_token=token, role=user.role.value, scope_code=user.scope_code)


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(
        id=user.user_id,
        username=user.username,
        role=user.role.value,
        scope_code=user.scope_code,
        staff_id=user.staff_id,
    )
