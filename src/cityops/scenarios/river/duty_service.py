"""巡河 duty over the registry: who is due or overdue, and the overdue reminders.

A patrol counts for a section when it is finished, was made by the chief, and was started on
that section, or was started along the whole river and passed the section (covered any part
of it). A section patrol that strays into the next section does not count there. Dates are
local (the city's time zone).

Reminders: ``remind_overdue`` notifies each overdue chief once per missed period and level: a
``river_duty_reminder`` row (unique per chief, level and period, so a second run, or a second
process, sends nothing new), a ledger entry and a ``river.duty_overdue`` bus event after the
commit. ``DutyReminders`` runs it in the background every ``river_duty_check_minutes``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import ColumnElement, func, select, true, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.api.context import AppContext, unit_of_work
from cityops.auth.scope import Principal
from cityops.bus.memory import queue_event
from cityops.ledger import service as ledger
from cityops.periodic import Periodic
from cityops.registry.models import Staff
from cityops.scenarios.river import duty as dt
from cityops.scenarios.river.models import (
    ChiefAssignment,
    ChiefLevel,
    DutyReminder,
    Patrol,
    PatrolCoverage,
    PatrolStatus,
    River,
    Section,
)
from cityops.scenarios.river.patrol_schemas import (
    DutyChiefRead,
    DutyPage,
    DutyRuleRead,
    DutySectionRead,
)
from cityops.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "system:river-duty"


@lru_cache(maxsize=4)
def _rules_at(path: Path | None) -> dt.DutyRules:
    return dt.load_rules(path)


def rules_of(settings: Settings) -> dt.DutyRules:
    """The duty rules the settings name (read once per process)."""
    return _rules_at(settings.river_duty_rules_path)


def sections_in_scope(user: Principal | None) -> ColumnElement[bool]:
    """Sections in the user's jurisdiction (all for the city admin or no user: the system)."""
    if user is None or user.is_city_wide:
        return true()
    if not user.scope_code:
        return Section.id.is_(None)
    return Section.street_code.startswith(user.scope_code, autoescape=True)


def last_patrols(session: Session, staff_ids: set[int]) -> dict[tuple[int, int], datetime]:
    """(staff, section) → the start of that staff member's latest finished patrol of it."""
    if not staff_ids:
        return {}
    counted = union(
        select(Patrol.id.label("pid"), Patrol.section_id.label("sid")).where(
            Patrol.section_id.is_not(None)
        ),
        select(PatrolCoverage.patrol_id, PatrolCoverage.section_id)
        .join(Patrol, PatrolCoverage.patrol_id == Patrol.id)
        .where(Patrol.section_id.is_(None), PatrolCoverage.share > 0),
    ).subquery()
    stmt = (
        select(Patrol.staff_id, counted.c.sid, func.max(Patrol.started_at))
        .join(counted, counted.c.pid == Patrol.id)
        .where(Patrol.status == PatrolStatus.finished, Patrol.staff_id.in_(staff_ids))
        .group_by(Patrol.staff_id, counted.c.sid)
    )
    return {(int(s), int(sec)): at for s, sec, at in session.execute(stmt)}


@dataclass(frozen=True, slots=True)
class _Post:
    staff_id: int
    name: str
    level: ChiefLevel
    since: date
    section: Section
    river_name: str


def chiefs(
    *, session: Session, user: Principal | None, settings: Settings, now: datetime
) -> list[DutyChiefRead]:
    """Every chief with a duty rule for his level, in scope, with his sections' duty."""
    rules = rules_of(settings)
    if not rules.rules:
        return []
    rows = session.execute(
        select(ChiefAssignment, Staff.name, Section, River.name)
        .join(Staff, ChiefAssignment.staff_id == Staff.id)
        .join(Section, ChiefAssignment.section_id == Section.id)
        .join(River, Section.river_id == River.id)
        .where(ChiefAssignment.level.in_(list(rules.rules)), sections_in_scope(user))
        .order_by(Staff.id, ChiefAssignment.level, Section.code)
    ).all()
    posts = [
        _Post(a.staff_id, name, a.level, a.since, sec, river)
        for a, name, sec, river in rows
        if a.staff_id is not None
    ]
    last = last_patrols(session, {p.staff_id for p in posts})
    tz = settings.tz
    today = now.astimezone(tz).date()
    grouped: dict[tuple[int, ChiefLevel], list[tuple[_Post, dt.Duty, datetime | None]]] = (
        defaultdict(list)
    )
    for p in posts:
        at = last.get((p.staff_id, p.section.id))
        state = dt.duty(
            every=rules.rules[p.level].every,
            since=p.since,
            last_patrol=at.astimezone(tz).date() if at else None,
            today=today,
        )
        grouped[(p.staff_id, p.level)].append((p, state, at))
    out = []
    for (staff_id, level), items in grouped.items():
        sections = [
            DutySectionRead(
                code=p.section.code, name=p.section.name, river_name=p.river_name,
                status=d.status.value, last_patrol_at=at, due_date=d.due_date,
                overdue_days=d.overdue_days, missed_periods=d.missed_periods,
            )
            for p, d, at in items
        ]  # fmt: skip
        worst = min((d.status for _, d, _ in items), key=dt.STATUS_ORDER.index)
        patrolled = [at for _, _, at in items if at is not None]
        out.append(
            DutyChiefRead(
                staff_id=staff_id, name=items[0][0].name, level=level.value,
                every=rules.rules[level].every.value, status=worst.value,
                last_patrol_at=max(patrolled) if patrolled else None,
                due_date=min(d.due_date for _, d, _ in items),
                overdue_days=max(d.overdue_days for _, d, _ in items), sections=sections,
            )
        )  # fmt: skip
    return out


