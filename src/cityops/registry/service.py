"""Registry operations: departments, staff (shifts, positions) and 部件 (city components).

Keyword-only, session passed in; functions flush, the caller commits. ``within`` is a
jurisdiction-code prefix the caller has already narrowed to the acting person's scope.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.clock import as_utc
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.registry.models import (
    Component,
    ComponentState,
    Department,
    DepartmentType,
    Staff,
    StaffRole,
)

T = TypeVar("T")
MAX_LIMIT = 500
COMPONENT_IDENT = re.compile(r"^\d{17}$")  # 管理部件标识码: county 6 + major 2 + minor 3 + seq 6
CATEGORY_CODE = re.compile(r"^\d{5}$")
CODE_PREFIX = re.compile(r"^\d{1,20}$")
METRES_PER_DEGREE = 111_320.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` back for the next one."""

    items: list[T]
    total: int
    next_cursor: str | None


def check_code_prefix(code: str | None, what: str = "jurisdiction code") -> str | None:
    """A jurisdiction-code prefix is digits only; anything else is refused, not matched."""
    if code is None or code == "":
        return None
    if not CODE_PREFIX.match(code):
        raise ValidationFailed(f"{what} {code!r} must be digits", code="bad_jurisdiction_code")
    return code


def check_component_ident(ident: str) -> str:
    """Refuse anything that is not a 17-digit 管理部件标识码."""
    if not COMPONENT_IDENT.match(ident):
        raise ValidationFailed(
            f"component ident {ident!r} must be 17 digits (county 6 + class 5 + sequence 6)",
            code="bad_component_ident",
        )
    return ident


