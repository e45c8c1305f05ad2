"""Registry routes: departments, staff and 部件, each scoped to the caller's jurisdiction.

Street staff see their street, a district dispatcher the district, the city admin everything;
residents are refused (the registry names people and their positions).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

import chinese_calendar
from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.errors import Forbidden, ValidationFailed
from cityops.ledger import service as ledger
from cityops.registry import components, service
from cityops.registry.models import Component, ComponentState, DepartmentType, Staff, StaffRole
from cityops.registry.schemas import (
    ComponentCreate,
    ComponentNear,
    ComponentPage,
    ComponentRead,
    ComponentStateUpdate,
    DepartmentPage,
    DepartmentRead,
    LatLng,
    StaffPage,
    StaffPositionUpdate,
    StaffRead,
)

router = APIRouter(tags=["registry"])

Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT)]
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _require_staff_role(user: Principal) -> None:
    if user.role == Role.resident:
        raise Forbidden("residents cannot read the registry", code="role_forbidden")


def _within(user: Principal, requested: str | None) -> str | None:
    """The caller's scope narrowed by the requested jurisdiction; refuses one outside it."""
    _require_staff_role(user)
    requested = service.check_code_prefix(requested)
    if user.is_city_wide:
        return requested
    scope = user.scope_code
    if not scope:
        raise Forbidden("your account has no jurisdiction scope", code="outside_jurisdiction")
    if requested is None or scope.startswith(requested):
        return scope
    if requested.startswith(scope):
        return requested
    raise Forbidden(
        f"{requested} is outside your jurisdiction ({scope})", code="outside_jurisdiction"
    )


