"""Registry over HTTP: every list and record is scoped to the caller's jurisdiction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.api import errors
from cityops.api.context import AppContext
from cityops.auth.models import Role, User
from cityops.auth.security import issue_token
from cityops.auth.service import create_user
from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.ledger.models import LedgerEntry
from cityops.registry import api as registry_api
from cityops.registry.models import Component, Staff
from cityops.settings import Settings
from cityops.sim.org import build_components, build_org, inspector_code
from cityops.sim.org_load import load_org
from tests.registry.test_org import make_city

SECRET = "test-secret-registry-0123456789abcdef"
D1, S11, S12, D2 = "500101", "500101001", "500101002", "500102"


@pytest.fixture
def client(
    engine: Engine, session_factory: sessionmaker[Session], clock: FakeClock
) -> Iterator[TestClient]:
    ds, ss, gs = make_city(districts=2, streets=2, grids=2)
    org = build_org(seed=5, districts=ds, streets=ss)
    comps = build_components(
        seed=5, grids=gs, departments_by_type=org.departments_by_type(), per_grid=5
    )
    with session_factory.begin() as s:
        load_org(session=s, org=org, components=comps)
        staff = {code: id_ for code, id_ in s.execute(select(Staff.code, Staff.id))}
        accounts = [
            ("admin", Role.city_admin, None, None),
            ("disp", Role.district_dispatcher, D1, None),
            ("disp2", Role.district_dispatcher, D2, None),
            ("street", Role.street_staff, S11, None),
            ("worker", Role.field_worker, S11, staff[f"{S11}-CG-001-001"]),
            ("worker2", Role.field_worker, S11, staff[f"{S11}-CG-001-002"]),
            ("insp", Role.inspector, S11, staff[inspector_code(S11, 1)]),
            ("resident", Role.resident, None, None),
        ]
        for name, role, scope, staff_id in accounts:
            create_user(
                session=s,
                username=name,
                password="password-1",
                role=role,
                scope_code=scope,
                display_name=name,
                staff_id=staff_id,
            )
    ctx = AppContext(
        settings=Settings(secret_key=SECRET),
        engine=engine,
        sessions=session_factory,
        bus=MemoryBus(),
        clock=clock,
    )
    app = FastAPI()
    app.state.ctx = ctx
    errors.install(app)
    v1 = APIRouter(prefix="/api/v1")
    v1.include_router(registry_api.router)
    app.include_router(v1)
    with TestClient(app) as c:
        yield c


def auth(client: TestClient, username: str) -> dict[str, str]:
    factory: sessionmaker[Session] = client.app.state.ctx.sessions  # type: ignore[attr-defined]
    with factory() as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one()
        token = issue_token(
            secret=SECRET, user_id=user.id, role=user.role.value, now=datetime.now(UTC), minutes=10
        )
    return {"Authorization": f"Bearer {token}"}


def get(client: TestClient, who: str, url: str, **params: Any) -> Any:
    return client.get(f"/api/v1{url}", params=params, headers=auth(client, who))


def all_items(client: TestClient, who: str, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = get(client, who, url, limit=20, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def test_departments_are_scoped(client: TestClient) -> None:
    every = all_items(client, "admin", "/departments")
    district = all_items(client, "disp", "/departments")
    street = all_items(client, "street", "/departments")
    assert len(every) == 2 * (13 + 2 * 4)
    assert len(district) == 13 + 2 * 4 and all(
        d["jurisdiction_code"].startswith(D1) for d in district
    )
    assert len(street) == 4 and {d["jurisdiction_code"] for d in street} == {S11}
    narrowed = all_items(client, "disp", "/departments", jurisdiction=S12)
    assert {d["jurisdiction_code"] for d in narrowed} == {S12}
    assert {d["id"] for d in all_items(client, "street", "/departments", jurisdiction=D1)} == {
        d["id"] for d in street
    }


def test_outside_scope_is_forbidden(client: TestClient) -> None:
    r = get(client, "street", "/departments", jurisdiction=S12)
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    other = all_items(client, "admin", "/departments", jurisdiction=D2)[0]
    r = get(client, "disp", f"/departments/{other['id']}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = get(client, "disp", "/departments", jurisdiction="5001%")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_jurisdiction_code"


def test_residents_cannot_list_staff(client: TestClient) -> None:
    r = get(client, "resident", "/staff")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    assert client.get("/api/v1/staff").status_code == 401


def test_staff_lists_and_on_duty(client: TestClient) -> None:
    street = all_items(client, "street", "/staff")
    assert street and all(s["jurisdiction_code"] == S11 for s in street)
    # Wednesday 09:00: day shifts and the day rota are on, the night rota is not.
    on = all_items(client, "disp", "/staff", on_duty="true", role="dispatcher")
    off = all_items(client, "disp", "/staff", on_duty="false", role="dispatcher")
    assert len(on) == 2 and len(off) == 2
    assert all(s["shift_start"] == "08:00:00" for s in on)
    r = get(client, "street", f"/staff/{off[0]['id']}")
    assert r.status_code == 403


def test_worker_reports_own_position_only(client: TestClient) -> None:
    staff = {s["code"]: s for s in all_items(client, "admin", "/staff", jurisdiction=S11)}
    me, mate = staff[f"{S11}-CG-001-001"], staff[f"{S11}-CG-001-002"]
    body = {"lat": 29.56, "lng": 106.42}
    r = client.put(f"/api/v1/staff/{me['id']}/position", json=body, headers=auth(client, "worker"))
    assert r.status_code == 200 and r.json()["position"] == body
    r = client.put(
        f"/api/v1/staff/{mate['id']}/position", json=body, headers=auth(client, "worker")
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = client.put(f"/api/v1/staff/{mate['id']}/position", json=body, headers=auth(client, "disp"))
    assert r.status_code == 200
    r = client.put(f"/api/v1/staff/{mate['id']}/position", json=body, headers=auth(client, "disp2"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    r = client.put(
        f"/api/v1/staff/{me['id']}/position",
        json={**body, "at": future},
        headers=auth(client, "worker"),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "position_in_future"
    r = client.put(
        f"/api/v1/staff/{me['id']}/position",
        json={"lat": 95, "lng": 1},
        headers=auth(client, "worker"),
    )
    assert r.status_code == 422


def test_components_scoped_and_validated(client: TestClient) -> None:
    mine = all_items(client, "street", "/components")
    assert mine and all(c["street_code"] == S11 for c in mine)
    every = all_items(client, "admin", "/components")
    assert len(every) == 2 * 2 * 2 * 5
    foreign = next(c for c in every if c["district_code"] == D2)
    r = get(client, "disp", f"/components/{foreign['ident']}")
    assert r.status_code == 403
    r = get(client, "disp", "/components/not-an-ident")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_component_ident"
    one = mine[0]
    r = get(
        client,
        "insp",
        "/components/near",
        lat=one["location"]["lat"],
        lng=one["location"]["lng"],
        radius_m=50,
    )
    assert r.status_code == 200 and r.json()[0]["ident"] == one["ident"]
    assert all(c["street_code"] == S11 for c in r.json())


def test_create_component_and_change_state(client: TestClient) -> None:
    body = {
        "name": "路灯",
        "category_code": "01037",
        "street_code": S12,
        "location": {"lat": 29.55, "lng": 106.47},
    }
    r = client.post("/api/v1/components", json=body, headers=auth(client, "street"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = client.post("/api/v1/components", json=body, headers=auth(client, "disp2"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = client.post("/api/v1/components", json=body, headers=auth(client, "disp"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["ident"].startswith(D1 + "01037") and len(made["ident"]) == 17
    r = client.post(
        "/api/v1/components", json={**body, "ident": made["ident"]}, headers=auth(client, "disp")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_component"
    url = f"/api/v1/components/{made['ident']}/state"
    r = client.put(url, json={"state": "damaged"}, headers=auth(client, "insp"))
    assert r.status_code == 403  # the inspector patrols S11, the lamp stands in S12
    r = client.put(url, json={"state": "damaged"}, headers=auth(client, "disp"))
    assert r.status_code == 200 and r.json()["state"] == "damaged"
    factory: sessionmaker[Session] = client.app.state.ctx.sessions  # type: ignore[attr-defined]
    with factory() as s:
        subjects = list(
            s.execute(
                select(LedgerEntry.action)
                .where(LedgerEntry.subject == f"component:{made['ident']}")
                .order_by(LedgerEntry.seq)
            ).scalars()
        )
        assert subjects == ["component.create", "component.state"]
        assert s.scalar(select(func.count()).select_from(Component)) == 2 * 2 * 2 * 5 + 1
