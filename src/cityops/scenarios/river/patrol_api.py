"""HTTP routes of patrols (巡河), patrol duty and patrol KPIs; mounted by ``river.api``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.rules import CaseRules
from cityops.cases.runtime import get_rules
from cityops.clock import as_utc
from cityops.errors import ValidationFailed
from cityops.scenarios.river import duty_service, patrol_kpi_service, patrol_read, patrol_service
from cityops.scenarios.river.models import PatrolStatus
from cityops.scenarios.river.patrol_schemas import (
    DutyPage,
    FinishIn,
    IssueCreate,
    IssueRead,
    KpiPage,
    PatrolCreate,
    PatrolDetail,
    PatrolPage,
    PatrolRead,
    PointsIn,
    PointsRead,
)

router = APIRouter(tags=["river"])

# Who may patrol and read patrols: staff roles (residents and device accounts may not).
_STAFF = (
    Role.city_admin,
    Role.district_dispatcher,
    Role.street_staff,
    Role.field_worker,
    Role.inspector,
)


def _rules(ctx: Ctx, session: SessionDep) -> CaseRules:
    return get_rules(ctx, session)


RulesDep = Annotated[CaseRules, Depends(_rules)]


def _cfg(ctx: Ctx) -> patrol_service.PatrolSettings:
    return patrol_service.PatrolSettings.of(ctx.settings)


CfgDep = Annotated[patrol_service.PatrolSettings, Depends(_cfg)]


def _staff(user: CurrentUser) -> Principal:
    user.require_role(*_STAFF)
    return user


StaffUser = Annotated[Principal, Depends(_staff)]


@router.post("/patrols", response_model=PatrolRead, status_code=status.HTTP_201_CREATED)
def start_patrol(
    body: PatrolCreate,
    response: Response,
    session: SessionDep,
    ctx: Ctx,
    cfg: CfgDep,
    user: StaffUser,
) -> PatrolRead:
    """Start a patrol (巡河) on a section or river; the same ``client_id`` again → 200, same one."""
    patrol, created = patrol_service.start(
        session=session, user=user, body=body, now=ctx.clock.now(), cfg=cfg
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return patrol_read.reads(session, [patrol])[0]


@router.post("/patrols/{patrol_id}/points", response_model=PointsRead)
def add_points(
    patrol_id: int, body: PointsIn, session: SessionDep, ctx: Ctx, cfg: CfgDep, user: StaffUser
) -> PointsRead:
    """A batch of GPS fixes (≤ 5,000; WGS84 or GCJ-02): stored, cleaned and flagged."""
    return patrol_service.add_points(
        session=session, user=user, patrol_id=patrol_id, body=body, now=ctx.clock.now(), cfg=cfg
    )


@router.post(
    "/patrols/{patrol_id}/issues", response_model=IssueRead, status_code=status.HTTP_201_CREATED
)
def report_issue(
    patrol_id: int, body: IssueCreate, session: SessionDep, rules: RulesDep, user: StaffUser
) -> IssueRead:
    """A problem found on the patrol becomes a case (channel ``patrol``) linked to it."""
    link, duplicate = patrol_service.report_issue(
        session=session, rules=rules, user=user, patrol_id=patrol_id, body=body,
        now=rules.clock.now(),
    )  # fmt: skip
    (read,) = [i for i in patrol_read.issue_reads(session, [patrol_id]) if i.id == link.id]
    return read.model_copy(update={"duplicate": duplicate})


@router.post("/patrols/{patrol_id}/finish", response_model=PatrolRead)
def finish_patrol(
    patrol_id: int,
    session: SessionDep,
    ctx: Ctx,
    cfg: CfgDep,
    user: StaffUser,
    body: FinishIn | None = None,
) -> PatrolRead:
    """Finish: mileage, duration and coverage are fixed; finishing again returns the same."""
    patrol = patrol_service.finish(
        session=session, user=user, patrol_id=patrol_id, body=body or FinishIn(),
        now=ctx.clock.now(), cfg=cfg,
    )  # fmt: skip
    return patrol_read.reads(session, [patrol])[0]


def _staff_filter(staff: str | None, user: Principal) -> int | None:
    if staff != "me":
        return int(staff) if staff else None
    if user.staff_id is None:
        raise ValidationFailed("staff=me: your account is not a staff member", code="no_staff_id")
    return user.staff_id


@router.get("/patrols", response_model=PatrolPage)
def list_patrols(
    session: SessionDep,
    user: StaffUser,
    staff: Annotated[str | None, Query(pattern=r"^(me|\d{1,12})$")] = None,
    river: Annotated[str | None, Query(max_length=32)] = None,
    section: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[PatrolStatus | None, Query(alias="status")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PatrolPage:
    """Patrols the caller may see, newest first; ``staff=me`` is the caller's own."""
    return patrol_read.list_patrols(
        session=session, user=user, staff_id=_staff_filter(staff, user), river_code=river,
        section_code=section, status=status_, since=as_utc(since) if since else None,
        until=as_utc(until) if until else None, page=page, page_size=page_size,
    )  # fmt: skip


@router.get("/patrols/{patrol_id}", response_model=PatrolDetail)
def get_patrol(patrol_id: int, session: SessionDep, user: StaffUser) -> PatrolDetail:
    """One patrol: the cleaned track, the flagged fixes, sections covered, issues and cases."""
    return patrol_read.detail(session=session, user=user, patrol_id=patrol_id)


@router.get("/duty", response_model=DutyPage)
def duty(
    session: SessionDep,
    ctx: Ctx,
    user: StaffUser,
    overdue: bool = False,
) -> DutyPage:
    """巡河 duty per chief: sections, last patrol, due date; ``overdue=true`` only the late."""
    return duty_service.duty_page(
        session=session, user=user, settings=ctx.settings, now=ctx.clock.now(), overdue=overdue
    )


@router.get("/kpis", response_model=KpiPage)
def kpis(
    session: SessionDep,
    ctx: Ctx,
    user: StaffUser,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    by: patrol_kpi_service.By = patrol_kpi_service.By.chief,
) -> KpiPage:
    """Patrol KPIs per chief or river over local days ``from``..``to`` (default: this month)."""
    return patrol_kpi_service.kpi_page(
        session=session, user=user, settings=ctx.settings, now=ctx.clock.now(),
        start=from_, end=to, by=by,
    )  # fmt: skip
