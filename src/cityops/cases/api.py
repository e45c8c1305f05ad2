"""Case routes: thin over the service; the request's session is the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityops.api import limits
from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth import service as auth_service
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import (
    board,
    intake,
    kpi_export,
    kpi_query,
    privacy,
    queries,
    service,
    timeline,
)
from cityops.cases.lifecycle import ACTION_NAMES_ZH, Action
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.runtime import get_rules
from cityops.cases.schemas import (
    BoardPage,
    CaseCreate,
    CasePage,
    CaseRead,
    HistoryEntry,
    IntakeRead,
    KpiPage,
    KpiRead,
    TransitionCreate,
)
from cityops.clock import as_utc
from cityops.errors import CityOpsError, NotFound
from cityops.ledger import service as ledger

router = APIRouter(tags=["cases"])


def _rules(ctx: Ctx, session: SessionDep) -> CaseRules:
    return get_rules(ctx, session)


RulesDep = Annotated[CaseRules, Depends(_rules)]


class CategoryRead(BaseModel):
    code: str
    name: str
    kind: str
    major_code: str
    major_name: str
    department_type: str
    handling_level: str
    time_limit: str
    filing_criteria: str
    closing_criteria: str
    auto_file: bool


class CataloguePage(BaseModel):
    version: int
    items: list[CategoryRead]
    errors: list[str]


@router.get("/categories", response_model=CataloguePage)
def categories(rules: RulesDep, user: CurrentUser) -> CataloguePage:
    """The category catalogue (部件/事件 classes) with time limits and criteria."""
    del user
    cat = rules.catalogue
    items = [
        CategoryRead(
            code=c.code,
            name=c.name,
            kind=c.kind.value,
            major_code=c.major_code,
            major_name=c.major_name,
            department_type=c.department_type.value,
            handling_level=c.handling_level,
            time_limit=str(c.time_limit),
            filing_criteria=c.filing_criteria,
            closing_criteria=c.closing_criteria,
            auto_file=c.auto_file,
        )
        for c in cat.all()
    ]
    return CataloguePage(version=cat.version, items=items, errors=list(cat.errors))


def _category_name(rules: CaseRules, code: str) -> str | None:
    try:
        return rules.catalogue.get(code).name
    except NotFound:
        return None


def read_case(
    rules: CaseRules, case: Case, user: Principal, history: list[HistoryEntry] | None = None
) -> CaseRead:
    read = CaseRead.of(
        case,
        category_name=_category_name(rules, case.category_code),
        allowed=service.case_actions(case, user),
        history=history,
    )
    if user.role == Role.resident:  # the dispatch reasons name the worker chosen
        read.dispatch_reason = None
    return privacy.case_view(read, case, user)


@router.post("/cases", response_model=IntakeRead, status_code=status.HTTP_201_CREATED)
def create_case(
    data: CaseCreate, session: SessionDep, rules: RulesDep, user: CurrentUser, request: Request
) -> IntakeRead:
    """Report a problem. A repeat of an open case is linked to it instead (``duplicate: true``)."""
    limits.check_reports(request, user)
    result = intake.report(
        session=session, rules=rules, data=data, actor=user, at=rules.clock.now()
    )
    return intake_read(rules, result, user)


def intake_read(rules: CaseRules, result: intake.IntakeResult, user: Principal) -> IntakeRead:
    """What became of a report, as its reporter may see it (also the WeChat adapter's reply)."""
    return IntakeRead(
        case=read_case(rules, result.case, user),
        duplicate=result.duplicate,
        auto_filed=result.auto_filed,
        dispatched=result.dispatched,
    )


class BatchItemRead(BaseModel):
    index: int
    result: IntakeRead | None = None
    error: dict[str, str] | None = None


class BatchCreate(BaseModel):
    reports: list[CaseCreate] = Field(min_length=1, max_length=intake.MAX_BATCH)


@router.post("/cases/batch", response_model=list[BatchItemRead])
def create_cases(
    data: BatchCreate, session: SessionDep, rules: RulesDep, user: CurrentUser, request: Request
) -> list[BatchItemRead]:
    """Many reports in one transaction (video analytics, sensor gateways, hotline imports).

    Each report is taken or refused on its own: a refused one comes back with its error and
    does not stop the others. A resident's batch counts against the report limits.
    """
    limits.check_reports(request, user, cost=len(data.reports))
    results = intake.report_batch(
        session=session, rules=rules, items=data.reports, actor=user, at=rules.clock.now()
    )
    out: list[BatchItemRead] = []
    for i, r in enumerate(results):
        if isinstance(r, CityOpsError):
            out.append(BatchItemRead(index=i, error={"code": r.code, "message": r.message}))
        else:
            out.append(BatchItemRead(index=i, result=intake_read(rules, r, user)))
    return out


def _worker(worker_id: str | None, user: Principal) -> int | None:
    """``me`` is the caller's staff id (a worker's or inspector's own tasks)."""
    if worker_id != "me":
        return int(worker_id) if worker_id else None
    if user.staff_id is None:
        raise CityOpsError("worker_id=me: your account is not a staff member", code="no_staff_id")
    return user.staff_id


@router.get("/cases", response_model=CasePage)
def list_cases(
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    status_: Annotated[list[CaseStatus] | None, Query(alias="status")] = None,
    category: Annotated[list[str] | None, Query()] = None,
    jurisdiction: Annotated[str | None, Query(pattern=r"^\d{6,20}$")] = None,
    channel: Annotated[list[Channel] | None, Query()] = None,
    reported_from: datetime | None = None,
    reported_to: datetime | None = None,
    bbox: str | None = None,
    worker_id: Annotated[
        str | None, Query(pattern=r"^(me|\d{1,12})$", description="a staff id, or me")
    ] = None,
    department_id: int | None = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    sort: queries.CaseSort = queries.CaseSort.newest,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    page: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    with_total: bool = False,
) -> CasePage:
    """Filter by status, category, jurisdiction, channel, time range, bbox, worker.

    Newest first, or ``sort=deadline`` (a worker's tasks: 处置截止 soonest first, none last);
    ``worker_id=me`` is the caller's own staff id.
    """
    filters = queries.CaseFilter(
        status=status_ or [],
        category=category or [],
        jurisdiction=jurisdiction,
        channel=channel or [],
        reported_from=as_utc(reported_from) if reported_from else None,
        reported_to=as_utc(reported_to) if reported_to else None,
        bbox=queries.parse_bbox(bbox),
        worker_id=_worker(worker_id, user),
        department_id=department_id,
        overdue_at=rules.clock.now() if overdue else None,
        text=q,
    )
    result = queries.list_cases(
        session=session,
        user=user,
        filters=filters,
        limit=limit,
        cursor=cursor,
        page=page,
        with_total=with_total,
        sort=sort,
    )
    return CasePage(
        items=[read_case(rules, c, user) for c in result.items],
        total=result.total,
        next_cursor=result.next_cursor,
        page=page,
        page_size=limit,
    )


def _history(session: SessionDep, user: Principal, case: Case) -> list[HistoryEntry]:
    entries = ledger.history(session=session, subject=f"case:{case.id}")
    roles = auth_service.roles_of(session=session, usernames=timeline.usernames(entries))
    steps = timeline.timeline(entries, roles=roles, for_resident=user.role == Role.resident)
    return privacy.history_view(steps, case, user)


def _visible_case(session: SessionDep, user: CurrentUser, case_id: int) -> None:
    if not queries.visible(session=session, user=user, case_id=case_id):
        raise NotFound(f"case {case_id} not found", code="case_not_found")


@router.get("/cases/{case_id}", response_model=CaseRead)
def get_case(case_id: int, session: SessionDep, rules: RulesDep, user: CurrentUser) -> CaseRead:
    """One case with its full history, read from the ledger."""
    _visible_case(session, user, case_id)
    case = service.get_case(session=session, case_id=case_id)
    return read_case(rules, case, user, history=_history(session, user, case))


@router.get("/cases/{case_id}/transitions", response_model=list[HistoryEntry])
def case_history(case_id: int, session: SessionDep, user: CurrentUser) -> list[HistoryEntry]:
    _visible_case(session, user, case_id)
    return _history(session, user, service.get_case(session=session, case_id=case_id))


@router.post("/cases/{case_id}/transitions", response_model=CaseRead)
def transition(
    case_id: int, command: TransitionCreate, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> CaseRead:
    """Move the case one step (受理, 立案, 派遣, …); illegal steps get 409 with the allowed ones."""
    _visible_case(session, user, case_id)
    case = service.transition(
        session=session,
        rules=rules,
        case_id=case_id,
        command=command,
        actor=user,
        at=rules.clock.now(),
    )
    return read_case(rules, case, user)


@router.get("/public/cases", response_model=BoardPage, tags=["public"])
def public_board(
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    community: Annotated[str, Query(pattern=r"^\d{12}$", description="社区 code")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BoardPage:
    """云上监督: a community's recent cases for any logged-in user, personal data masked."""
    del user  # public to everyone who logged in, residents included
    cases = board.recent(session=session, community=community, limit=limit)
    items = [board.entry(c, category_name=_category_name(rules, c.category_code)) for c in cases]
    return BoardPage(community=community, items=items)


class ActionRead(BaseModel):
    action: str
    name: str


@router.get("/case-actions", response_model=list[ActionRead])
def actions() -> list[ActionRead]:
    """Every action of the case workflow with its Chinese name."""
    return [ActionRead(action=a.value, name=ACTION_NAMES_ZH[a]) for a in Action]


class KpiQuery:
    """The query of ``GET /kpis`` and of its spreadsheet, ``GET /kpis/export.xlsx``."""

    def __init__(
        self,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
        start: datetime | None = None,
        end: datetime | None = None,
        by: kpi_query.GroupBy = kpi_query.GroupBy.district,
        jurisdiction: Annotated[str | None, Query(pattern=r"^(\d{6}|\d{9}|\d{12})$")] = None,
    ) -> None:
        self.month, self.start, self.end = month, start, end
        self.by, self.jurisdiction = by, jurisdiction


KpiQueryDep = Annotated[KpiQuery, Depends()]


def _kpi_page(session: Session, rules: CaseRules, user: Principal, q: KpiQuery) -> KpiPage:
    user.require_role(Role.city_admin, Role.district_dispatcher, Role.street_staff)
    jurisdiction = q.jurisdiction
    if not user.is_city_wide:
        jurisdiction = jurisdiction or user.scope_code
        user.require_covers(jurisdiction, "these KPIs")
    if q.start is not None and q.end is not None:
        period = (as_utc(q.start), as_utc(q.end))
    else:
        period = kpi_query.month_range(q.month, tz=rules.settings.tz, now=rules.clock.now())
    rows = kpi_query.kpi_rows(
        session=session,
        start=period[0],
        end=period[1],
        by=q.by,
        jurisdiction=jurisdiction,
        now=rules.clock.now(),
    )
    return KpiPage(
        period_start=period[0],
        period_end=period[1],
        by=q.by.value,
        jurisdiction=jurisdiction,
        items=[KpiRead.of(r) for r in rows],
    )


@router.get("/kpis", response_model=KpiPage)
def kpis(session: SessionDep, rules: RulesDep, user: CurrentUser, q: KpiQueryDep) -> KpiPage:
    """The KPI set with composite score and A–E rating.

    立案数, 结案率, 按期结案率, 按期处置率, 返工率, 超期数, 监督举报率, 处置时长, 满意度.
    """
    return _kpi_page(session, rules, user, q)


@router.get(
    "/kpis/export.xlsx",
    response_class=Response,
    responses={200: {"content": {kpi_export.XLSX: {}}, "description": "an Excel workbook"}},
)
def kpis_export(
    session: SessionDep, rules: RulesDep, user: CurrentUser, q: KpiQueryDep
) -> Response:
    """The same KPI table as ``GET /kpis`` (same query) as an Excel workbook (绩效评价表)."""
    page = _kpi_page(session, rules, user, q)
    tz = rules.settings.tz
    return Response(
        kpi_export.workbook(page, tz=tz),
        media_type=kpi_export.XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{kpi_export.filename(page, tz=tz)}"'
        },
    )
