"""The cockpit's vital signs (城市体征) of one jurisdiction, counted in SQL on the case indexes.

A read model over other domains' tables: nothing here writes. Every count is an aggregate
that an index answers (``python -m bench cockpit`` times them on the loaded history):

* reported per local day and category, last 30 days: ``ix_case_district_reported``
  (district, reported_at, street, status, category), index only;
* closed per local day: ``ix_case_district_closed`` (district, closed_at, street);
* open and overdue: one seek per status on ``ix_case_street_status_reported`` (street, status,
  ...) for a district (its streets as an IN list) or below, ``ix_case_status_reported`` for
  the city;
* the month's rates and the children's ranking: ``cases.kpi_query`` (its three KPI cohorts)
  and ``cases.kpi`` (the formulas, the composite, A–E).

The city's cases are asked for as ``district_code IN (its districts)`` so that the
district-led indexes serve it too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, CompoundSelect, Select, case, func, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import queries
from cityops.cases.kpi import KpiCounts, add_counts, compute_kpis
from cityops.cases.kpi_query import GroupBy, kpi_counts, month_range
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case, CaseStatus
from cityops.cockpit import figures
from cityops.cockpit.schemas import (
    CategoryCountRead,
    RankingRead,
    ScopeRead,
    SummaryRead,
    TilesRead,
    TrendDayRead,
)
from cityops.errors import Forbidden, NotFound
from cityops.geo import service as geo
from cityops.geo.models import Jurisdiction, Level
from cityops.registry.service import check_code_prefix
from cityops.rules.alarms import AlarmState
from cityops.rules.models import Alarm
from cityops.rules.plans import SEVERITIES

AnySelect = Select[*tuple[Any, ...]]
AnyCompound = CompoundSelect[*tuple[Any, ...]]
TREND_DAYS = 30
TOP_CATEGORIES = 10
COCKPIT_ROLES = (Role.city_admin, Role.district_dispatcher, Role.street_staff)
CHILD_LEVEL = {
    Level.city: Level.district,
    Level.district: Level.street,
    Level.street: Level.community,
    Level.community: Level.grid,
}
GROUP_OF = {
    Level.district: GroupBy.district,
    Level.street: GroupBy.street,
    Level.community: GroupBy.community,
    Level.grid: GroupBy.grid,
}


@dataclass(frozen=True, slots=True)
class Scope:
    """A jurisdiction; its prefixes are the codes of the levels above it (GB/T 2260 style)."""

    code: str
    name: str
    level: Level

    @property
    def is_city(self) -> bool:
        return self.level is Level.city

    def at(self, level: Level) -> str:
        """This scope's code at ``level`` (district 6, street 9, community 12 digits)."""
        return self.code[: {Level.district: 6, Level.street: 9, Level.community: 12}[level]]


