"""HTTP routes of 智慧医保 DRG/DIP: group one record with its trace, or a batch into CMI by
hospital; import discharges into the database and group a stored month. For the insurance
bureau's analysts (医保分析员) and the city admin."""

from __future__ import annotations

from fastapi import APIRouter

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.errors import PayloadTooLarge
from cityops.scenarios.medicare import discharge_month, discharges, service
from cityops.scenarios.medicare.access import require_city_wide
from cityops.scenarios.medicare.discharges import RowIssue
from cityops.scenarios.medicare.drg_schemas import (
    BatchIn,
    BatchRead,
    DischargeBatchIn,
    DischargeImportRead,
    DischargeIn,
    GroupingRead,
    ImportIssueRead,
    MonthIn,
    MonthRead,
)

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


def _issue(i: RowIssue) -> ImportIssueRead:
    return ImportIssueRead(index=i.row, id=i.id, code=i.code, reason=i.reason)


@router.post("/discharges", response_model=DischargeImportRead)
def import_discharges(
    body: DischargeBatchIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> DischargeImportRead:
    """Store a batch of discharges (at most 1,000): bad rows are listed with the reason, ones
    already stored (same ``mdtrt_id``) skipped, the rest stored; one ledger entry a batch.
    City-wide work: discharges of any hospital."""
    require_city_wide(user)
    if len(body.records) > discharges.BATCH_MAX:
        raise PayloadTooLarge(
            f"{len(body.records)} records: at most {discharges.BATCH_MAX} a batch",
            code="batch_too_large",
        )
    done = discharges.import_batch(
        session=session, rows=body.records, tz=ctx.settings.tz, at=ctx.clock.now(),
        actor=user.actor, source="api",
    )  # fmt: skip
    return DischargeImportRead(
        rows=done.rows, imported=done.imported, skipped=[_issue(i) for i in done.skipped],
        refused=[_issue(i) for i in done.refused],
    )  # fmt: skip


@router.post("/drg/month", response_model=MonthRead)
def group_month(body: MonthIn, ctx: Ctx, session: SessionDep, user: CurrentUser) -> MonthRead:
    """Group the stored discharges of a month (local time), store each result on its row
    (re-running overwrites with the same values) and answer CMI and totals by hospital.
    City-wide work: it writes every hospital's rows."""
    require_city_wide(user)
    return discharge_month.group_month(
        session=session, settings=ctx.settings, month=body.month, at=ctx.clock.now()
    )
