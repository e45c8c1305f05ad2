"""Deadlines and escalation (督办): when a case must next be looked at, and what happens then.

The next check time is stored on the case (``next_check_at``), so the scheduler is durable
across restarts: it only ever asks the database which cases are due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.categories import TimeLimit
from cityops.cases.lifecycle import CLOCK_RUNNING
from cityops.cases.models import Case
from cityops.cases.plans import EscalationStep
from cityops.cases.rules import CaseRules


def _ladder(rules: CaseRules, case: Case) -> tuple[EscalationStep, ...]:
    res = rules.plans.resolve(
        category=rules.catalogue.get(case.category_code),
        district_code=case.district_code,
        street_code=case.street_code,
        has_owner=case.component_ident is not None,
    )
    return tuple(sorted(res.escalation, key=lambda s: s.at))


def next_step(rules: CaseRules, case: Case) -> EscalationStep | None:
    """The first step of the ladder that has not fired yet."""
    for step in _ladder(rules, case):
        if step.at < 1.0 and not case.near_overdue_warned:
            return step
        if step.at >= 1.0 and step.level > case.escalation_level:
            return step
    return None


def step_time(rules: CaseRules, case: Case, step: EscalationStep) -> datetime | None:
    """When ``step`` falls due: that fraction of the working time between dispatch and deadline."""
    if case.dispatched_at is None or case.deadline_at is None:
        return None
    total = rules.calendar.working_seconds(case.dispatched_at, case.deadline_at)
    return rules.calendar.deadline(case.dispatched_at, TimeLimit(step.at * total / 3600.0, "hour"))


def schedule_next_check(*, rules: CaseRules, case: Case) -> None:
    """Set ``next_check_at`` from the ladder (None when the clock is stopped or nothing is left)."""
    if case.status not in CLOCK_RUNNING:
        case.next_check_at = None
        return
    step = next_step(rules, case)
    case.next_check_at = step_time(rules, case, step) if step else None


@dataclass(frozen=True, slots=True)
class Due:
    case: Case
    step: EscalationStep


def due_cases(*, session: Session, rules: CaseRules, now: datetime, limit: int = 500) -> list[Due]:
    """Open cases whose next check has come (oldest first)."""
    rows = session.execute(
        select(Case)
        .where(Case.next_check_at.is_not(None), Case.next_check_at <= now)
        .order_by(Case.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars()
    due = []
    for case in rows:
        step = next_step(rules, case)
        if case.status in CLOCK_RUNNING and step is not None:
            due.append(Due(case, step))
        else:
            case.next_check_at = None
    return due
