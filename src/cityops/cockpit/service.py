"""The cockpit's vital signs (城市体征) of one jurisdiction, counted in SQL on the case indexes.

A read model over other domains' tables: nothing here writes. Every count is one aggregate
statement that an index answers (measured on 4M cases with ``python -m bench cockpit``):

* reported per local day and category, last 30 days: ``ix_case_district_reported``
  (district, reported_at, street, status, category), index only;
* closed per local day: ``ix_case_district_closed`` (district, closed_at, street);
* open and overdue: ``ix_case_street_status_reported`` (street, status, ...) for a district
  (its streets as an IN list) or below, ``ix_case_status_reported`` for the city;
* the month's rates and the children's ranking: ``cases.kpi_query`` (its three KPI cohorts)
  and ``cases.kpi`` (the formulas, the composite, A–E).

The city's cases are asked for as ``district_code IN (its districts)`` so that the
district-led indexes serve it too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import queries
from cityops.cases.kpi import KpiCounts, add_counts, compute_kpis
from cityops.cases.kpi_query import GroupBy, kpi_counts, month_range
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case
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
    """A jurisdiction with the codes of the levels above it (codes are hierarchical)."""

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


def _street_led(scope: Scope, children: Sequence[str]) -> list[ColumnElement[bool]]:
    """The scope as conditions that lead with the street (the status-ordered indexes)."""
    if scope.is_city:
        return []
    if scope.level is Level.district:
        return [Case.street_code.in_(children)]
    return _district_led(scope, children)[1:]  # codes are hierarchical: the street implies it


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


def _open_and_overdue(
    session: Session, where: list[ColumnElement[bool]], now: datetime
) -> tuple[int, int]:
    open_n = session.execute(
        select(func.count()).where(*where, Case.status.in_(sorted(OPEN_STATES)))
    ).scalar_one()
    overdue_n = session.execute(
        select(func.count()).where(*where, *queries.overdue_at(now))
    ).scalar_one()
    return int(open_n), int(overdue_n)


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
    open_n, overdue_n = _open_and_overdue(session, _street_led(scope, codes), now)
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
