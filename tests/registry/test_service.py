"""Registry service on both databases: filters, pages, positions, shifts, 部件."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.dispatch import is_on_duty
from cityops.errors import CityOpsError, Conflict, NotFound, ValidationFailed
from cityops.registry import components, service
from cityops.registry.models import Component, ComponentState, DepartmentType, Staff, StaffRole
from cityops.sim.org import build_components, build_org
from cityops.sim.org_load import load_org
from tests.registry.test_org import make_city

D1, D2 = "500101", "500102"
S11 = "500101001"


@pytest.fixture
def city(session: Session) -> Session:
    ds, ss, gs = make_city(districts=2, streets=3, grids=3)
    org = build_org(seed=9, districts=ds, streets=ss)
    comps = build_components(
        seed=9, grids=gs, departments_by_type=org.departments_by_type(), per_grid=6
    )
    load_org(session=session, org=org, components=comps)
    session.commit()
    return session


def _walk(fetch: object) -> list[object]:
    items: list[object] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)  # type: ignore[operator]
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_departments_by_prefix_and_type_page_through_all(city: Session) -> None:
    first = service.list_departments(session=city, within=D1, limit=5)
    everything = _walk(
        lambda c: service.list_departments(session=city, within=D1, cursor=c, limit=5)
    )
    assert first.total == len(everything) == 13 + 3 * 4  # district units + 4 per street
    assert len({d.id for d in everything}) == len(everything)  # type: ignore[attr-defined]
    assert all(d.jurisdiction_code.startswith(D1) for d in everything)  # type: ignore[attr-defined]
    street = service.list_departments(session=city, within=S11)
    assert {d.type for d in street.items} == {
        DepartmentType.street_office,
        DepartmentType.chengguan,
        DepartmentType.huanwei,
        DepartmentType.center,
    }
    typed = service.list_departments(session=city, type=DepartmentType.yuanlin)
    assert typed.total == 2 and typed.next_cursor is None


def test_find_department_is_exact(city: Session) -> None:
    found = service.find_department(
        session=city, type=DepartmentType.huanwei, jurisdiction_code=S11
    )
    assert found is not None and found.level == "street"
    assert (
        service.find_department(session=city, type=DepartmentType.yuanlin, jurisdiction_code=S11)
        is None
    )
    assert service.street_office(session=city, street_code="500101009") is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"cursor": "abc"}, "bad_cursor"),
        ({"limit": 0}, "bad_limit"),
        ({"within": "50%"}, "bad_jurisdiction_code"),
    ],
)
def test_bad_list_arguments(city: Session, kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.list_departments(session=city, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code


def test_staff_filters(city: Session) -> None:
    inspectors = service.list_staff(session=city, within=S11, role=StaffRole.inspector)
    assert inspectors.total == 2 and all(s.street_code == S11 for s in inspectors.items)
    dept = service.find_department(
        session=city, type=DepartmentType.chengguan, jurisdiction_code=S11
    )
    assert dept is not None
    members = service.list_staff(session=city, department_id=dept.id)
    assert members.total == 4 and {s.role for s in members.items} == {StaffRole.worker}


def test_on_duty_filter_agrees_with_dispatch_rule(session: Session) -> None:
    shifts = [(time(8, 30), time(17, 30)), (time(20, 0), time(8, 0)), (time(0, 0), time(0, 0))]
    combos = list(itertools.product(shifts, [False, True], [False, True]))
    for i, ((start, end), weekends, leave) in enumerate(combos):
        session.add(
            Staff(
                code=f"T{i}",
                name="测试",
                role=StaffRole.worker,
                jurisdiction_code=S11,
                shift_start=start,
                shift_end=end,
                works_weekends=weekends,
                on_leave=leave,
            )
        )
    session.commit()
    rows = {s.code: s for s in session.execute(select(Staff)).scalars()}
    for hour, minute in [(0, 30), (7, 59), (8, 0), (8, 30), (12, 0), (17, 30), (20, 0), (23, 0)]:
        at = datetime(2026, 11, 25, hour, minute)
        for workday, was_workday in itertools.product([True, False], repeat=2):
            page = service.list_staff(
                session=session,
                on_duty=True,
                local_now=at,
                is_workday=workday,
                was_workday=was_workday,
                limit=100,
            )
            got = {s.code for s in page.items}
            want = {
                code
                for code, s in rows.items()
                if is_on_duty(
                    shift_start=s.shift_start,
                    shift_end=s.shift_end,
                    works_weekends=s.works_weekends,
                    on_leave=s.on_leave,
                    local_now=at,
                    is_workday=workday,
                    previous_is_workday=was_workday,
                )
            }
            assert got == want, (at, workday, was_workday)


def test_position_update_keeps_the_newest_fix(city: Session) -> None:
    worker = city.execute(select(Staff).where(Staff.role == StaffRole.worker)).scalars().first()
    assert worker is not None
    t0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    service.update_position(session=city, staff_id=worker.id, lat=29.55, lng=106.5, at=t0)
    service.update_position(
        session=city, staff_id=worker.id, lat=29.0, lng=106.0, at=t0 - timedelta(minutes=1)
    )
    city.commit()
    again = service.get_staff(session=city, staff_id=worker.id)
    assert (again.lat, again.lng, again.position_at) == (29.55, 106.5, t0)
    with pytest.raises(ValidationFailed) as err:
        service.update_position(session=city, staff_id=worker.id, lat=91, lng=0, at=t0)
    assert err.value.code == "bad_position"
    with pytest.raises(NotFound):
        service.update_position(session=city, staff_id=10**6, lat=1, lng=1, at=t0)


def test_worker_candidates_are_the_departments_active_workers(city: Session) -> None:
    dept = service.find_department(session=city, type=DepartmentType.huanwei, jurisdiction_code=S11)
    assert dept is not None
    staff = list(
        city.execute(
            select(Staff).where(Staff.department_id == dept.id).order_by(Staff.id)
        ).scalars()
    )
    staff[0].on_leave = True
    staff[1].active = False
    staff[3].open_cases = 5
    city.commit()
    got = service.worker_candidates(
        session=city, department_id=dept.id, local_now=datetime(2026, 11, 25, 9, 0), is_workday=True
    )
    assert [s.id for s in got] == [staff[2].id, staff[3].id]
    assert all(s.shift_start is not None for s in got)


def test_components_get_near_and_state(city: Session) -> None:
    with pytest.raises(ValidationFailed) as err:
        components.get_component(session=city, ident="12345")
    assert err.value.code == "bad_component_ident"
    with pytest.raises(NotFound):
        components.get_component(session=city, ident="50010101001999999")
    some = city.execute(select(Component).order_by(Component.id)).scalars().first()
    assert some is not None
    hits = components.components_near(session=city, lat=some.lat, lng=some.lng, radius_m=300)
    assert hits[0][0].ident == some.ident and hits[0][1] == pytest.approx(0, abs=0.01)
    assert [d for _, d in hits] == sorted(d for _, d in hits) and all(d <= 300 for _, d in hits)
    everything = city.execute(select(Component)).scalars().all()
    truth = {
        c.ident
        for c in everything
        if components.distance_m(some.lat, some.lng, c.lat, c.lng) <= 300
    }
    assert {
        c.ident
        for c, _ in components.components_near(
            session=city, lat=some.lat, lng=some.lng, radius_m=300, limit=500
        )
    } == truth
    changed = components.set_component_state(
        session=city, ident=some.ident, state=ComponentState.damaged
    )
    assert changed.state == ComponentState.damaged
    in_street = components.list_components(session=city, within=S11, limit=500)
    assert in_street.total > 0 and all(c.street_code == S11 for c in in_street.items)


def test_create_component_assigns_the_next_ident_and_refuses_bad_ones(city: Session) -> None:
    top = max(
        c.ident
        for c in city.execute(
            select(Component).where(Component.ident.startswith(D2 + "01037"))
        ).scalars()
    )
    made = components.create_component(
        session=city,
        name="路灯",
        category_code="01037",
        lat=29.55,
        lng=106.55,
        street_code="500102001",
    )
    assert made.ident == f"{D2}01037{int(top[11:]) + 1:06d}" and made.district_code == D2
    bad: list[tuple[dict[str, object], type[CityOpsError], str]] = [
        ({"ident": made.ident}, Conflict, "duplicate_component"),
        ({"ident": "50010201001000001"}, ValidationFailed, "component_ident_mismatch"),
        ({"ident": "5001020103700000x"}, ValidationFailed, "bad_component_ident"),
        ({"category_code": "1037"}, ValidationFailed, "bad_category"),
        (
            {"street_code": "500101001", "district_code": D2},
            ValidationFailed,
            "bad_jurisdiction_code",
        ),
        ({"lat": 200.0}, ValidationFailed, "bad_position"),
        ({"owner_department_id": 10**6}, NotFound, "department_not_found"),
    ]
    for override, kind, code in bad:
        kwargs: dict[str, object] = {
            "name": "路灯",
            "category_code": "01037",
            "lat": 29.5,
            "lng": 106.5,
            "district_code": D2,
            **override,
        }
        with pytest.raises(kind) as err:
            components.create_component(session=city, **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code, override
