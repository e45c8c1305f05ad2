"""Dispatch (派遣): the responsible department by plan, and the worker by the pure choice.

The choice and its reasons are recorded on the case and in the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
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


@dataclass(frozen=True, slots=True)
class DeptEntry:
    id: int
    level: str
    name: str


class DepartmentDirectory:
    """Active departments by (type, jurisdiction code), read once per loaded rules.

    Departments change rarely; whoever changes them calls ``cases.runtime.invalidate``.
    """

    def __init__(self, session: Session) -> None:
        self.by_key: dict[tuple[str, str], DeptEntry] = {}
        self.by_id: dict[int, DeptEntry] = {}
        rows = session.execute(
            select(
                Department.id,
                Department.type,
                Department.jurisdiction_code,
                Department.level,
                Department.name,
            )
            .where(Department.active.is_(True))
            .order_by(Department.id)
        )
        for dept_id, dtype, code, level, name in rows:
            entry = DeptEntry(dept_id, level, name)
            self.by_key.setdefault((str(dtype), code), entry)
            self.by_id[dept_id] = entry

    def find(self, dept_type: str, code: str) -> DeptEntry | None:
        return self.by_key.get((dept_type, code))


def directory(session: Session, rules: CaseRules) -> DepartmentDirectory:
    found = rules.extras.get("departments")
    if found is None:
        found = rules.extras["departments"] = DepartmentDirectory(session)
    assert isinstance(found, DepartmentDirectory)
    return found


def owner_of(session: Session, rules: CaseRules, ident: str | None) -> DeptEntry | None:
    """The owning department (权属/主管) of a component, if known."""
    if not ident:
        return None
    owner_id = session.execute(
        select(Component.owner_department_id).where(Component.ident == ident)
    ).scalar_one_or_none()
    return directory(session, rules).by_id.get(owner_id) if owner_id else None


def responsible(
    session: Session, rules: CaseRules, case: Case, owner: DeptEntry | None
) -> tuple[DeptEntry, str, list[str]]:
    """先属主后属地 / 先属地后属主 by plan, then 属地兜底 to the street office."""
    category = rules.catalogue.get(case.category_code)
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
    dirs = directory(session, rules)
    scope = case.street_code if res.handling_level == "street" else case.district_code
    dept = dirs.find(res.department_type.value, scope)
    if dept is not None:
        reasons.append(f"属地 {res.handling_level}: {dept.name}")
        return dept, res.handling_level, reasons
    fallback = dirs.find("street_office", case.street_code)
    if fallback is None:
        raise NotFound(f"no responsible department for {case.street_code}", code="no_department")
    reasons.append(f"属地兜底 territorial fallback: {fallback.name}")
    return fallback, "street", reasons


_STAFF = cast(Table, Staff.__table__)
# Built once (the departments are a parameter): a statement built per batch cost more Python
# than SQLite's answer to it.
_WORKERS = (
    select(
        _STAFF.c.id,
        _STAFF.c.department_id,
        _STAFF.c.lat,
        _STAFF.c.lng,
        _STAFF.c.shift_start,
        _STAFF.c.shift_end,
        _STAFF.c.works_weekends,
        _STAFF.c.on_leave,
        _STAFF.c.open_cases,
        _STAFF.c.name,
    )
    .where(
        _STAFF.c.department_id.in_(bindparam("departments", expanding=True)),
        _STAFF.c.role == StaffRole.worker,
        _STAFF.c.active.is_(True),
    )
    .order_by(_STAFF.c.id)
)


def candidates(
    session: Session, rules: CaseRules, department_ids: list[int], at: datetime
) -> dict[int, list[Candidate]]:
    """Field workers of these departments with their on-duty state now (one query)."""
    local = at.astimezone(rules.settings.tz)
    workday = rules.calendar.is_workday(local.date())
    yesterday = rules.calendar.is_workday(local.date() - timedelta(days=1))
    rows = session.execute(_WORKERS, {"departments": department_ids})
    out: dict[int, list[Candidate]] = {d: [] for d in department_ids}
    for sid, dept, lat, lng, start, end, weekends, leave, open_cases, name in rows:
        if dept is None:
            continue
        duty = is_on_duty(
            shift_start=start,
            shift_end=end,
            works_weekends=weekends,
            on_leave=leave,
            local_now=local,
            is_workday=workday,
            previous_is_workday=yesterday,
        )
        out[dept].append(
            Candidate(
                staff_id=sid,
                department_id=dept,
                lat=lat,
                lng=lng,
                on_duty=duty,
                open_cases=open_cases,
                name=name,
            )
        )
    return out


def pick(
    pool: list[Candidate], dept: DeptEntry, level: str, why: list[str], lat: float, lng: float
) -> Assignment:
    """Choose in ``pool`` and count the case against the chosen worker (in the pool too)."""
    reasons: dict[str, object] = {"department": why}
    choice = choose_worker(candidates=pool, lat=lat, lng=lng)
    if choice is None:
        reasons["worker"] = [f"无在岗人员 no worker on duty among {len(pool)}; 部门待分配"]
        return Assignment(dept.id, level, None, reasons)
    reasons["worker"] = list(choice.reasons)
    for i, c in enumerate(pool):
        if c.staff_id == choice.staff_id:
            pool[i] = replace(c, open_cases=c.open_cases + 1)
    return Assignment(dept.id, level, choice.staff_id, reasons)


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
        chosen = directory(session, rules).by_id.get(department_id)
        if chosen is None:
            raise ValidationFailed(
                f"department {department_id} does not exist", code="unknown_department"
            )
        dept, level, why = chosen, chosen.level, ["派遣员指定 chosen by the dispatcher"]
    else:
        dept, level, why = responsible(
            session, rules, case, owner_of(session, rules, case.component_ident)
        )
    pool = candidates(session, rules, [dept.id], at)[dept.id]
    if worker_id is not None:
        if not any(c.staff_id == worker_id for c in pool):
            raise ValidationFailed(
                f"worker {worker_id} is not a worker of {dept.name}", code="unknown_worker"
            )
        return Assignment(
            dept.id,
            level,
            worker_id,
            {"department": why, "worker": ["派遣员指定 chosen by the dispatcher"]},
        )
    return pick(pool, dept, level, why, case.lat, case.lng)


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
