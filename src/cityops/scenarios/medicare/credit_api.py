"""HTTP route of 个人账户划入: the bureau posts a month's credits (from the contribution system)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.scenarios.medicare import credits
from cityops.scenarios.medicare.access import require_city_wide
from cityops.scenarios.medicare.credit_models import CreditKind

router = APIRouter(prefix="/medicare", tags=["medicare"])


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_no: str = Field(min_length=1, max_length=30)
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    amount: int = Field(gt=0, le=credits.MAX_CREDIT_FEN, description="fen")
    kind: CreditKind = CreditKind.contribution


class CreditBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=100, description="the file or batch it came from")
    items: list[CreditIn] = Field(min_length=1, max_length=credits.MAX_BATCH)


class CreditErrorOut(BaseModel):
    index: int
    psn_no: str
    code: str
    message: str


class CreditOut(BaseModel):
    credited: int
    already: int
    amount: int
    errors: list[CreditErrorOut]
    at: datetime


@router.post("/accounts/credits", response_model=CreditOut)
def post_credits(body: CreditBatch, ctx: Ctx, session: SessionDep, user: CurrentUser) -> CreditOut:
    """Credit personal accounts: one transaction, a ledger entry per credit, bad rows reported
    by index, rows credited before counted as ``already`` (safe to send again)."""
    require_city_wide(user)
    at = ctx.clock.now()
    items = [credits.Credit(i.psn_no, i.period, i.amount, i.kind) for i in body.items]
    done = credits.credit_accounts(
        session=session, items=items, source=body.source, actor=user.actor, at=at
    )
    errors = [CreditErrorOut(index=e.index, psn_no=e.psn_no, code=e.code, message=e.message)
              for e in done.errors]  # fmt: skip
    return CreditOut(
        credited=done.credited, already=done.already, amount=done.amount, errors=errors, at=at
    )
