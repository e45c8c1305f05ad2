"""HTTP routes of 基金监管在线: a run over the database, the clue list with filters, 立案 from a
clue, 排除 a clue. For the insurance bureau's analysts (医保分析员) and the city admin; person
numbers are masked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.cases.privacy import mask_id_number
from cityops.cases.runtime import get_rules
from cityops.errors import NotFound
from cityops.scenarios.medicare import clues, supervision_load
from cityops.scenarios.medicare.access import (
    ANALYSTS,
    district_for,
    require_city_wide,
    require_clue_in_scope,
)
from cityops.scenarios.medicare.models import Clue, ClueStatus
from cityops.scenarios.medicare.supervision_jobs import KEEP, SupervisionJob, jobs_of

router = APIRouter(prefix="/medicare", tags=["medicare"])


class ClueRead(BaseModel):
    id: int
    rule_id: str
    rule_type: str
    severity: str
    subject_kind: str
    subject: str
    district: str
    window: str
    status: ClueStatus
    case_id: int | None
    note: str
    evidence: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CluePage(BaseModel):
    total: int
    page: int
    items: list[ClueRead]


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class RunIn(BaseModel):
    """The local calendar days to run over; default: this month up to today."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class RunOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    lines: int
    discharges: int = Field(description="stays read for 分解住院, with the window before")
    hits: int
    created: int
    refreshed: int
    by_rule: dict[str, int]
    rule_errors: list[str]
    notes: list[str]


NOTES = [
    "persons without gend/brdy are skipped by sex/age restrictions; hospitals without hosp_lv"
    " by level restrictions",
]


def _read(c: Clue) -> ClueRead:
    """Person numbers (参保人编号) masked in the subject and the evidence."""
    ev = dict(c.evidence)
    if "persons" in ev:
        ev["persons"] = [mask_id_number(p) for p in ev["persons"]]
    subject = mask_id_number(c.subject) if c.subject_kind == "person" else c.subject
    return ClueRead(
        id=c.id, rule_id=c.rule_id, rule_type=c.rule_type, severity=c.severity,
        subject_kind=c.subject_kind, subject=subject, district=c.district, window=c.window,
        status=c.status, case_id=c.case_id, note=c.note, evidence=ev,
        created_at=c.created_at, updated_at=c.updated_at,
    )  # fmt: skip


class RunJob(BaseModel):
    """A supervision run in the background: ``result`` once done, ``error`` if it failed."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: str
    from_: date = Field(alias="from")
    to: date
    started_at: datetime
    finished_at: datetime | None
    result: RunOut | None
    error: str | None


def _job(job: SupervisionJob) -> RunJob:
    p, result = job.period, None
    if job.run is not None:
        s = job.run.summary
        result = RunOut(
            from_=p.first, to=p.last, lines=job.run.lines, discharges=job.run.discharges,
            hits=s.hits, created=s.created,
            refreshed=s.refreshed, by_rule=s.by_rule, rule_errors=list(s.rule_errors),
            notes=NOTES,
        )  # fmt: skip
    return RunJob(
        id=job.id, status=job.status, from_=p.first, to=p.last, started_at=job.started_at,
        finished_at=job.finished_at, result=result, error=job.error,
    )  # fmt: skip


@router.post("/supervision/run", response_model=RunJob, status_code=202)
def run(body: RunIn, ctx: Ctx, user: CurrentUser) -> RunJob:
    """Start 基金监管 over the settlements of a period in the background (poll
    ``/supervision/runs/{id}``); clues are stored once per rule, subject and month, so running
    again adds only what is new."""
    require_city_wide(user)
    today = ctx.clock.now().astimezone(ctx.settings.tz).date()
    first, last = body.from_ or (body.to or today).replace(day=1), body.to or today
    p = supervision_load.period(first, last, ctx.settings.tz)
    return _job(jobs_of(ctx).start(p=p))


@router.get("/supervision/runs", response_model=list[RunJob])
def list_runs(
    ctx: Ctx, user: CurrentUser, limit: int = Query(default=5, ge=1, le=KEEP)
) -> list[RunJob]:
    """This server's latest runs, newest first (forgotten on restart)."""
    user.require_role(*ANALYSTS)
    return [_job(j) for j in jobs_of(ctx).latest(limit)]


@router.get("/supervision/runs/{job_id}", response_model=RunJob)
def get_run(job_id: str, ctx: Ctx, user: CurrentUser) -> RunJob:
    user.require_role(*ANALYSTS)
    job = jobs_of(ctx).get(job_id)
    if job is None:
        raise NotFound("no such supervision run on this server", code="run_not_found")
    return _job(job)


@router.get("/clues", response_model=CluePage)
def list_clues(
    session: SessionDep,
    user: CurrentUser,
    rule: str | None = Query(default=None, max_length=40),
    severity: str | None = Query(default=None, pattern="^(suspect|definite)$"),
    status: ClueStatus | None = None,
    district: str | None = Query(default=None, pattern=r"^\d{6}$"),
    page: int = Query(default=1, ge=1, le=10_000),
    size: int = Query(default=50, ge=1, le=200),
) -> CluePage:
    """基金监管线索, newest first, filtered by rule, severity, status and district (a district's
    analysts see their own)."""
    district = district_for(user, district)
    total, rows = clues.list_clues(
        session=session, rule=rule, severity=severity, status=status, district=district,
        page=page, size=size,
    )  # fmt: skip
    return CluePage(total=total, page=page, items=[_read(c) for c in rows])


@router.post("/clues/{clue_id}/case", response_model=ClueRead)
def open_case(clue_id: int, ctx: Ctx, session: SessionDep, user: CurrentUser) -> ClueRead:
    """立案: the clue becomes a supervision case (404 unknown, 409 already closed)."""
    require_clue_in_scope(session, user, clue_id)
    clue = clues.open_case_from_clue(
        session=session, rules=get_rules(ctx, session), clue_id=clue_id, actor=user,
        at=ctx.clock.now(),
    )  # fmt: skip
    return _read(clue)


@router.post("/clues/{clue_id}/dismiss", response_model=ClueRead)
def dismiss(
    clue_id: int, body: DismissIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> ClueRead:
    """排除: the clue is kept with the reason and not raised again for its window."""
    require_clue_in_scope(session, user, clue_id)
    clue = clues.dismiss(
        session=session, clue_id=clue_id, reason=body.reason, actor=user, at=ctx.clock.now()
    )
    return _read(clue)
