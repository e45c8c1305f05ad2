"""KPI counts from case rows, grouped by district, street, community, grid, department or post.

Three cohorts, each read through its own index: cases filed in the period (立案 cohort: 结案率,
按期结案率, 返工率, 监督举报率, 满意度), dispatched in the period (派遣 cohort: 按期处置率,
超期数, 处置用时) and reported in the period (上报数, 作废数). The arithmetic is in ``kpi.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.cases.kpi import KpiCounts, KpiSet, compute_kpis
from cityops.cases.models import PUBLIC_CHANNELS, Case, CaseStatus, ClosingType
from cityops.errors import ValidationFailed
from cityops.geo.models import Jurisdiction
from cityops.registry.models import Department, Staff


class GroupBy(enum.StrEnum):
    district = "district"
    street = "street"
    community = "community"
    grid = "grid"
    department = "department"
    worker = "worker"


KEY_COLUMN: dict[GroupBy, InstrumentedAttribute[Any]] = {
    GroupBy.district: Case.district_code,
    GroupBy.street: Case.street_code,
    GroupBy.community: Case.community_code,
    GroupBy.grid: Case.grid_code,
    GroupBy.department: Case.department_id,
    GroupBy.worker: Case.worker_id,
}


@dataclass(frozen=True, slots=True)
class KpiRow:
    key: str
    name: str
    counts: KpiCounts
    kpis: KpiSet


def month_range(
    month: str | None, *, tz: ZoneInfo, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``YYYY-MM`` in the city's time zone → [start, end) as aware datetimes."""
    if month is None:
        local = (now or datetime.now(tz)).astimezone(tz)
        year, mon = local.year, local.month
    else:
        try:
            year, mon = (int(p) for p in month.split("-"))
            if not 1 <= mon <= 12:
                raise ValueError
        except ValueError as exc:
            raise ValidationFailed(
                f"month must be YYYY-MM, not {month!r}", code="bad_month"
            ) from exc
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def _n(cond: ColumnElement[bool]) -> Any:
    return func.sum(case((cond, 1), else_=0))


def _scope(jurisdiction: str | None) -> list[ColumnElement[bool]]:
    if not jurisdiction:
        return []
    if len(jurisdiction) == 6:
        return [Case.district_code == jurisdiction]
    if len(jurisdiction) == 9:
        return [Case.district_code == jurisdiction[:6], Case.street_code == jurisdiction]
    if len(jurisdiction) == 12:
        return [
            Case.district_code == jurisdiction[:6],
            Case.street_code == jurisdiction[:9],
            Case.community_code == jurisdiction,
        ]
    raise ValidationFailed(
        "jurisdiction must be a 6-digit district, 9-digit street or 12-digit community code",
        code="bad_jurisdiction",
    )


def kpi_rows(
    *,
    session: Session,
    start: datetime,
    end: datetime,
    by: GroupBy,
    jurisdiction: str | None = None,
    now: datetime | None = None,
) -> list[KpiRow]:
    """The KPI set per group for [start, end); groups with no cases in any cohort are left out."""
    counts = kpi_counts(
        session=session, start=start, end=end, by=by, jurisdiction=jurisdiction, now=now
    )
    named = {k: c for k, c in counts.items() if k is not None}
    subject = "department" if by in (GroupBy.department, GroupBy.worker) else "region"
    names = _names(session, by, list(named))
    return [
        KpiRow(k, names.get(k, k), c, compute_kpis(c, subject=subject))  # type: ignore[arg-type]
        for k, c in sorted(named.items())
    ]


def kpi_counts(
    *,
    session: Session,
    start: datetime,
    end: datetime,
    by: GroupBy,
    jurisdiction: str | None = None,
    now: datetime | None = None,
) -> dict[str | None, KpiCounts]:
    """The counts per group for [start, end); cases without a group come under ``None``.

    The groups are disjoint, so ``kpi.add_counts`` over all values is the whole jurisdiction.
    """
    if end <= start:
        raise ValidationFailed("the period ends before it starts", code="bad_period")
    key = KEY_COLUMN[by]
    scope = _scope(jurisdiction)
    as_of = min(end, now) if now else end
    counts: dict[str | None, KpiCounts] = {}

    def bucket(k: Any) -> KpiCounts:
        return counts.setdefault(None if k is None else str(k), KpiCounts())

    not_void = Case.status != CaseStatus.void
    closed = Case.status.in_([CaseStatus.closed, CaseStatus.evaluated])
    filed = session.execute(
        select(
            key,
            func.count(),
            _n(not_void),
            _n(and_(not_void, closed)),
            _n(and_(not_void, closed, Case.closing_type == ClosingType.normal)),
            _n(and_(not_void, Case.rework_count > 0)),
            _n(and_(not_void, Case.channel.in_(PUBLIC_CHANNELS))),
            func.sum(
                case((and_(not_void, Case.satisfaction.is_not(None)), Case.satisfaction), else_=0)
            ),
            _n(and_(not_void, Case.satisfaction.is_not(None))),
            _n(and_(not_void, Case.satisfaction >= 4)),
        )
        .where(*scope, Case.filed_at >= start, Case.filed_at < end)
        .group_by(key)
    )
    for k, n, due, done, on_time, rework, public, s_sum, s_n, s_ok in filed:
        c = bucket(k)
        c.filed, c.due_to_close, c.closed, c.closed_on_time = n, due or 0, done or 0, on_time or 0
        c.reworked, c.public_verified = rework or 0, public or 0
        c.satisfaction_sum, c.satisfaction_count, c.satisfied_count = (
            s_sum or 0,
            s_n or 0,
            s_ok or 0,
        )

    late = and_(
        Case.deadline_at < as_of, or_(Case.handled_at.is_(None), Case.handled_at > Case.deadline_at)
    )
    handled = and_(not_void, Case.handled_at.is_not(None), Case.handling_seconds.is_not(None))
    dispatched = session.execute(
        select(
            key,
            func.count(),
            _n(not_void),
            _n(and_(not_void, Case.handled_on_time.is_(True))),
            _n(and_(not_void, late)),
            func.sum(case((handled, Case.handling_seconds), else_=0.0)),
            _n(handled),
        )
        .where(*scope, Case.dispatched_at >= start, Case.dispatched_at < end)
        .group_by(key)
    )
    for k, n, due, on_time, overdue, secs, n_handled in dispatched:
        c = bucket(k)
        c.dispatched, c.due_to_handle, c.handled_on_time = n, due or 0, on_time or 0
        c.overdue, c.handling_seconds_sum, c.handling_count = (
            overdue or 0,
            float(secs or 0),
            n_handled or 0,
        )

    reported = session.execute(
        select(key, func.count(), _n(Case.status == CaseStatus.void))
        .where(*scope, Case.reported_at >= start, Case.reported_at < end)
        .group_by(key)
    )
    for k, n, void in reported:
        c = bucket(k)
        c.reported, c.voided = n, void or 0

    return counts


def _names(session: Session, by: GroupBy, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    if by in (GroupBy.district, GroupBy.street, GroupBy.community, GroupBy.grid):
        rows = session.execute(
            select(Jurisdiction.code, Jurisdiction.name).where(
                Jurisdiction.code.in_(keys), Jurisdiction.valid_to.is_(None)
            )
        )
    elif by is GroupBy.department:
        rows = session.execute(
            select(Department.id, Department.name).where(Department.id.in_([int(k) for k in keys]))
        )
    else:
        rows = session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_([int(k) for k in keys]))
        )
    return {str(k): str(v) for k, v in rows}
