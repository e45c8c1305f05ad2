"""A small, hand-made city for tests: one district, two streets, grids, departments, staff, users.

九龙坡区 500107 is a 0.02° square split into two streets (west 500107001, east 500107002), each one
community with four grids. A neighbour district 500157 lies to the east. Workers are always on duty
unless a test says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

import shapely
from shapely.geometry import box
from sqlalchemy import insert
from sqlalchemy.orm import Session

from cityops.auth.models import Role, User
from cityops.auth.scope import Principal
from cityops.auth.security import hash_password
from cityops.clock import Clock
from cityops.geo.models import Jurisdiction, Level
from cityops.registry.models import Component, Department, DepartmentType, Staff, StaffRole
from cityops.settings import Settings

X0, Y0 = 106.50, 29.50  # south-west corner of 九龙坡 in this toy map
SIDE = 0.02
PASSWORD = "correct-horse-42"
# Department types every street has at street level; the rest are district departments.
STREET_TYPES = [DepartmentType.street_office, DepartmentType.huanwei, DepartmentType.chengguan]


def _row(
    code: str, name: str, level: Level, parent: str | None, geom: shapely.Geometry
) -> dict[str, object]:
    minx, miny, maxx, maxy = geom.bounds
    c = geom.representative_point()
    return {
        "code": code,
        "name": name,
        "level": level,
        "parent_code": parent,
        "district_code": code[:6] if level is not Level.city else None,
        "street_code": code[:9] if len(code) >= 9 else None,
        "community_code": code[:12] if len(code) >= 12 else None,
        "geometry": shapely.to_wkb(geom),
        "min_lng": minx,
        "min_lat": miny,
        "max_lng": maxx,
        "max_lat": maxy,
        "center_lng": c.x,
        "center_lat": c.y,
        "area_m2": geom.area * 1.1e10,
        "valid_from": date(2020, 1, 1),
    }


@dataclass
class SmallCity:
    users: dict[str, Principal]
    departments: dict[tuple[str, DepartmentType], int]
    workers: dict[str, int]  # name → staff id


def map_rows() -> list[dict[str, object]]:
    rows = [_row("500000", "重庆市", Level.city, None, box(X0 - 0.1, Y0 - 0.1, X0 + 0.2, Y0 + 0.1))]
    for dcode, dname, dx in (("500107", "九龙坡区", 0.0), ("500157", "两江新区", SIDE)):
        d = box(X0 + dx, Y0, X0 + dx + SIDE, Y0 + SIDE)
        rows.append(_row(dcode, dname, Level.district, "500000", d))
        for s in range(2 if dcode == "500107" else 1):
            half = SIDE / (2 if dcode == "500107" else 1)
            sx = X0 + dx + s * half
            scode, ccode = f"{dcode}{s + 1:03d}", f"{dcode}{s + 1:03d}001"
            rows.append(
                _row(
                    scode,
                    f"{dname}街道{s + 1}",
                    Level.street,
                    dcode,
                    box(sx, Y0, sx + half, Y0 + SIDE),
                )
            )
            rows.append(
                _row(
                    ccode, f"社区{s + 1}", Level.community, scode, box(sx, Y0, sx + half, Y0 + SIDE)
                )
            )
            for g in range(4):
                gx, gy = sx + (g % 2) * half / 2, Y0 + (g // 2) * SIDE / 2
                rows.append(
                    _row(
                        f"{ccode}{g + 1:03d}",
                        f"网格{g + 1}",
                        Level.grid,
                        ccode,
                        box(gx, gy, gx + half / 2, gy + SIDE / 2),
                    )
                )
    return rows


def build(session: Session) -> SmallCity:
    session.execute(insert(Jurisdiction), map_rows())
    depts: dict[tuple[str, DepartmentType], int] = {}
    n = 0
    for street in ("500107001", "500107002", "500157001"):
        for t in STREET_TYPES:
            n += 1
            d = Department(
                code=f"D{n:03d}",
                name=f"{street}-{t.value}",
                type=t,
                jurisdiction_code=street,
                level="street",
                district_code=street[:6],
            )
            session.add(d)
            session.flush()
            depts[(street, t)] = d.id
    for district in ("500107", "500157"):
        for t in DepartmentType:
            n += 1
            d = Department(
                code=f"D{n:03d}",
                name=f"{district}-{t.value}",
                type=t,
                jurisdiction_code=district,
                level="district",
                district_code=district,
            )
            session.add(d)
            session.flush()
            depts[(district, t)] = d.id
    workers: dict[str, int] = {}

    def staff(
        name: str, role: StaffRole, dept: int | None, scope: str, lat: float, lng: float
    ) -> int:
        s = Staff(
            code=f"S{len(workers):03d}-{scope}",
            name=name,
            role=role,
            department_id=dept,
            jurisdiction_code=scope,
            district_code=scope[:6],
            street_code=scope[:9] if len(scope) >= 9 else None,
            shift_start=time(0, 0),
            shift_end=time(23, 59, 59),
            works_weekends=True,
            lat=lat,
            lng=lng,
        )
        session.add(s)
        session.flush()
        return s.id

    # Two 环卫 workers in the west street: near (south-west corner) and far (north-east corner).
    hw = depts[("500107001", DepartmentType.huanwei)]
    workers["near"] = staff("张近", StaffRole.worker, hw, "500107001", Y0 + 0.001, X0 + 0.001)
    workers["far"] = staff("李远", StaffRole.worker, hw, "500107001", Y0 + 0.019, X0 + 0.009)
    for street in ("500107001", "500107002", "500157001"):
        for t in [*STREET_TYPES[1:], DepartmentType.street_office]:
            if (street, t) != ("500107001", DepartmentType.huanwei):
                workers[f"{street}-{t.value}"] = staff(
                    f"工{street[-1]}{t.value[:2]}",
                    StaffRole.worker,
                    depts[(street, t)],
                    street,
                    Y0 + 0.01,
                    X0 + 0.01,
                )
    for t in DepartmentType:
        workers[f"500107-{t.value}"] = staff(
            f"区{t.value}", StaffRole.worker, depts[("500107", t)], "500107", Y0 + 0.01, X0 + 0.005
        )
    workers["inspector"] = inspector = staff(
        "王巡", StaffRole.inspector, None, "500107001", Y0 + 0.005, X0 + 0.005
    )

    users: dict[str, Principal] = {}
    for username, role, scope, staff_id in (
        ("admin", Role.city_admin, None, None),
        ("dispatcher", Role.district_dispatcher, "500107", None),
        ("other_dispatcher", Role.district_dispatcher, "500157", None),
        ("street", Role.street_staff, "500107001", None),
        ("street2", Role.street_staff, "500107002", None),
        ("worker", Role.field_worker, "500107001", workers["near"]),
        ("worker_far", Role.field_worker, "500107001", workers["far"]),
        ("inspector", Role.inspector, "500107001", inspector),
        ("resident", Role.resident, None, None),
        ("resident2", Role.resident, None, None),
    ):
        u = User(
            username=username,
            display_name=username,
            password_hash=HASH,
            role=role,
            scope_code=scope,
            staff_id=staff_id,
        )
        session.add(u)
        session.flush()
        users[username] = Principal(u.id, username, role, scope, staff_id)
    session.add(
        Component(
            ident="50010701002000001",
            name="污水井盖",
            category_code="01002",
            owner_department_id=depts[("500107", DepartmentType.shizheng)],
            grid_code="500107001001001",
            district_code="500107",
            street_code="500107001",
            lat=Y0 + 0.002,
            lng=X0 + 0.002,
        )
    )
    session.flush()
    return SmallCity(users, depts, workers)


HASH = hash_password(PASSWORD)


def rules_for(session: Session, clock: Clock, **settings: object) -> object:
    from cityops.cases.rules import build_rules
    from cityops.geo.service import load_index

    return build_rules(
        settings=Settings(**settings), clock=clock, index=load_index(session=session)
    )  # type: ignore[arg-type]
