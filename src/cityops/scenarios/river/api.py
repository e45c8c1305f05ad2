"""HTTP routes of the smart river chief (智慧河长)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.cases.runtime import get_rules
from cityops.clock import as_utc
from cityops.scenarios.river import (
    basin,
    detect_imports,
    events,
    patrol_api,
    quality,
    registry,
    service,
)
from cityops.scenarios.river.models import DetectionStatus
from cityops.scenarios.river.schemas import (
    AssessIn,
    AssessRead,
    BasinRead,
    DetectionBatchIn,
    DetectionBatchRead,
    DetectionPage,
    DetectionRead,
    EventPage,
    ReviewIn,
    RiverList,
    SectionQualityRead,
    SectionRead,
    SeriesRead,
    StationList,
    TrendRead,
)

router = APIRouter(prefix="/river", tags=["river"])

_STAFF = (
    Role.city_admin,
    Role.district_dispatcher,
    Role.street_staff,
    Role.field_worker,
    Role.inspector,
)


@router.post("/assess", response_model=AssessRead)
def assess(body: AssessIn, user: CurrentUser) -> AssessRead:
    """Classify a section's water by GB 3838-2002 and grade black-odorous readings (staff only)."""
    user.require_role(*_STAFF)
    return service.assess(body=body)


@router.get("/rivers", response_model=RiverList)
def list_rivers(session: SessionDep, user: CurrentUser) -> RiverList:
    """Rivers with sections in the caller's jurisdiction, with section and flagged counts."""
    user.require_role(*_STAFF)
    return registry.list_rivers(session=session, user=user)


@router.get("/rivers/{code}")
def river(code: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The river's sections in the caller's jurisdiction as a GeoJSON FeatureCollection."""
    user.require_role(*_STAFF)
    return registry.river_features(session=session, user=user, code=code)


@router.get("/sections/{code}", response_model=SectionRead)
def section(code: str, session: SessionDep, user: CurrentUser) -> SectionRead:
    """A section (河段): its chiefs by level, the responsible department, its target class."""
    user.require_role(*_STAFF)
    return registry.section_detail(session=session, user=user, code=code)


# Patrols (巡河), patrol duty and patrol KPIs: /river/patrols, /river/duty, /river/kpis.
router.include_router(patrol_api.router)
# ------------------------------------------------------- pollution events and other sources (H2)
_DISPATCHERS = (Role.city_admin, Role.district_dispatcher)
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/events", response_model=EventPage)
def list_events(
    session: SessionDep,
    user: CurrentUser,
    river: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: Limit = 200,
) -> EventPage:
    """Pollution events (河湖事件) in your jurisdiction, newest first: case status, section,
    accountable chief, department. ``status``: a case status or ``open``."""
    user.require_role(*_STAFF)
    return events.list_events(
        session=session, user=user, river=river, status=status,
        since=as_utc(since) if since else None, limit=limit,
    )  # fmt: skip


@router.post("/detections", response_model=DetectionBatchRead)
def import_detections(
    body: DetectionBatchIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> DetectionBatchRead:
    """Drone / unmanned-boat / satellite / AI-video detections (≤ 1,000): each accepted as an
    event with its case, kept for review (low confidence), or answered with its error."""
    user.require_role(*_DISPATCHERS)
    return detect_imports.import_detections(
        session=session, rules=get_rules(ctx, session), user=user, items=body.items,
        at=ctx.clock.now(),
    )  # fmt: skip


@router.get("/detections", response_model=DetectionPage)
def list_detections(
    session: SessionDep,
    user: CurrentUser,
    status: DetectionStatus | None = None,
    limit: Limit = 200,
) -> DetectionPage:
    """Imported detections in your jurisdiction; ``status=needs_review`` is the review queue."""
    user.require_role(*_DISPATCHERS)
    return detect_imports.list_detections(session=session, user=user, status=status, limit=limit)


@router.post("/detections/{detection_id}/accept", response_model=DetectionRead)
def accept_detection(
    detection_id: int, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> DetectionRead:
    """A dispatcher accepts a detection under review: it becomes an event with its case."""
    return _review(ctx, session, user, detection_id, accept=True, reason=None)


@router.post("/detections/{detection_id}/reject", response_model=DetectionRead)
def reject_detection(
    detection_id: int, body: ReviewIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> DetectionRead:
    """A dispatcher rejects a detection under review (not a pollution event), with a reason."""
    return _review(ctx, session, user, detection_id, accept=False, reason=body.reason)


def _review(
    ctx: Ctx, session: SessionDep, user: CurrentUser, detection_id: int, *, accept: bool,
    reason: str | None,
) -> DetectionRead:  # fmt: skip
    user.require_role(*_DISPATCHERS)
    return detect_imports.review(
        session=session, rules=get_rules(ctx, session), user=user, detection_id=detection_id,
        accept=accept, reason=reason, at=ctx.clock.now(),
    )  # fmt: skip


# --- Stations and water quality over a period (issue 6: quality.py, basin.py) ----------------

From = Annotated[date | None, Query(alias="from", description="first day (CST); default 30 days")]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive; default today")]


@router.get("/stations", response_model=StationList)
def stations(session: SessionDep, user: CurrentUser, river: str | None = None) -> StationList:
    """Water-quality stations in the caller's jurisdiction with their latest values and class."""
    user.require_role(*_STAFF)
    return quality.list_stations(session=session, user=user, river=river)


@router.get("/stations/{code}/series", response_model=SeriesRead)
def station_series(
    code: str,
    session: SessionDep,
    user: CurrentUser,
    ctx: Ctx,
    item: str,
    hours: Annotated[int, Query(ge=1, le=quality.SERIES_MAX_HOURS)] = 48,
) -> SeriesRead:
    """One item of a station over the last hours, for a sparkline (bucket means when long)."""
    user.require_role(*_STAFF)
    return quality.station_series(
        session=session, user=user, code=code, item=item, hours=hours, now=ctx.clock.now()
    )


@router.get("/sections/{code}/quality", response_model=SectionQualityRead)
def section_quality(
    code: str, session: SessionDep, user: CurrentUser, ctx: Ctx, start: From = None, end: To = None
) -> SectionQualityRead:
    """A section's GB 3838 assessment over the period, and each of its stations'."""
    user.require_role(*_STAFF)
    return quality.section_quality(
        session=session, user=user, code=code, start=start, end=end, now=ctx.clock.now()
    )


@router.get("/basin", response_model=BasinRead)
def basin_grades(
    session: SessionDep, user: CurrentUser, ctx: Ctx, start: From = None, end: To = None
) -> BasinRead:
    """Per river, and for the whole basin in the caller's jurisdiction: the period's grade."""
    user.require_role(*_STAFF)
    return basin.basin(session=session, user=user, start=start, end=end, now=ctx.clock.now())


@router.get("/trends", response_model=TrendRead)
def trends(
    session: SessionDep,
    user: CurrentUser,
    ctx: Ctx,
    river: str,
    months: Annotated[int, Query(ge=1, le=basin.MAX_MONTHS)] = 12,
) -> TrendRead:
    """A river's class, grade and item means month by month."""
    user.require_role(*_STAFF)
    return basin.trends(session=session, user=user, river=river, months=months, now=ctx.clock.now())