def duty_page(
    *, session: Session, user: Principal, settings: Settings, now: datetime, overdue: bool
) -> DutyPage:
    """The duty list; ``overdue``: only chiefs with an overdue section, most overdue first."""
    rules = rules_of(settings)
    items = chiefs(session=session, user=user, settings=settings, now=now)
    if overdue:
        items = sorted(
            (c for c in items if c.status == dt.Status.overdue.value),
            key=lambda c: (-c.overdue_days, c.staff_id),
        )
    return DutyPage(
        as_of=now.astimezone(settings.tz).date(),
        rules=[
            DutyRuleRead(level=r.level.value, every=r.every.value, name=r.name)
            for r in rules.rules.values()
        ],
        rule_errors=list(rules.errors),
        items=items,
        total=len(items),
    )


def remind_overdue(*, session: Session, settings: Settings, now: datetime) -> list[DutyReminder]:
    """Notify every overdue chief once per missed period and level; returns the new reminders."""
    rules = rules_of(settings)
    today = now.astimezone(settings.tz).date()
    sent: list[DutyReminder] = []
    for chief in chiefs(session=session, user=None, settings=settings, now=now):
        if chief.status != dt.Status.overdue.value:
            continue
        level = ChiefLevel(chief.level)
        every = rules.rules[level].every
        missed = dt.previous_period(dt.period(today, every), every)[0]
        known = session.execute(
            select(DutyReminder.id).where(
                DutyReminder.staff_id == chief.staff_id,
                DutyReminder.level == level,
                DutyReminder.period_start == missed,
            )
        ).first()
        if known is not None:
            continue
        late = [s.code for s in chief.sections if s.status == dt.Status.overdue.value]
        row = DutyReminder(
            staff_id=chief.staff_id, level=level, period_start=missed, sent_at=now,
            sections=json.dumps(late, ensure_ascii=False),
        )  # fmt: skip
        try:
            with session.begin_nested():  # another process may have sent it just now
                session.add(row)
        except IntegrityError:
            continue
        facts = {
            "staff_id": chief.staff_id, "name": chief.name, "level": chief.level,
            "every": chief.every, "period_start": missed.isoformat(), "sections": late,
            "due_date": chief.due_date.isoformat(), "overdue_days": chief.overdue_days,
        }  # fmt: skip
        ledger.append(
            session=session, at=now, actor=ACTOR, action="river.duty_reminder",
            subject=f"staff:{chief.staff_id}", payload=facts,
        )  # fmt: skip
        staff = session.get(Staff, chief.staff_id)
        area = {"jurisdiction_code": staff.jurisdiction_code if staff else None}  # may_see
        queue_event(session.info, "river.duty_overdue", {"at": now.isoformat(), **facts, **area})
        sent.append(row)
    return sent


def run_once(ctx: AppContext) -> int:
    """One reminder pass in its own transaction; returns how many chiefs were reminded."""
    with unit_of_work(ctx) as session:
        return len(remind_overdue(session=session, settings=ctx.settings, now=ctx.clock.now()))


class DutyReminders(Periodic):
    """The reminder pass in a background thread, every ``river_duty_check_minutes``."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__("river-duty", ctx.settings.river_duty_check_minutes * 60.0)
        self.ctx = ctx

    def step(self) -> int:
        n = run_once(self.ctx)
        if n:
            log.info("river duty: reminded %d overdue chiefs", n)
        return n
