"""The synthetic organisation: deterministic, complete, with sane shifts and valid 部件 idents."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.models import Role, User
from cityops.auth.service import authenticate
from cityops.cases.dispatch import is_on_duty
from cityops.errors import ValidationFailed
from cityops.registry import service
from cityops.registry.models import Component, Department, DepartmentType, Staff, StaffRole
from cityops.sim.org import (
    COMPONENT_KINDS,
    DistrictInput,
    GridInput,
    OrgRecords,
    StreetInput,
    build_components,
    build_org,
    demo_users,
)
from cityops.sim.org_load import load_org

DISTRICT_TYPES = set(DepartmentType) - {DepartmentType.street_office}
STREET_NAMES = ["观音桥街道", "华新街街道", "五里店街道", "鱼嘴镇", "复盛镇"]


def make_city(
    *, districts: int = 2, streets: int = 3, grids: int = 4
) -> tuple[list[DistrictInput], list[StreetInput], list[GridInput]]:
    """A toy city of districts 500101.., each a 0.1° box cut into street columns and grid rows."""
    ds: list[DistrictInput] = []
    ss: list[StreetInput] = []
    gs: list[GridInput] = []
    for i in range(districts):
        code = f"5001{i + 1:02d}"
        x0, y0 = 106.4 + i * 0.1, 29.5
        ds.append(
            DistrictInput(code, f"区{i + 1}", y0 + 0.05, x0 + 0.05, (x0, y0, x0 + 0.1, y0 + 0.1))
        )
        w = 0.1 / streets
        for j in range(streets):
            scode = f"{code}{j + 1:03d}"
            sx = x0 + j * w
            ss.append(
                StreetInput(
                    scode,
                    STREET_NAMES[j % len(STREET_NAMES)],
                    y0 + 0.05,
                    sx + w / 2,
                    (sx, y0, sx + w, y0 + 0.1),
                )
            )
            h = 0.1 / grids
            for k in range(grids):
                gy = y0 + k * h
                gs.append(
                    GridInput(
                        f"{scode}001{k + 1:03d}", gy + h / 2, sx + w / 2, (sx, gy, sx + w, gy + h)
                    )
                )
    return ds, ss, gs


def test_same_seed_same_org_and_components() -> None:
    ds, ss, gs = make_city()
    a, b = build_org(seed=7, districts=ds, streets=ss), build_org(seed=7, districts=ds, streets=ss)
    assert a == b
    ca = build_components(seed=7, grids=gs, departments_by_type=a.departments_by_type())
    cb = build_components(seed=7, grids=gs, departments_by_type=b.departments_by_type())
    assert ca == cb
    other = build_org(seed=8, districts=ds, streets=ss)
    assert [s.name for s in other.staff] != [s.name for s in a.staff]


def test_adding_a_district_keeps_the_others_unchanged() -> None:
    ds, ss, _ = make_city(districts=2)
    one = build_org(
        seed=1, districts=ds[:1], streets=[s for s in ss if s.code.startswith(ds[0].code)]
    )
    two = build_org(seed=1, districts=ds, streets=ss)
    assert [s for s in two.staff if s.district_code == ds[0].code] == one.staff


def test_every_street_has_an_office_and_every_district_every_department_type() -> None:
    ds, ss, _ = make_city(districts=2, streets=4)
    org = build_org(seed=3, districts=ds, streets=ss)
    by_type = org.departments_by_type()
    for s in ss:
        assert DepartmentType.street_office in by_type[s.code]
    for d in ds:
        assert set(by_type[d.code]) == DISTRICT_TYPES
    towns = [
        d for d in org.departments if d.type == DepartmentType.street_office and "镇" in d.name
    ]
    assert towns and all(d.name.endswith("人民政府") for d in towns)


def test_codes_are_unique_and_hierarchical() -> None:
    ds, ss, _ = make_city()
    org = build_org(seed=3, districts=ds, streets=ss)
    dept_codes = [d.code for d in org.departments]
    staff_codes = [s.code for s in org.staff]
    assert len(set(dept_codes)) == len(dept_codes)
    assert len(set(staff_codes)) == len(staff_codes)
    assert all(re.fullmatch(r"\d{6}(\d{3})?-[A-Z]{2}-\d{3}", c) for c in dept_codes)
    depts = {d.code: d for d in org.departments}
    for s in org.staff:
        dept = depts[s.department_code]
        assert s.jurisdiction_code.startswith(dept.district_code)
        assert s.street_code is None or s.street_code.startswith(s.district_code)
        assert re.fullmatch(r"1[35789]\d{9}", s.phone)
        assert all(len(ch) == 1 for ch in s.name[:1]) and 2 <= len(s.name) <= 3


def test_staff_stand_inside_their_street() -> None:
    ds, ss, _ = make_city()
    org = build_org(seed=5, districts=ds, streets=ss)
    boxes = {s.code: s.bbox for s in ss}
    for s in org.staff:
        if s.street_code is not None:
            min_lng, min_lat, max_lng, max_lat = boxes[s.street_code]
            assert min_lat <= s.lat <= max_lat and min_lng <= s.lng <= max_lng


def _on_duty(org: OrgRecords, district: str, role: StaffRole, at: datetime, workday: bool) -> int:
    return sum(
        1
        for s in org.staff
        if s.district_code == district
        and s.role == role
        and is_on_duty(
            shift_start=s.shift_start,
            shift_end=s.shift_end,
            works_weekends=s.works_weekends,
            on_leave=False,
            local_now=at,
            is_workday=workday,
            previous_is_workday=workday,
        )
    )


def test_shifts_are_sane_and_the_centre_is_staffed_around_the_clock() -> None:
    ds, ss, _ = make_city(districts=1)
    org = build_org(seed=11, districts=ds, streets=ss)
    assert all(s.shift_start != s.shift_end for s in org.staff)
    for s in org.staff:
        start = s.shift_start.hour * 60 + s.shift_start.minute
        end = s.shift_end.hour * 60 + s.shift_end.minute
        assert 8 * 60 <= (end - start) % (24 * 60) <= 12 * 60, s
    assert any(s.shift_start > s.shift_end for s in org.staff), "some overnight shifts"
    assert any(s.role == StaffRole.worker and s.works_weekends for s in org.staff)
    start = datetime(2026, 11, 28, 0, 30)  # a Saturday; check a weekend and a workday
    for hour in range(48):
        at = start + timedelta(hours=hour)
        workday = at.weekday() < 5
        for role in (StaffRole.acceptor, StaffRole.shift_leader, StaffRole.dispatcher):
            assert _on_duty(org, ds[0].code, role, at, workday) >= 1, (role, at)
    weekday_10am = datetime(2026, 11, 25, 10, 0)
    for s in ss:
        street_workers = [
            w for w in org.staff if w.street_code == s.code and w.role == StaffRole.worker
        ]
        assert any(
            is_on_duty(
                shift_start=w.shift_start,
                shift_end=w.shift_end,
                works_weekends=False,
                on_leave=False,
                local_now=weekday_10am,
                is_workday=True,
            )
            for w in street_workers
        )


def test_component_idents_are_unique_17_digits_with_county_and_class() -> None:
    ds, ss, gs = make_city(districts=2, streets=3, grids=5)
    org = build_org(seed=2, districts=ds, streets=ss)
    comps = build_components(
        seed=2, grids=gs, departments_by_type=org.departments_by_type(), per_grid=40
    )
    assert len(comps) == 40 * len(gs)
    idents = [c.ident for c in comps]
    assert len(set(idents)) == len(idents)
    owner_type = {k[0]: k[2] for k in COMPONENT_KINDS}
    depts = {d.code: d for d in org.departments}
    boxes = {g.code: g.bbox for g in gs}
    for c in comps:
        assert re.fullmatch(r"\d{17}", c.ident)
        assert c.ident[:6] == c.district_code == c.grid_code[:6]
        assert c.ident[6:11] == c.category_code
        assert c.owner_department_code is not None
        owner = depts[c.owner_department_code]
        assert owner.type == owner_type[c.category_code] and owner.district_code == c.district_code
        min_lng, min_lat, max_lng, max_lat = boxes[c.grid_code]
        assert min_lat <= c.lat <= max_lat and min_lng <= c.lng <= max_lng
    kinds = Counter(c.category_code for c in comps)
    assert kinds["04002"] > kinds["03001"]  # street trees are far commoner than toilets
    assert {"01001", "01037", "03005"} <= set(kinds)


def test_demo_users_point_at_real_staff() -> None:
    ds, ss, _ = make_city(districts=1)
    org = build_org(seed=1, districts=ds, streets=ss)
    users = demo_users(password="demo-pass-1", district_code=ds[0].code, street_code=ss[0].code)
    assert [u.username for u in users] == ["admin", "dispatcher", "worker", "inspector", "resident"]
    staff = {s.code: s for s in org.staff}
    roles = {u.username: staff[u.staff_code].role for u in users if u.staff_code}
    assert roles == {
        "dispatcher": StaffRole.dispatcher,
        "worker": StaffRole.worker,
        "inspector": StaffRole.inspector,
    }
    assert staff[users[2].staff_code or ""].street_code == ss[0].code


def test_street_outside_the_given_districts_is_refused() -> None:
    ds, ss, _ = make_city(districts=1)
    stray = StreetInput("500199001", "无主街道", 29.5, 106.5, (106.4, 29.4, 106.6, 29.6))
    with pytest.raises(ValidationFailed) as err:
        build_org(seed=1, districts=ds, streets=[*ss, stray])
    assert err.value.code == "bad_street"


def test_load_org_inserts_everything_and_links_accounts(session: Session) -> None:
    ds, ss, gs = make_city(districts=2, streets=2, grids=3)
    org = build_org(seed=4, districts=ds, streets=ss)
    comps = build_components(seed=4, grids=gs, departments_by_type=org.departments_by_type())
    users = demo_users(password="demo-pass-1", district_code=ds[0].code, street_code=ss[0].code)
    result = load_org(session=session, org=org, components=comps, users=users, batch=7)
    session.commit()
    assert (result.departments, result.staff, result.components, result.users) == (
        len(org.departments),
        len(org.staff),
        len(comps),
        5,
    )
    assert session.scalar(select(func.count()).select_from(Component)) == len(comps)
    for s in ss:
        office = service.street_office(session=session, street_code=s.code)
        assert office is not None and office.jurisdiction_code == s.code
    lights = service.find_department(
        session=session, type=DepartmentType.shizheng, jurisdiction_code=ds[1].code
    )
    assert lights is not None and lights.code == f"{ds[1].code}-SZ-001"
    worker = authenticate(session=session, username="worker", password="demo-pass-1")
    assert worker is not None and worker.role == Role.field_worker and worker.staff_id is not None
    linked = session.get(Staff, worker.staff_id)
    assert linked is not None and linked.street_code == ss[0].code
    assert session.scalar(select(func.count()).select_from(User)) == 5
    a_cover = (
        session.execute(select(Component).where(Component.category_code == comps[0].category_code))
        .scalars()
        .first()
    )
    assert a_cover is not None and a_cover.owner_department_id is not None
    assert session.get(Department, a_cover.owner_department_id) is not None
