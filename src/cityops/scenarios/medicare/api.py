"""HTTP routes of 智慧医保 DRG/DIP: group one record with its trace, or a batch into CMI by
hospital. For the insurance bureau's analysts (医保分析员) and the city admin."""

from __future__ import annotations

from fastapi import APIRouter

from cityops.api.deps import Ctx, CurrentUser
from cityops.auth.models import Role
from cityops.scenarios.medicare import service
from cityops.scenarios.medicare.drg_schemas import BatchIn, BatchRead, DischargeIn, GroupingRead

router = APIRouter(prefix="/medicare", tags=["medicare"])

ANALYSTS = (Role.city_admin, Role.insurance_analyst)


@router.post("/drg/group", response_model=GroupingRead)
def group(body: DischargeIn, ctx: Ctx, user: CurrentUser) -> GroupingRead:
    """One discharge → its DRG with the trace of rules that decided it (422 ``invalid_icd``)."""
    user.require_role(*ANALYSTS)
    return service.group_one(settings=ctx.settings, body=body.model_dump())


@router.post("/drg/batch", response_model=BatchRead)
def batch(body: BatchIn, ctx: Ctx, user: CurrentUser) -> BatchRead:
    """A batch of discharges → counts and CMI by hospital; bad records are listed, not fatal."""
    user.require_role(*ANALYSTS)
    return service.group_batch(settings=ctx.settings, rows=body.records)