def _city(session: Session) -> Jurisdiction:
    row = session.execute(
        select(Jurisdiction)
        .where(Jurisdiction.level == Level.city, geo.current_filter())
        .order_by(Jurisdiction.code)
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("the map has no city", code="jurisdiction_not_found")
    return row


def resolve_scope(*, session: Session, user: Principal, code: str | None) -> Scope:
    """The jurisdiction asked for, default the caller's own (the city for city-wide users).

    A code outside the caller's scope is refused before it is looked up (403), so nobody
    learns which codes exist elsewhere; a malformed one is 422, an unknown one 404.
    """
    code = check_code_prefix(code, "scope")
    if code is None and not user.is_city_wide:
        if not user.scope_code:
            raise Forbidden("your account has no jurisdiction scope", code="outside_jurisdiction")
        code = user.scope_code
    if code is None:
        row = _city(session)
    else:
        user.require_covers(code, f"jurisdiction {code}")
        row = geo.get_jurisdiction(session=session, code=code)
    return Scope(row.code, row.name, Level(row.level))


def _children(session: Session, scope: Scope) -> list[tuple[str, str, bool]]:
    """(code, name, current) of every jurisdiction ever under the scope."""
    rows = session.execute(
        select(Jurisdiction.code, Jurisdiction.name, Jurisdiction.valid_to)
        .where(Jurisdiction.parent_code == scope.code)
        .order_by(Jurisdiction.code, Jurisdiction.valid_from)
    )
    return [(code, name, valid_to is None) for code, name, valid_to in rows]


def _district_led(scope: Scope, children: Sequence[str]) -> list[ColumnElement[bool]]:
    """The scope as conditions that lead with the district (the time-ordered indexes)."""
    if scope.is_city:
        return [Case.district_code.in_(children)]
    where = [Case.district_code == scope.at(Level.district)]
    if scope.level is not Level.district:
        where.append(Case.street_code == scope.at(Level.street))
    if scope.level in (Level.community, Level.grid):
        where.append(Case.community_code == scope.at(Level.community))
    if scope.level is Level.grid:
        where.append(Case.grid_code == scope.code)
    return where


def streets_of(session: Session, district: str) -> list[str]:
    """Every street ever in the district (cases keep the code they were filed under)."""
    rows = session.execute(
        select(Jurisdiction.code).where(Jurisdiction.parent_code == district).distinct()
    )
    return sorted(rows.scalars())


def street_led(code: str | None, streets: Sequence[str]) -> list[ColumnElement[bool]]:
    """Where a case lies, as conditions that lead with its street (the status-ordered indexes).

    ``code``: a district (``streets`` are then its streets), a street, community or grid;
    None: anywhere. Codes are hierarchical, so a street implies its district.
    """
    if code is None:
        return []
    if len(code) == 6:
        return [Case.street_code.in_(streets)]
    where = [Case.street_code == code[:9]]
    if len(code) >= 12:
        where.append(Case.community_code == code[:12])
    if len(code) > 12:
        where.append(Case.grid_code == code)
    return where


def by_status(stmt: AnySelect, statuses: Collection[CaseStatus]) -> AnyCompound:
    """``stmt`` once per status, as UNION ALL: each part is one index seek.

    Not ``status IN (...)``: SQLite's statistics give each status an even share of the cases,
    so for the nine open statuses of twelve it read every case of the street or district
    (the plan said so on the bench history); open cases are few.
    """
    return union_all(*(stmt.where(Case.status == s) for s in sorted(statuses)))


def _per_day(
    session: Session,
    moment: InstrumentedAttribute[datetime | None] | InstrumentedAttribute[datetime],
    where: list[ColumnElement[bool]],
    starts: Sequence[datetime],
    *extra: InstrumentedAttribute[str],
) -> list[tuple[int, ...]]:
    """Counts per (local day index, *extra) of rows with ``moment`` in [starts[0], starts[-1])."""
    day = case(*((moment < s, i) for i, s in enumerate(starts[1:-1])), else_=len(starts) - 2)
    inner = (
        select(day.label("day"), *extra)
        .where(*where, moment >= starts[0], moment < starts[-1])
        .subquery()
    )
    keys = [inner.c.day, *(inner.c[c.key] for c in extra)]
    rows = session.execute(select(*keys, func.count()).group_by(*keys))
    return [tuple(r) for r in rows]


def _alarms(session: Session, scope: Scope) -> dict[str, int]:
    stmt = (
        select(Alarm.severity, func.count())
        .where(Alarm.state == AlarmState.active.value)
        .group_by(Alarm.severity)
    )
    if not scope.is_city:
        stmt = stmt.where(Alarm.jurisdiction_code.startswith(scope.code))
    found = {str(s): int(n) for s, n in session.execute(stmt)}
    return {s: found.get(s, 0) for s in (*SEVERITIES, *sorted(set(found) - set(SEVERITIES)))}


def _kpis(
    session: Session, scope: Scope, start: datetime, end: datetime, now: datetime
) -> tuple[KpiCounts, dict[str | None, KpiCounts]]:
    """(the scope's own counts, counts per child) for the month, from ``cases.kpi_query``."""
    if scope.level is Level.grid:
        counts = kpi_counts(
            session=session, start=start, end=end, by=GroupBy.grid,
            jurisdiction=scope.at(Level.community), now=now,
        )  # fmt: skip
        return counts.get(scope.code, KpiCounts()), {}
    counts = kpi_counts(
        session=session, start=start, end=end, by=GROUP_OF[CHILD_LEVEL[scope.level]],
        jurisdiction=None if scope.is_city else scope.code, now=now,
    )  # fmt: skip
    return add_counts(counts.values()), counts


def _count_by_status(
    session: Session, where: list[ColumnElement[bool]], statuses: Collection[CaseStatus]
) -> int:
    parts = session.execute(by_status(select(func.count()).where(*where), statuses)).scalars()
    return sum(int(n) for n in parts)


def _open_and_overdue(
    session: Session, where: list[ColumnElement[bool]], now: datetime
) -> tuple[int, int]:
    late = queries.unhandled_past_deadline(now)  # with OVERDUE_STATES: GET /cases?overdue=true
    return (
        _count_by_status(session, where, OPEN_STATES),
        _count_by_status(session, [*where, *late], queries.OVERDUE_STATES),
    )


def _ranking(names: dict[str, str], counts: dict[str | None, KpiCounts]) -> list[RankingRead]:
    """Every current child, ranked by the composite score of ``cases.kpi`` (none: last)."""
    sets = {c: compute_kpis(counts.get(c, KpiCounts()), subject="region") for c in names}
    out = []
    for c, rank in figures.ranked({c: k.score for c, k in sets.items()}):
        k = sets[c]
        out.append(
            RankingRead(
                rank=rank,
                code=c,
                name=names[c],
                score=k.score,
                rating=k.rating,
                filed=k.filed,
                close_rate=k.close_rate,
                on_time_close_rate=k.on_time_close_rate,
                overdue=k.overdue,
            )
        )
    return out


def summary(
    *,
    session: Session,
    scope: Scope,
    now: datetime,
    tz: ZoneInfo,
    category_name: Callable[[str], str],
) -> SummaryRead:
    """Tiles, the last 30 days by category and by day, and the children ranked for the month."""
    children = _children(session, scope)
    codes = sorted({c for c, _, _ in children})
    starts = figures.day_starts(now, days=TREND_DAYS, tz=tz)
    where = _district_led(scope, codes)
    by_day: Counter[int] = Counter()
    by_category: Counter[str] = Counter()
    for day, category, n in _per_day(session, Case.reported_at, where, starts, Case.category_code):
        by_day[int(day)] += n
        by_category[str(category)] += n
    closed = {int(day): n for day, n in _per_day(session, Case.closed_at, where, starts)}
    place = street_led(None if scope.is_city else scope.code, codes)
    open_n, overdue_n = _open_and_overdue(session, place, now)
    start, end = month_range(None, tz=tz, now=now)
    own, per_child = _kpis(session, scope, start, end, now)
    mine = compute_kpis(own, subject="region")
    current = {code: name for code, name, is_current in children if is_current}
    days = figures.local_dates(starts, tz)
    return SummaryRead(
        scope=ScopeRead(code=scope.code, name=scope.name, level=scope.level.value),
        children_level=(
            CHILD_LEVEL[scope.level].value if scope.level in CHILD_LEVEL and current else None
        ),
        as_of=now,
        period_start=start,
        period_end=end,
        tiles=TilesRead(
            cases_today=by_day[len(days) - 1],
            open=open_n,
            overdue=overdue_n,
            on_time_rate=mine.on_time_close_rate,
            closure_rate=mine.close_rate,
            satisfaction=mine.satisfaction,
            score=mine.score,
            rating=mine.rating,
            alarms_active_by_severity=_alarms(session, scope),
        ),
        by_category=[
            CategoryCountRead(code=c, name=name, count=n)
            for c, name, n in figures.top_with_rest(by_category, category_name, top=TOP_CATEGORIES)
        ],
        trend=[
            TrendDayRead(date=d, reported=by_day[i], closed=closed.get(i, 0))
            for i, d in enumerate(days)
        ],
        ranking=_ranking(current, per_child),
    )
