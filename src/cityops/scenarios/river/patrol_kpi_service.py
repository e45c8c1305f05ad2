"""Patrol KPIs over the database: per chief or per river, over local days (formulas: patrol_kpi).

A chief's row counts his own finished patrols started in the period, wherever they went, and
the coverage of the sections he is chief of (at any level). A river's row counts the patrols
along it that the caller may see and the coverage of its sections in the caller's scope.
"""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.cases.models import Case
from cityops.errors import ValidationFailed
from cityops.registry.models import Staff
from cityops.scenarios.river import patrol_kpi as pk
from cityops.scenarios.river.duty_service import sections_in_scope
from cityops.scenarios.river.models import (
    ChiefAssignment,
    Patrol,
    PatrolCoverage,
    PatrolIssue,
    PatrolStatus,
    River,
    Section,
)
from cityops.scenarios.river.patrol_read import visible
from cityops.scenarios.river.patrol_schemas import KpiPage, KpiRowRead
from cityops.settings import Settings

MAX_DAYS = 366


class By(enum.StrEnum):
    chief = "chief"
    river = "river"


def _window(
    settings: Settings, now: datetime, start: date | None, end: date | None
) -> tuple[date, date, datetime, datetime]:
    today = now.astimezone(settings.tz).date()
    start = start or today.replace(day=1)
    end = end or today
    if end < start:
        raise ValidationFailed("`to` is before `from`", code="bad_period")
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed(f"a period is at most {MAX_DAYS} days", code="bad_period")
    lo = datetime.combine(start, time(), settings.tz)
    hi = datetime.combine(end + timedelta(days=1), time(), settings.tz)
    return start, end, lo, hi


def _facts(
    session: Session, patrols: Select[int, int, float]
) -> tuple[dict[int, list[pk.PatrolFact]], list[pk.CoverFact], list[pk.IssueFact]]:
    """The patrols (grouped by the select's second column), their coverage and their issues."""
    grouped: dict[int, list[pk.PatrolFact]] = defaultdict(list)
    for pid, key, mileage in session.execute(patrols):
        grouped[int(key)].append(pk.PatrolFact(int(pid), float(mileage)))
    ids = patrols.with_only_columns(Patrol.id).scalar_subquery()
    covers = [
        pk.CoverFact(c.patrol_id, c.section_id, tuple(tuple(iv) for iv in json.loads(c.intervals)))
        for c in session.execute(
            select(PatrolCoverage).where(PatrolCoverage.patrol_id.in_(ids))
        ).scalars()
    ]
    issues = [
        pk.IssueFact(pid, cid, status.value, reported, handled)
        for pid, cid, status, reported, handled in session.execute(
            select(PatrolIssue.patrol_id, Case.id, Case.status, Case.reported_at, Case.handled_at)
            .join(Case, PatrolIssue.case_id == Case.id)
            .where(PatrolIssue.patrol_id.in_(ids))
        )
    ]
    return grouped, covers, issues


def _row(key: str, name: str, levels: list[str], k: pk.PatrolKpi) -> KpiRowRead:
    def r(v: float | None, n: int) -> float | None:
        return round(v, n) if v is not None else None

    return KpiRowRead(
        key=key, name=name, levels=levels, sections=k.sections, section_km=round(k.section_km, 3),
        patrols=k.patrols, mileage_km=round(k.mileage_km, 3), covered_km=round(k.covered_km, 3),
        coverage=r(k.coverage, 4), issues_found=k.issues_found, issues_handled=k.issues_handled,
        issues_closed=k.issues_closed, completion_rate=r(k.completion_rate, 4),
        mean_handle_hours=r(k.mean_handle_hours, 2),
    )  # fmt: skip


def _in_period(lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
    return [Patrol.status == PatrolStatus.finished, Patrol.started_at >= lo, Patrol.started_at < hi]


def _by_chief(session: Session, user: Principal, lo: datetime, hi: datetime) -> list[KpiRowRead]:
    rows = session.execute(
        select(
            ChiefAssignment.staff_id,
            ChiefAssignment.level,
            Staff.name,
            Section.id,
            Section.length_km,
        )
        .join(Staff, ChiefAssignment.staff_id == Staff.id)
        .join(Section, ChiefAssignment.section_id == Section.id)
        .where(sections_in_scope(user))
        .order_by(ChiefAssignment.staff_id)
    ).all()
    names: dict[int, str] = {}
    levels: dict[int, set[str]] = defaultdict(set)
    sections: dict[int, dict[int, float]] = defaultdict(dict)
    for staff_id, level, name, sid, km in rows:
        if staff_id is None:  # a vacant post (the inner join on staff leaves none; for mypy)
            continue
        names[staff_id] = name
        levels[staff_id].add(level.value)
        sections[staff_id][sid] = km
    patrols = select(Patrol.id, Patrol.staff_id, Patrol.mileage_m).where(
        *_in_period(lo, hi), Patrol.staff_id.in_(list(names))
    )
    grouped, cov, iss = _facts(session, patrols)
    order = ("city", "district", "street", "village")
    return [
        _row(
            str(sid),
            names[sid],
            sorted(levels[sid], key=order.index),
            pk.kpi(section_km=sections[sid], patrols=grouped.get(sid, []), covers=cov, issues=iss),
        )
        for sid in names
    ]


def _by_river(session: Session, user: Principal, lo: datetime, hi: datetime) -> list[KpiRowRead]:
    rows = session.execute(
        select(River.id, River.code, River.name, Section.id, Section.length_km)
        .join(Section, Section.river_id == River.id)
        .where(sections_in_scope(user))
        .order_by(River.code)
    ).all()
    rivers: dict[int, tuple[str, str]] = {}
    sections: dict[int, dict[int, float]] = defaultdict(dict)
    for rid, code, name, sid, km in rows:
        rivers[rid] = (code, name)
        sections[rid][sid] = km
    patrols = select(Patrol.id, Patrol.river_id, Patrol.mileage_m).where(
        *_in_period(lo, hi), Patrol.river_id.in_(list(rivers)), visible(user)
    )
    grouped, cov, iss = _facts(session, patrols)
    return [
        _row(
            code,
            name,
            [],
            pk.kpi(section_km=sections[rid], patrols=grouped.get(rid, []), covers=cov, issues=iss),
        )
        for rid, (code, name) in rivers.items()
    ]


def kpi_page(
    *,
    session: Session,
    user: Principal,
    settings: Settings,
    now: datetime,
    start: date | None,
    end: date | None,
    by: By,
) -> KpiPage:
    """KPIs of each chief or river in the caller's scope over local days ``start``..``end``."""
    first, last, lo, hi = _window(settings, now, start, end)
    items = (_by_chief if by is By.chief else _by_river)(session, user, lo, hi)
    return KpiPage(start=first, end=last, by=by.value, items=items)
