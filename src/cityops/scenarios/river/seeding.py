"""Load the generated river network and appoint its 河长 from the organisation already seeded.

Who gets a post (least surprise, deterministic): among active staff whose jurisdiction is exactly
the level's area (the city 500000, the section's district, its street), a 领导 (leader) first, then
staff of the department that answers for water there (the district's 水务, the street's 街道办),
then 街镇工作人员, then the lowest id. Main rivers (长江, 嘉陵江, 乌江) also need a city-level
chief; every section needs district and street chiefs. Where nobody fits, the assignment is
stored with no staff: a vacancy the API flags, not an error. The responsible department is the
district's 水务 if it has one, else the street office (属地).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.geo.geojson import geometry_json
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.service import current_filter
from cityops.registry.models import Department, DepartmentType, Staff, StaffRole
from cityops.scenarios.river import network as net
from cityops.scenarios.river.models import ChiefAssignment, ChiefLevel, River, Section

CITY_CODE = "500000"


@dataclass(frozen=True, slots=True)
class NetworkMade:
    created: bool
    rivers: int
    sections: int
    vacancies: int


def street_areas(*, session: Session) -> list[net.StreetArea]:
    """The current street (镇街) polygons, in code order."""
    rows = session.execute(
        select(Jurisdiction.code, Jurisdiction.name, Jurisdiction.geometry)
        .where(Jurisdiction.level == Level.street, current_filter())
        .order_by(Jurisdiction.code)
    ).all()
    return [
        net.StreetArea(r.code, r.name, shapely.from_wkb(bytes(r.geometry)))
        for r in rows
        if r.geometry is not None
    ]


class _Picker:
    """Chooses chiefs and departments, remembering each area's answer."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._chiefs: dict[tuple[str, DepartmentType], int | None] = {}
        self._depts: dict[str, int | None] = {}

    def chief(self, area: str, prefer: DepartmentType) -> int | None:
        key = (area, prefer)
        if key not in self._chiefs:
            rows = self.session.execute(
                select(Staff.id, Staff.role, Department.type)
                .outerjoin(Department, Staff.department_id == Department.id)
                .where(Staff.jurisdiction_code == area, Staff.active.is_(True))
            ).all()
            ranked = sorted(
                rows,
                key=lambda r: (
                    r.role != StaffRole.leader,
                    r.type != prefer,
                    r.role != StaffRole.street_staff,
                    r.id,
                ),
            )
            self._chiefs[key] = ranked[0].id if ranked else None
        return self._chiefs[key]

    def department(self, district: str, street: str) -> int | None:
        key = f"{district}/{street}"
        if key not in self._depts:
            found = self.session.execute(
                select(Department.id)
                .where(
                    Department.active.is_(True),
                    (
                        (Department.type == DepartmentType.shuiwu)
                        & (Department.level == "district")
                        & (Department.jurisdiction_code == district)
                    )
                    | (
                        (Department.type == DepartmentType.street_office)
                        & (Department.jurisdiction_code == street)
                    ),
                )
                .order_by(Department.level != "district", Department.id)
                .limit(1)
            ).scalar_one_or_none()
            self._depts[key] = found
        return self._depts[key]


def _levels(river: net.RiverRecord) -> Sequence[ChiefLevel]:
    main = (ChiefLevel.city,) if river.main else ()
    return (*main, ChiefLevel.district, ChiefLevel.street)


def ensure_network(
    *,
    session: Session,
    seed: int,
    since: date | None = None,
    rivers: Sequence[net.RiverSpec] = net.CHONGQING_RIVERS,
    tributaries: Sequence[net.TributarySpec] = net.CHONGQING_TRIBUTARIES,
) -> NetworkMade:
    """Generate and store the network once; a second call only counts what is there."""
    existing = session.execute(select(func.count()).select_from(River)).scalar_one()
    if existing:
        return NetworkMade(False, existing, *_counts(session))
    built = net.build_network(
        seed=seed, streets=street_areas(session=session), rivers=rivers, tributaries=tributaries
    )
    since = since or datetime.now(UTC).date()
    pick = _Picker(session)
    ids: dict[str, int] = {}
    levels: dict[str, Sequence[ChiefLevel]] = {}
    for r in built.rivers:
        row = River(
            code=r.code, name=r.name, kind=r.kind, parent_code=r.parent_code,
            length_km=r.length_km, basin_area_km2=r.basin_km2,
        )  # fmt: skip
        session.add(row)
        session.flush()
        ids[r.code], levels[r.code] = row.id, _levels(r)
    for s in built.sections:
        sec = Section(
            code=s.code, river_id=ids[s.river_code], name=s.name,
            geometry=json.dumps(geometry_json(s.line), ensure_ascii=False),
            length_km=s.length_km, district_code=s.district_code, street_code=s.street_code,
            target_class=s.target_class, water_body=s.water_body,
            department_id=pick.department(s.district_code, s.street_code),
        )  # fmt: skip
        session.add(sec)
        session.flush()
        areas = {
            ChiefLevel.city: (CITY_CODE, DepartmentType.shuiwu),
            ChiefLevel.district: (s.district_code, DepartmentType.shuiwu),
            ChiefLevel.street: (s.street_code, DepartmentType.street_office),
        }
        for level in levels[s.river_code]:
            area, prefer = areas[level]
            session.add(
                ChiefAssignment(
                    section_id=sec.id, level=level, staff_id=pick.chief(area, prefer), since=since
                )
            )
    session.flush()
    return NetworkMade(True, len(built.rivers), *_counts(session))


def _counts(session: Session) -> tuple[int, int]:
    sections = session.execute(select(func.count()).select_from(Section)).scalar_one()
    vacant = session.execute(
        select(func.count()).select_from(ChiefAssignment).where(ChiefAssignment.staff_id.is_(None))
    ).scalar_one()
    return int(sections), int(vacant)
