"""Dispatch (派遣): the responsible department by plan, and the worker by the pure choice.

The choice and its reasons are recorded on the case and in the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.cases.dispatch import Candidate, choose_worker, is_on_duty
from cityops.cases.models import Case
from cityops.cases.rules import CaseRules
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import Component, Department, Staff, StaffRole


@dataclass(frozen=True, slots=True)
class Assignment:
    department_id: int
    handling_level: str
    worker_id: int | None
    reasons: dict[str, object]


def _department(
    session: Session, rules: CaseRules, case: Case
) -> tuple[Department, str, list[str]]:
    category = rules.catalogue.get(case.category_code)
    owner: Department | None = None
    if case.component_ident:
        owner_id = session.execute(
            select(Component.owner_department_id).where(Component.ident == case.component_ident)
        ).scalar_one_or_none()
        owner = session.get(Department, owner_id) if owner_id else None
    res = rules.plans.resolve(
        category=category,
        district_code=case.district_code,
        street_code=case.street_code,
        has_owner=owner is not None,
    )
    reasons = [f"预案 plan {res.plan_id}", *res.reasons]
    if owner is not None and res.responsibility == "owner_first":
        reasons.append(f"先属主: 部件权属 {owner.name}")
        return owner, owner.level, reasons
    scope = case.street_code if res.handling_level == "street" else case.district_code
    dept = (
        session.execute(
            select(Department).where(
                Department.type == res.department_type,
                Department.jurisdiction_code == scope,
                Department.active.is_(True),
            )
        )
        .scalars()
        .first()
    )
    if dept is not None:
        reasons.append(f"属地 {res.handling_level}: {dept.name}")
        return dept, res.handling_level, reasons
    fallback = (
        session.execute(
            select(Department).where(
                Department.jurisdiction_code == case.street_code, Department.type == "street_office"
            )
        )
        .scalars()
        .first()
    )
    if fallback is None:
        raise NotFound(f"no responsible department for {case.street_code}", code="no_department")
    reasons.append(f"属地兜底 territorial fallback: {fallback.name}")
    return fallback, "street", reasons


def _candidates(
    session: Session, rules: CaseRules, department_id: int, at: datetime
) -> list[Candidate]:
    local = at.astimezone(rules.settings.tz)
    workday = rules.calendar.is_workday(local.date())
    rows = session.execute(
        select(Staff).where(
            Staff.department_id == department_id,
            Staff.role == StaffRole.worker,
            Staff.active.is_(True),
        )
    ).scalars()
    return [
        Candidate(
            staff_id=s.id,
            department_id=s.department_id,
            lat=s.lat,
            lng=s.lng,
            on_duty=is_on_duty(
                shift_start=s.shift_start,
                shift_end=s.shift_end,
                works_weekends=s.works_weekends,
                on_leave=s.on_leave,
                local_now=local,
                is_workday=workday,
            ),
            open_cases=s.open_cases,
            name=s.name,
        )
        for s in rows
    ]


def assign(
    *,
    session: Session,
    rules: CaseRules,
    case: Case,
    at: datetime,
    department_id: int | None = None,
    worker_id: int | None = None,
) -> Assignment:
    """Choose department and worker (or check the dispatcher's own choice)."""
    if department_id is not None:
        dept = session.get(Department, department_id)
        if dept is None or not dept.active:
            raise ValidationFailed(
                f"department {department_id} does not exist", code="unknown_department"
            )
        level, why = dept.level, ["派遣员指定 chosen by the dispatcher"]
    else:
        dept, level, why = _department(session, rules, case)
    candidates = _candidates(session, rules, dept.id, at)
    reasons: dict[str, object] = {"department": why}
    if worker_id is not None:
        if not any(c.staff_id == worker_id for c in candidates):
            raise ValidationFailed(
                f"worker {worker_id} is not a worker of {dept.name}", code="unknown_worker"
            )
        reasons["worker"] = ["派遣员指定 chosen by the dispatcher"]
        return Assignment(dept.id, level, worker_id, reasons)
    choice = choose_worker(candidates=candidates, lat=case.lat, lng=case.lng)
    if choice is None:
        reasons["worker"] = [f"无在岗人员 no worker on duty among {len(candidates)}; 部门待分配"]
        return Assignment(dept.id, level, None, reasons)
    reasons["worker"] = list(choice.reasons)
    return Assignment(dept.id, level, choice.staff_id, reasons)


def apply_assignment(*, session: Session, case: Case, assignment: Assignment) -> None:
    """Put the assignment on the case and count it against the worker's open work."""
    release_worker(session=session, case=case)
    case.department_id = assignment.department_id
    case.handling_level = assignment.handling_level
    case.worker_id = assignment.worker_id
    case.dispatch_reason = json.dumps(assignment.reasons, ensure_ascii=False)
    if assignment.worker_id is not None:
        session.execute(
            update(Staff)
            .where(Staff.id == assignment.worker_id)
            .values(open_cases=Staff.open_cases + 1)
        )


def release_worker(*, session: Session, case: Case) -> None:
    """The worker's open work no longer includes this case."""
    if case.worker_id is not None:
        session.execute(
            update(Staff)
            .where(Staff.id == case.worker_id, Staff.open_cases > 0)
            .values(open_cases=Staff.open_cases - 1)
        )


def hold_worker(*, session: Session, case: Case) -> None:
    """The case is back on the worker's list (rework)."""
    if case.worker_id is not None:
        session.execute(
            update(Staff).where(Staff.id == case.worker_id).values(open_cases=Staff.open_cases + 1)
        )
