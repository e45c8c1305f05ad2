"""Reading the 河长制 registry: rivers, a river's sections as GeoJSON, one section's chiefs.

Scope (after ``auth/scope.py``): the city admin sees every section; other staff the sections whose
street lies in their jurisdiction (a street's staff that street, a dispatcher the district). A
river is listed when the caller sees at least one of its sections, with counts of those only.
Functions take the session explicitly and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.errors import NotFound
from cityops.registry.models import Department, Staff
from cityops.scenarios.river.models import ChiefAssignment, ChiefLevel, River, Section
from cityops.scenarios.river.schemas import (
    ChiefRead,
    DepartmentRef,
    RiverList,
    RiverRead,
    SectionRead,
)

_LEVEL_ORDER = {lvl: i for i, lvl in enumerate(ChiefLevel)}


def visible(user: Principal) -> ColumnElement[bool]:
    if user.is_city_wide:
        return true()
    if user.role == Role.resident or not user.scope_code:
        return Section.id.is_(None)  # nothing
    return Section.street_code.startswith(user.scope_code, autoescape=True)


def _vacant_sections() -> Any:
    return select(ChiefAssignment.section_id).where(ChiefAssignment.staff_id.is_(None))


def _river_read(river: River, sections: int, flagged: int) -> RiverRead:
    return RiverRead(
        code=river.code, name=river.name, kind=river.kind.value, parent_code=river.parent_code,
        length_km=river.length_km, basin_area_km2=river.basin_area_km2,
        sections=sections, flagged_sections=flagged,
    )  # fmt: skip


def list_rivers(*, session: Session, user: Principal) -> RiverList:
    """Rivers with at least one section the caller sees, by code."""
    flagged = Section.id.in_(_vacant_sections()) | Section.department_id.is_(None)
    rows = session.execute(
        select(
            River,
            func.count(Section.id),
            func.count(Section.id).filter(flagged),
        )
        .join(Section, Section.river_id == River.id)
        .where(visible(user))
        .group_by(River.id)
        .order_by(River.code)
    ).all()
    items = [_river_read(r, int(n), int(f)) for r, n, f in rows]
    return RiverList(items=items, total=len(items))


def _reads(session: Session, river: River, sections: Sequence[Section]) -> list[SectionRead]:
    ids = [s.id for s in sections]
    chiefs: dict[int, list[ChiefRead]] = {i: [] for i in ids}
    rows = session.execute(
        select(ChiefAssignment, Staff.name, Staff.role, Department.name)
        .outerjoin(Staff, ChiefAssignment.staff_id == Staff.id)
        .outerjoin(Department, Staff.department_id == Department.id)
        .where(ChiefAssignment.section_id.in_(ids))
    ).all()
    for a, name, role, unit in sorted(rows, key=lambda r: _LEVEL_ORDER[r[0].level]):
        chiefs[a.section_id].append(
            ChiefRead(
                level=a.level.value, staff_id=a.staff_id, name=name,
                role=role.value if role is not None else None, department=unit,
                since=a.since, vacant=a.staff_id is None,
            )
        )  # fmt: skip
    dept_ids = {s.department_id for s in sections if s.department_id is not None}
    depts = {
        d.id: DepartmentRef(id=d.id, code=d.code, name=d.name, type=d.type.value)
        for d in session.execute(select(Department).where(Department.id.in_(dept_ids))).scalars()
    }
    out = []
    for s in sections:
        vacant = [c.level for c in chiefs[s.id] if c.vacant]
        dept = depts.get(s.department_id) if s.department_id is not None else None
        out.append(
            SectionRead(
                code=s.code, name=s.name, river_code=river.code, river_name=river.name,
                district_code=s.district_code, street_code=s.street_code,
                target_class=s.target_class, water_body=s.water_body, length_km=s.length_km,
                department=dept, chiefs=chiefs[s.id], vacant_levels=vacant,
                flagged=bool(vacant) or dept is None, geometry=json.loads(s.geometry),
            )
        )  # fmt: skip
    return out


def river_features(*, session: Session, user: Principal, code: str) -> dict[str, Any]:
    """The river's visible sections as a GeoJSON FeatureCollection (404 ``river_not_found``)."""
    river = session.execute(select(River).where(River.code == code)).scalar_one_or_none()
    if river is None:
        raise NotFound(f"no river {code}", code="river_not_found")
    sections = list(
        session.execute(
            select(Section)
            .where(Section.river_id == river.id, visible(user))
            .order_by(Section.code)
        ).scalars()
    )
    reads = _reads(session, river, sections)
    features = []
    for r in reads:
        props = r.model_dump(mode="json", exclude={"geometry", "chiefs"})
        props["chiefs"] = {c.level: c.name for c in r.chiefs}
        features.append(
            {"type": "Feature", "id": r.code, "geometry": r.geometry, "properties": props}
        )
    flagged = sum(1 for r in reads if r.flagged)
    return {
        "type": "FeatureCollection",
        "river": _river_read(river, len(reads), flagged).model_dump(mode="json"),
        "features": features,
    }


def section_detail(*, session: Session, user: Principal, code: str) -> SectionRead:
    """One section with chiefs and department (404 ``section_not_found``; 403 outside scope)."""
    row = session.execute(
        select(Section, River).join(River, Section.river_id == River.id).where(Section.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no section {code}", code="section_not_found")
    section, river = row
    user.require_covers(section.street_code, f"section {code}")
    return _reads(session, river, [section])[0]