def _paginate(
    session: Session,
    stmt: Select[T],
    id_col: InstrumentedAttribute[int],
    cursor: str | None,
    limit: int,
) -> Page[T]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1..{MAX_LIMIT}", code="bad_limit")
    total = session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ).scalar_one()
    if cursor:
        if not cursor.isdigit():
            raise ValidationFailed(
                f"cursor {cursor!r} is not one this API issued", code="bad_cursor"
            )
        stmt = stmt.where(id_col > int(cursor))
    rows = list(session.execute(stmt.order_by(id_col).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    last = getattr(rows[-1], "id", None) if rows and more else None
    return Page(items=rows, total=int(total), next_cursor=str(last) if last is not None else None)


# ---- departments -------------------------------------------------------------------------


def list_departments(
    *,
    session: Session,
    within: str | None = None,
    type: DepartmentType | None = None,
    active_only: bool = True,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Department]:
    """Departments whose jurisdiction code starts with ``within``, optionally of one type."""
    stmt = select(Department)
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(Department.jurisdiction_code.startswith(prefix))
    if type is not None:
        stmt = stmt.where(Department.type == type)
    if active_only:
        stmt = stmt.where(Department.active.is_(True))
    return _paginate(session, stmt, Department.id, cursor, limit)


def get_department(*, session: Session, department_id: int) -> Department:
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound(f"department {department_id} does not exist", code="department_not_found")
    return dept


def find_department(
    *, session: Session, type: DepartmentType, jurisdiction_code: str
) -> Department | None:
    """The active department of ``type`` at exactly ``jurisdiction_code`` (lowest id if several)."""
    stmt = (
        select(Department)
        .where(
            Department.type == type,
            Department.jurisdiction_code == jurisdiction_code,
            Department.active.is_(True),
        )
        .order_by(Department.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def street_office(*, session: Session, street_code: str) -> Department | None:
    """The 街道办事处/镇政府 of a street: the 属地兜底 (territorial fallback) unit."""
    return find_department(
        session=session, type=DepartmentType.street_office, jurisdiction_code=street_code
    )


# ---- staff -------------------------------------------------------------------------------


def on_duty_clause(
    *, local_now: datetime, is_workday: bool, was_workday: bool
) -> ColumnElement[bool]:
    """SQL test "on shift now" for ``Staff`` rows; shifts are local times of day.

    A day shift (start < end) covers [start, end) on its working days; an overnight shift
    (start > end) covers [start, 24:00) today and [00:00, end) of a shift begun yesterday; a
    shift with start == end is a 24-hour rota. Weekend/holiday work needs ``works_weekends``.
    """
    t = local_now.time().replace(tzinfo=None)
    today_ok = true() if is_workday else Staff.works_weekends.is_(True)
    yesterday_ok = true() if was_workday else Staff.works_weekends.is_(True)
    day = and_(
        Staff.shift_start < Staff.shift_end, Staff.shift_start <= t, Staff.shift_end > t, today_ok
    )
    night = and_(
        Staff.shift_start > Staff.shift_end,
        or_(and_(Staff.shift_start <= t, today_ok), and_(Staff.shift_end > t, yesterday_ok)),
    )
    rota = and_(Staff.shift_start == Staff.shift_end, today_ok)
    return and_(Staff.active.is_(True), Staff.on_leave.is_(False), or_(day, night, rota))


def list_staff(
    *,
    session: Session,
    within: str | None = None,
    role: StaffRole | None = None,
    department_id: int | None = None,
    on_duty: bool | None = None,
    local_now: datetime | None = None,
    is_workday: bool = True,
    was_workday: bool = True,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Staff]:
    """Active staff by jurisdiction prefix, role and department; ``on_duty`` needs ``local_now``."""
    stmt = select(Staff).where(Staff.active.is_(True))
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(Staff.jurisdiction_code.startswith(prefix))
    if role is not None:
        stmt = stmt.where(Staff.role == role)
    if department_id is not None:
        stmt = stmt.where(Staff.department_id == department_id)
    if on_duty is not None:
        if local_now is None:
            raise ValidationFailed("the on-duty filter needs the local time", code="bad_request")
        clause = on_duty_clause(local_now=local_now, is_workday=is_workday, was_workday=was_workday)
        stmt = stmt.where(clause if on_duty else ~clause)
    return _paginate(session, stmt, Staff.id, cursor, limit)


def get_staff(*, session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"staff {staff_id} does not exist", code="staff_not_found")
    return staff


def _check_point(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(f"({lat}, {lng}) is not a WGS84 point", code="bad_position")


def update_position(
    *, session: Session, staff_id: int, lat: float, lng: float, at: datetime
) -> Staff:
    """Record a GPS fix; a fix older than the one stored (out-of-order upload) is ignored."""
    _check_point(lat, lng)
    staff = get_staff(session=session, staff_id=staff_id)
    at = as_utc(at)
    if staff.position_at is not None and as_utc(staff.position_at) > at:
        return staff
    staff.lat, staff.lng, staff.position_at = lat, lng, at
    session.flush()
    return staff


def worker_candidates(
    *, session: Session, department_id: int, local_now: datetime, is_workday: bool
) -> list[Staff]:
    """Active field workers (处置人员) of a department, not on leave, fewest open cases first.

    Rows carry their shift fields; the on-duty choice is ``cases.dispatch.is_on_duty``.
    ``local_now``/``is_workday`` are part of the contract for that caller and are not used to
    filter here, so no worker is dropped by a second, different shift rule.
    """
    del local_now, is_workday
    stmt = (
        select(Staff)
        .where(
            Staff.department_id == department_id,
            Staff.role == StaffRole.worker,
            Staff.active.is_(True),
            Staff.on_leave.is_(False),
        )
        .order_by(Staff.open_cases, Staff.id)
    )
    return list(session.execute(stmt).scalars())


# ---- components (部件) -------------------------------------------------------------------


def _component_scope(prefix: str) -> ColumnElement[bool]:
    """Components carry district, street and grid codes; match on the level the prefix names."""
    if len(prefix) <= 6:
        return Component.district_code.startswith(prefix)
    if len(prefix) <= 9:
        return Component.street_code.startswith(prefix)
    return Component.grid_code.startswith(prefix)


def component_place(component: Component) -> str | None:
    """The most specific jurisdiction code of a component (for scope checks)."""
    return component.grid_code or component.street_code or component.district_code


def list_components(
    *,
    session: Session,
    within: str | None = None,
    category_code: str | None = None,
    state: ComponentState | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Component]:
    stmt = select(Component)
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(_component_scope(prefix))
    if category_code is not None:
        stmt = stmt.where(Component.category_code == category_code)
    if state is not None:
        stmt = stmt.where(Component.state == state)
    return _paginate(session, stmt, Component.id, cursor, limit)


def get_component(*, session: Session, ident: str) -> Component:
    check_component_ident(ident)
    found = session.execute(select(Component).where(Component.ident == ident)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"component {ident} does not exist", code="component_not_found")
    return found


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def components_near(
    *,
    session: Session,
    lat: float,
    lng: float,
    radius_m: float,
    category_code: str | None = None,
    within: str | None = None,
    limit: int = 50,
) -> list[tuple[Component, float]]:
    """Components within ``radius_m`` of a point, nearest first (bounding-box prefilter in SQL)."""
    _check_point(lat, lng)
    if not 0 < radius_m <= 10_000:
        raise ValidationFailed("radius must be in (0, 10000] metres", code="bad_radius")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1..{MAX_LIMIT}", code="bad_limit")
    dlat = radius_m / METRES_PER_DEGREE
    dlng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    stmt = select(Component).where(
        Component.lat.between(lat - dlat, lat + dlat), Component.lng.between(lng - dlng, lng + dlng)
    )
    if category_code is not None:
        stmt = stmt.where(Component.category_code == category_code)
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(_component_scope(prefix))
    hits = [(c, distance_m(lat, lng, c.lat, c.lng)) for c in session.execute(stmt).scalars()]
    hits = [h for h in hits if h[1] <= radius_m]
    hits.sort(key=lambda h: (h[1], h[0].id))
    return hits[:limit]


def set_component_state(*, session: Session, ident: str, state: ComponentState) -> Component:
    """Mark a 部件 完好/破损/丢失/废弃/移除."""
    component = get_component(session=session, ident=ident)
    component.state = state
    session.flush()
    return component


def next_component_ident(*, session: Session, district_code: str, category_code: str) -> str:
    """The next free identifier in a district and class: county 6 + class 5 + sequence 6."""
    prefix = district_code + category_code
    top = session.execute(
        select(func.max(Component.ident)).where(Component.ident.startswith(prefix))
    ).scalar_one_or_none()
    seq = int(top[11:]) + 1 if top else 1
    if seq > 999_999:
        raise Conflict(
            f"no free sequence number left under {prefix}", code="component_sequence_full"
        )
    return f"{prefix}{seq:06d}"


def _check_codes(district: str | None, street: str | None, grid: str | None) -> None:
    chain = [c for c in (district, street, grid) if c]
    for code in chain:
        check_code_prefix(code)
    for parent, child in itertools.pairwise(chain):
        if not child.startswith(parent):
            raise ValidationFailed(
                f"{child} does not lie inside {parent}", code="bad_jurisdiction_code"
            )


def create_component(
    *,
    session: Session,
    name: str,
    category_code: str,
    lat: float,
    lng: float,
    ident: str | None = None,
    district_code: str | None = None,
    street_code: str | None = None,
    grid_code: str | None = None,
    owner_department_id: int | None = None,
    maintainer_department_id: int | None = None,
    state: ComponentState = ComponentState.intact,
    installed_on: date | None = None,
) -> Component:
    """Register a 部件; its ident must agree with its class and county, and be unused."""
    if not CATEGORY_CODE.match(category_code):
        raise ValidationFailed(f"category {category_code!r} must be 5 digits", code="bad_category")
    _check_point(lat, lng)
    district_code = district_code or (street_code or grid_code or ident or "")[:6] or None
    if district_code is None or len(district_code) != 6:
        raise ValidationFailed(
            "a component needs its 6-digit county code", code="bad_jurisdiction_code"
        )
    _check_codes(district_code, street_code, grid_code)
    if ident is None:
        ident = next_component_ident(
            session=session, district_code=district_code, category_code=category_code
        )
    check_component_ident(ident)
    if ident[:6] != district_code or ident[6:11] != category_code:
        raise ValidationFailed(
            f"ident {ident} must start with county {district_code} and class {category_code}",
            code="component_ident_mismatch",
        )
    for dept_id in (owner_department_id, maintainer_department_id):
        if dept_id is not None:
            get_department(session=session, department_id=dept_id)
    if session.execute(select(Component.id).where(Component.ident == ident)).first() is not None:
        raise Conflict(f"component {ident} already exists", code="duplicate_component")
    component = Component(
        ident=ident, name=name, category_code=category_code, lat=lat, lng=lng,
        district_code=district_code, street_code=street_code, grid_code=grid_code,
        owner_department_id=owner_department_id, maintainer_department_id=maintainer_department_id,
        state=state, installed_on=installed_on,
    )  # fmt: skip
    session.add(component)
    session.flush()
    return component