def _is_workday(day: date) -> bool:
    """Statutory calendar (调休 included); outside its years, Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def _staff_read(s: Staff) -> StaffRead:
    position = LatLng(lat=s.lat, lng=s.lng) if s.lat is not None and s.lng is not None else None
    return StaffRead(
        id=s.id, code=s.code, name=s.name, role=s.role, department_id=s.department_id,
        jurisdiction_code=s.jurisdiction_code, district_code=s.district_code,
        street_code=s.street_code, phone=s.phone, shift_start=s.shift_start,
        shift_end=s.shift_end, works_weekends=s.works_weekends, on_leave=s.on_leave,
        active=s.active, open_cases=s.open_cases, position=position, position_at=s.position_at,
    )  # fmt: skip


def _component_read(c: Component) -> ComponentRead:
    return ComponentRead(
        id=c.id, ident=c.ident, name=c.name, category_code=c.category_code,
        owner_department_id=c.owner_department_id,
        maintainer_department_id=c.maintainer_department_id, grid_code=c.grid_code,
        district_code=c.district_code, street_code=c.street_code,
        location=LatLng(lat=c.lat, lng=c.lng), state=c.state, installed_on=c.installed_on,
    )  # fmt: skip


# ---- departments -------------------------------------------------------------------------


@router.get("/departments", response_model=DepartmentPage)
def list_departments(
    session: SessionDep,
    user: CurrentUser,
    jurisdiction: str | None = None,
    type: DepartmentType | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> DepartmentPage:
    """Departments in the caller's jurisdiction (by code prefix), optionally of one type."""
    page = service.list_departments(
        session=session, within=_within(user, jurisdiction), type=type, cursor=cursor, limit=limit
    )
    return DepartmentPage(
        items=[DepartmentRead.model_validate(d) for d in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/departments/{department_id}", response_model=DepartmentRead)
def get_department(session: SessionDep, user: CurrentUser, department_id: int) -> DepartmentRead:
    _require_staff_role(user)
    dept = service.get_department(session=session, department_id=department_id)
    user.require_covers(dept.jurisdiction_code, f"department {dept.code}")
    return DepartmentRead.model_validate(dept)


# ---- staff -------------------------------------------------------------------------------


@router.get("/staff", response_model=StaffPage)
def list_staff(
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    jurisdiction: str | None = None,
    role: StaffRole | None = None,
    department_id: int | None = None,
    on_duty: bool | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> StaffPage:
    """Staff in the caller's jurisdiction; ``on_duty`` tests each shift against local time now."""
    within = _within(user, jurisdiction)
    local_now = ctx.clock.now().astimezone(ctx.settings.tz)
    page = service.list_staff(
        session=session, within=within, role=role, department_id=department_id,
        on_duty=on_duty, local_now=local_now, is_workday=_is_workday(local_now.date()),
        was_workday=_is_workday(local_now.date() - timedelta(days=1)), cursor=cursor, limit=limit,
    )  # fmt: skip
    return StaffPage(
        items=[_staff_read(s) for s in page.items], total=page.total, next_cursor=page.next_cursor
    )


@router.get("/staff/{staff_id}", response_model=StaffRead)
def get_staff(session: SessionDep, user: CurrentUser, staff_id: int) -> StaffRead:
    _require_staff_role(user)
    staff = service.get_staff(session=session, staff_id=staff_id)
    if user.staff_id != staff.id:
        user.require_covers(staff.jurisdiction_code, f"staff {staff.code}")
    return _staff_read(staff)


def _fix_time(ctx: AppContext, at: datetime | None) -> datetime:
    now = ctx.clock.now()
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValidationFailed("give the fix time with a UTC offset", code="naive_datetime")
    if at - now > MAX_CLOCK_SKEW:
        raise ValidationFailed("the fix time is in the future", code="position_in_future")
    return at


@router.put("/staff/{staff_id}/position", response_model=StaffRead)
def put_position(
    ctx: Ctx, session: SessionDep, user: CurrentUser, staff_id: int, body: StaffPositionUpdate
) -> StaffRead:
    """A worker reports his own GPS fix; a dispatcher may set one for staff in his scope."""
    _require_staff_role(user)
    staff = service.get_staff(session=session, staff_id=staff_id)
    if user.staff_id != staff.id:
        user.require_role(Role.city_admin, Role.district_dispatcher)
        user.require_covers(staff.jurisdiction_code, f"staff {staff.code}")
    staff = service.update_position(
        session=session, staff_id=staff_id, lat=body.lat, lng=body.lng, at=_fix_time(ctx, body.at)
    )
    return _staff_read(staff)


# ---- components (部件) -------------------------------------------------------------------


@router.get("/components", response_model=ComponentPage)
def list_components(
    session: SessionDep,
    user: CurrentUser,
    jurisdiction: str | None = None,
    category: str | None = None,
    state: ComponentState | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> ComponentPage:
    page = components.list_components(
        session=session, within=_within(user, jurisdiction), category_code=category,
        state=state, cursor=cursor, limit=limit,
    )  # fmt: skip
    return ComponentPage(
        items=[_component_read(c) for c in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/components/near", response_model=list[ComponentNear])
def components_near(
    session: SessionDep,
    user: CurrentUser,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(gt=0, le=10_000)] = 100.0,
    category: str | None = None,
    limit: Limit = 50,
) -> list[ComponentNear]:
    """部件 within ``radius_m`` of a WGS84 point, nearest first, inside the caller's scope."""
    hits = components.components_near(
        session=session, lat=lat, lng=lng, radius_m=radius_m, category_code=category,
        within=_within(user, None), limit=limit,
    )  # fmt: skip
    return [
        ComponentNear(**_component_read(c).model_dump(), distance_m=round(d, 1)) for c, d in hits
    ]


def _scoped_component(session: Session, user: Principal, ident: str) -> Component:
    _require_staff_role(user)
    component = components.get_component(session=session, ident=ident)
    user.require_covers(components.component_place(component), f"component {ident}")
    return component


@router.get("/components/{ident}", response_model=ComponentRead)
def get_component(session: SessionDep, user: CurrentUser, ident: str) -> ComponentRead:
    return _component_read(_scoped_component(session, user, ident))


@router.post("/components", response_model=ComponentRead, status_code=201)
def create_component(
    ctx: Ctx, session: SessionDep, user: CurrentUser, body: ComponentCreate
) -> ComponentRead:
    """Register a 部件 inside the caller's jurisdiction (city admin, district dispatcher)."""
    user.require_role(Role.city_admin, Role.district_dispatcher)
    place = body.grid_code or body.street_code or body.district_code or (body.ident or "")[:6]
    user.require_covers(place or None, "the component's place")
    component = components.create_component(
        session=session, name=body.name, category_code=body.category_code,
        lat=body.location.lat, lng=body.location.lng, ident=body.ident,
        district_code=body.district_code, street_code=body.street_code, grid_code=body.grid_code,
        owner_department_id=body.owner_department_id,
        maintainer_department_id=body.maintainer_department_id, state=body.state,
        installed_on=body.installed_on,
    )  # fmt: skip
    ledger.append(
        session=session, at=ctx.clock.now(), actor=user.actor, action="component.create",
        subject=f"component:{component.ident}",
        payload={"category": component.category_code, "state": component.state.value},
    )  # fmt: skip
    return _component_read(component)


@router.put("/components/{ident}/state", response_model=ComponentRead)
def put_component_state(
    ctx: Ctx, session: SessionDep, user: CurrentUser, ident: str, body: ComponentStateUpdate
) -> ComponentRead:
    """Mark a 部件 完好/破损/丢失/废弃/移除 (admin, dispatcher, street staff, inspector)."""
    user.require_role(Role.city_admin, Role.district_dispatcher, Role.street_staff, Role.inspector)
    component = _scoped_component(session, user, ident)
    before = component.state
    component = components.set_component_state(session=session, ident=ident, state=body.state)
    if before != component.state:
        ledger.append(
            session=session, at=ctx.clock.now(), actor=user.actor, action="component.state",
            subject=f"component:{ident}",
            payload={"from": before.value, "to": component.state.value},
        )  # fmt: skip
    return _component_read(component)
