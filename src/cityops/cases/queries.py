"""Case lists: filters, the caller's jurisdiction scope, keyset (cursor) or page pagination.

Keyset pagination on (reported_at, id) keeps a deep page as fast as the first on 4M cases.
A worker's task list (``sort=deadline``) pages on (deadline_at, id), cases without a deadline
last; a cursor names its order, so one from the other order is refused (``bad_cursor``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
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


class CaseSort(enum.StrEnum):
    newest = "newest"  # reported_at descending (the default)
    deadline = "deadline"  # 处置截止时间 ascending, no deadline last: a worker's next task first


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
    text: str | None = None  # 案卷号, case id, or words in the title, description or address
    needs_review: bool | None = None  # the 受理员 queue: classified with low confidence


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


def in_area(code: str) -> list[ColumnElement[bool]]:
    """Cases in the jurisdiction ``code``. A grid also names its community (a grid's code is its
    community's plus a number), so it is found through the community index: grids have none."""
    where = [code_column(code) == code]
    if len(code) > 12:
        where.append(Case.community_code == code[:12])
    return where


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
    return stmt.where(*in_area(user.scope_code))


def _filtered(stmt: Sel, f: CaseFilter) -> Sel:
    if f.status:
        stmt = stmt.where(Case.status.in_(f.status))
    if f.category:
        stmt = stmt.where(Case.category_code.in_(f.category))
    if f.jurisdiction:
        stmt = stmt.where(*in_area(f.jurisdiction))
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
    if f.text:
        stmt = stmt.where(text_match(f.text))
    if f.needs_review is not None:
        stmt = stmt.where(Case.needs_review.is_(f.needs_review))
    return stmt


_CASE_NO = re.compile(r"^(\d{6})-\d{4}-0*(\d{1,9})$")


def text_match(text: str) -> ColumnElement[bool]:
    """What a search box means: a case number (案卷号 ``500107-2026-00000042``) or id (``#42``)
    finds that case; anything else is words in the title, the description or the address.

    Words are matched by substring within the other filters, newest first, so a search inside
    a street and a month stays quick; a city-wide search for a rare word reads many rows.
    """
    text = text.strip()
    number = _CASE_NO.match(text)
    if number:
        return and_(Case.district_code == number[1], Case.id == int(number[2]))
    bare = text.removeprefix("#")
    if bare.isdigit() and len(bare) <= 9:
        return or_(Case.id == int(bare), Case.title.contains(text, autoescape=True))
    return or_(
        Case.title.contains(text, autoescape=True),
        Case.description.contains(text, autoescape=True),
        Case.address.contains(text, autoescape=True),
    )


_DEADLINE = "deadline"
OVERDUE_STATES = CLOCK_RUNNING  # only a running clock can overrun


def unhandled_past_deadline(at: datetime) -> list[ColumnElement[bool]]:
    return [Case.deadline_at < at, Case.handled_at.is_(None)]


def overdue_at(at: datetime) -> list[ColumnElement[bool]]:
    """Running cases past their deadline at ``at`` and not yet handled (超期未处置)."""
    return [*unhandled_past_deadline(at), Case.status.in_(sorted(OVERDUE_STATES))]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _unb64(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("cursor is not one this server gave out", code="bad_cursor")


def encode_cursor(case: Case, sort: CaseSort = CaseSort.newest) -> str:
    if sort is CaseSort.deadline:
        when = as_utc(case.deadline_at).isoformat() if case.deadline_at else ""
        return _b64(f"{_DEADLINE}|{when}|{case.id}")
    return _b64(f"{as_utc(case.reported_at).isoformat()}|{case.id}")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        when, ident = _unb64(cursor).split("|")
        return as_utc(datetime.fromisoformat(when)), int(ident)
    except ValueError as exc:
        raise _bad_cursor() from exc


def decode_deadline_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        tag, when, ident = _unb64(cursor).split("|")
        if tag != _DEADLINE:
            raise ValueError(tag)
        return (as_utc(datetime.fromisoformat(when)) if when else None), int(ident)
    except ValueError as exc:
        raise _bad_cursor() from exc


def _after_deadline(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in (deadline_at nulls last, id) order."""
    when, ident = decode_deadline_cursor(cursor)
    if when is None:
        return and_(Case.deadline_at.is_(None), Case.id > ident)
    return or_(
        Case.deadline_at > when,
        and_(Case.deadline_at == when, Case.id > ident),
        Case.deadline_at.is_(None),
    )


def _after_newest(cursor: str) -> ColumnElement[bool]:
    when, ident = decode_cursor(cursor)
    return or_(Case.reported_at < when, and_(Case.reported_at == when, Case.id < ident))


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
    sort: CaseSort = CaseSort.newest,
) -> Page:
    """Newest first, or by deadline. ``cursor`` (keyset) scrolls; ``page`` numbers pages."""
    base = _filtered(scoped(select(Case), user), filters)
    if sort is CaseSort.deadline:
        stmt = base.order_by(Case.deadline_at.asc().nulls_last(), Case.id.asc())
    else:
        stmt = base.order_by(Case.reported_at.desc(), Case.id.desc())
    if cursor:
        after = _after_deadline if sort is CaseSort.deadline else _after_newest
        stmt = stmt.where(after(cursor))
    elif page is not None:
        stmt = stmt.offset((page - 1) * limit)
    rows = list(session.execute(stmt.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    total = None
    if with_total:
        total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    return Page(rows, total, encode_cursor(rows[-1], sort) if more and rows else None)


def visible(*, session: Session, user: Principal, case_id: int) -> bool:
    """Whether ``user`` may see the case (same rule as the list)."""
    stmt = scoped(select(Case.id).where(Case.id == case_id), user)
    return session.execute(stmt).first() is not None


@dataclass(frozen=True, slots=True)
class TallyRow:
    """How many cases share these facts (one group of ``tally``)."""

    status: CaseStatus
    category_code: str
    channel: Channel
    escalated: bool  # 督办 at least once
    handled_on_time: bool | None
    count: int
    satisfaction_sum: int
    satisfaction_count: int


def tally(*, session: Session, filters: CaseFilter) -> list[TallyRow]:
    """Case counts grouped by status, category, channel, escalation and on-time handling.

    For dashboards over one area (``filters.jurisdiction``): one grouped read, a few hundred
    groups at most. Not scoped by a user: the caller checks that the user covers the area, and
    these are counts, not cases.
    """
    escalated = (Case.escalation_level > 0).label("escalated")
    keys = (Case.status, Case.category_code, Case.channel, escalated, Case.handled_on_time)
    stmt = select(
        *keys, func.count(), func.sum(Case.satisfaction), func.count(Case.satisfaction)
    ).group_by(*keys)
    rows = session.execute(_filtered(stmt, filters)).all()
    return [
        TallyRow(
            CaseStatus(r[0]), r[1], Channel(r[2]), bool(r[3]), r[4], int(r[5]), int(r[6] or 0),
            int(r[7]),
        )
        for r in rows
    ]  # fmt: skip
