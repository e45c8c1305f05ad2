"""Case lists: filters, the caller's jurisdiction scope, keyset (cursor) or page pagination.

Keyset pagination on (reported_at, id) keeps a deep page as fast as the first on 4M cases.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.lifecycle import CLOCK_RUNNING
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.clock import as_utc
from cityops.errors import ValidationFailed

Sel = TypeVar("Sel", bound=Select[*tuple[Any, ...]])  # a select of any columns


@dataclass
class CaseFilter:
    status: list[CaseStatus] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    jurisdiction: str | None = None  # a district, street, community or grid code
    channel: list[Channel] = field(default_factory=list)
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lng, min_lat, max_lng, max_lat
    worker_id: int | None = None
    department_id: int | None = None
    overdue_at: datetime | None = None  # only cases past their deadline at this moment


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        a, b, c, d = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise ValidationFailed("bbox must be minLng,minLat,maxLng,maxLat", code="bad_bbox") from exc
    if not (a < c and b < d and -180 <= a <= 180 and -90 <= b <= 90 and c <= 180 and d <= 90):
        raise ValidationFailed("bbox corners are out of order or out of range", code="bad_bbox")
    return a, b, c, d


def code_column(code: str) -> InstrumentedAttribute[Any]:
    """The case column a jurisdiction code of this length is matched on."""
    n = len(code)
    if n == 6:
        return Case.district_code
    if n == 9:
        return Case.street_code
    if n == 12:
        return Case.community_code
    return Case.grid_code


def scoped(stmt: Sel, user: Principal) -> Sel:
    """Only what the caller may see.

    City admin: all; residents: their own reports; field workers: cases assigned to them;
    everyone else: their jurisdiction.
    """
    if user.is_city_wide:
        return stmt
    if user.role == Role.resident:
        return stmt.where(Case.reporter_user_id == user.user_id)
    if user.role == Role.field_worker:
        return stmt.where(Case.worker_id == (user.staff_id or -1))
    if not user.scope_code:
        return stmt.where(Case.id < 0)
    return stmt.where(code_column(user.scope_code) == user.scope_code)


def _filtered(stmt: Select[Case], f: CaseFilter) -> Select[Case]:
    if f.status:
        stmt = stmt.where(Case.status.in_(f.status))
    if f.category:
        stmt = stmt.where(Case.category_code.in_(f.category))
    if f.jurisdiction:
        stmt = stmt.where(code_column(f.jurisdiction) == f.jurisdiction)
    if f.channel:
        stmt = stmt.where(Case.channel.in_(f.channel))
    if f.reported_from:
        stmt = stmt.where(Case.reported_at >= f.reported_from)
    if f.reported_to:
        stmt = stmt.where(Case.reported_at < f.reported_to)
    if f.bbox:
        a, b, c, d = f.bbox
        stmt = stmt.where(Case.lng.between(a, c), Case.lat.between(b, d))
    if f.worker_id is not None:
        stmt = stmt.where(Case.worker_id == f.worker_id)
    if f.department_id is not None:
        stmt = stmt.where(Case.department_id == f.department_id)
    if f.overdue_at is not None:
        stmt = stmt.where(*overdue_at(f.overdue_at))
    return stmt


OVERDUE_STATES = CLOCK_RUNNING  # only a running clock can overrun


def unhandled_past_deadline(at: datetime) -> list[ColumnElement[bool]]:
    return [Case.deadline_at < at, Case.handled_at.is_(None)]


def overdue_at(at: datetime) -> list[ColumnElement[bool]]:
    """Running cases past their deadline at ``at`` and not yet handled (超期未处置)."""
    return [*unhandled_past_deadline(at), Case.status.in_(sorted(OVERDUE_STATES))]


def encode_cursor(case: Case) -> str:
    raw = f"{as_utc(case.reported_at).isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, ident = raw.split("|")
        return as_utc(datetime.fromisoformat(when)), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this server gave out", code="bad_cursor") from exc


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Case]
    total: int | None
    next_cursor: str | None


def list_cases(
    *,
    session: Session,
    user: Principal,
    filters: CaseFilter,
    limit: int = 50,
    cursor: str | None = None,
    page: int | None = None,
    with_total: bool = False,
) -> Page:
    """Newest first. Use ``cursor`` (keyset) for scrolling, or ``page`` for numbered pages."""
    base = _filtered(scoped(select(Case), user), filters)
    stmt = base.order_by(Case.reported_at.desc(), Case.id.desc())
    if cursor:
        when, ident = decode_cursor(cursor)
        stmt = stmt.where(
            or_(Case.reported_at < when, and_(Case.reported_at == when, Case.id < ident))
        )
    elif page is not None:
        stmt = stmt.offset((page - 1) * limit)
    rows = list(session.execute(stmt.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    total = None
    if with_total:
        total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    return Page(rows, total, encode_cursor(rows[-1]) if more and rows else None)


def visible(*, session: Session, user: Principal, case_id: int) -> bool:
    """Whether ``user`` may see the case (same rule as the list)."""
    stmt = scoped(select(Case.id).where(Case.id == case_id), user)
    return session.execute(stmt).first() is not None
