"""Verify the ledger over HTTP."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from cityops.api.deps import CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.ledger import service

router = APIRouter(prefix="/ledger", tags=["ledger"])


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    reason: str | None


@router.get("/verify", response_model=VerifyRead)
def verify(session: SessionDep, user: CurrentUser) -> VerifyRead:
    """Walk the whole chain; report the first broken entry, if any."""
    user.require_role(Role.city_admin, Role.district_dispatcher)
    v = service.verify(session=session)
    return VerifyRead(
        ok=v.ok,
        checked=v.checked,
        head_seq=v.head_seq,
        head_hash=v.head_hash,
        first_broken_seq=v.first_broken_seq,
        reason=v.reason,
    )
