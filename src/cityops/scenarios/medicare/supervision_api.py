"""HTTP routes of 基金监管在线: a run over the database, the clue list with filters, 立案 from a
clue, 排除 a clue. For the insurance bureau's analysts (医保分析员) and the city admin; person
numbers are masked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.cases.privacy import mask_id_number
from cityops.cases.runtime import get_rules
from cityops.errors import Conflict
from cityops.scenarios.medicare import clues, supervision_load
from cityops.scenarios.medicare.models import Clue, ClueStatus
from cityops.scenarios.medicare.supervision_rules import SHIPPED, load_rules

router = APIRouter(prefix="/medicare", tags=["medicare"])

ANALYSTS = (Role.city_admin, Role.insurance_analyst)


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
    hits: int
    created: int
    refreshed: int
    by_rule: dict[str, int]
    rule_errors: list[str]
    notes: list[str]


NOTES = [
    "persons without gend/brdy are skipped by sex/age restrictions; hospitals without hosp_lv"
    " by level restrictions",
    "no discharge table: 分解住院 (readmission) is not checked over the database",
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


@router.post("/supervision/run", response_model=RunOut)
def run(body: RunIn, ctx: Ctx, session: SessionDep, user: CurrentUser) -> RunOut:
    """基金监管 over the settlements of a period; clues are stored once per rule, subject and
    month, so running again adds only what is new."""
    user.require_role(*ANALYSTS)
    tz, now = ctx.settings.tz, ctx.clock.now()
    today = now.astimezone(tz).date()
    first, last = body.from_ or (body.to or today).replace(day=1), body.to or today
    p = supervision_load.period(first, last, tz)
    rules = load_rules(ctx.settings.medicare_supervision_rules or SHIPPED)
    try:
        done = supervision_load.supervise_database(session=session, rules=rules, p=p, tz=tz,
                                                   at=now)  # fmt: skip
    except IntegrityError:
        raise Conflict("another supervision run is storing clues; try again",
                       code="supervision_running") from None  # fmt: skip
    s = done.summary
    return RunOut(
        from_=p.first, to=p.last, lines=done.lines, hits=s.hits, created=s.created,
        refreshed=s.refreshed, by_rule=s.by_rule, rule_errors=list(s.rule_errors), notes=NOTES,
    )  # fmt: skip


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
    """基金监管线索, newest first, filtered by rule, severity, status and district."""
    user.require_role(*ANALYSTS)
    total, rows = clues.list_clues(
        session=session, rule=rule, severity=severity, status=status, district=district,
        page=page, size=size,
    )  # fmt: skip
    return CluePage(total=total, page=page, items=[_read(c) for c in rows])


@router.post("/clues/{clue_id}/case", response_model=ClueRead)
def open_case(clue_id: int, ctx: Ctx, session: SessionDep, user: CurrentUser) -> ClueRead:
    """立案: the clue becomes a supervision case (404 unknown, 409 already closed)."""
    user.require_role(*ANALYSTS)
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
    user.require_role(*ANALYSTS)
    clue = clues.dismiss(
        session=session, clue_id=clue_id, reason=body.reason, actor=user, at=ctx.clock.now()
    )
    return _read(clue)
