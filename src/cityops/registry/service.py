"""Registry operations: departments and staff (shifts, positions); 部件 are in ``components``.

Keyword-only, session passed in; functions flush, the caller commits. ``within`` is a
jurisdiction-code prefix the caller has already narrowed to the acting person's scope.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.clock import as_utc
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import (
    Department,
    DepartmentType,
    Staff,
    StaffRole,
)

T = TypeVar("T")
MAX_LIMIT = 500
CODE_PREFIX = re.compile(r"^\d{1,20}$")


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


def paginate(
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
    return paginate(session, stmt, Department.id, cursor, limit)


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
    return paginate(session, stmt, Staff.id, cursor, limit)


def get_staff(*, session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"staff {staff_id} does not exist", code="staff_not_found")
    return staff


def check_point(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(f"({lat}, {lng}) is not a WGS84 point", code="bad_position")


def update_position(
    *, session: Session, staff_id: int, lat: float, lng: float, at: datetime
) -> Staff:
    """Record a GPS fix; a fix older than the one stored (out-of-order upload) is ignored."""
    check_point(lat, lng)
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
