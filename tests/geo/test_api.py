"""The map over HTTP: GeoJSON listing, locate (WGS84 and GCJ-02), one area; login required."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.auth.models import Role, User
from cityops.auth.security import hash_password
from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.geo import service
from cityops.geo.coords import wgs84_to_gcj02
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests.geo.test_service import tiny_map

PASSWORD = "map-reader-42"


@pytest.fixture
def client(
    engine: Engine, clock: FakeClock
) -> Iterator[tuple[TestClient, dict[str, str], AppContext]]:
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        service.insert_jurisdictions(session=s, records=tiny_map())
        s.add(
            User(
                username="reader",
                display_name="reader",
                password_hash=hash_password(PASSWORD),
                role=Role.inspector,
                scope_code="500105",
            )
        )
    ctx = AppContext(
        settings=Settings(secret_key="test-secret-key-0123456789abcdef"),
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        clock=clock,
    )
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        r = c.post("/api/v1/auth/token", data={"username": "reader", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c, {"Authorization": f"Bearer {r.json()['access_token']}"}, ctx


def test_login_is_required(client: tuple[TestClient, dict[str, str], AppContext]) -> None:
    c, _, _ = client
    assert c.get("/api/v1/jurisdictions").status_code == 401
    assert (
        c.get("/api/v1/jurisdictions/locate", params={"lat": 29.001, "lng": 106.001}).status_code
        == 401
    )


def test_list_filters_and_caps(
    client: tuple[TestClient, dict[str, str], AppContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, h, _ = client
    r = c.get("/api/v1/jurisdictions", params={"level": "street", "parent": "500112"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == ["500112001", "500112002", "500112100"]
    assert body["features"][0]["geometry"]["type"] == "Polygon"
    r = c.get(
        "/api/v1/jurisdictions",
        params={"bbox": "106.0,29.0,106.004,29.002", "level": "grid"},
        headers=h,
    )
    assert [f["id"] for f in r.json()["features"]] == ["500105001001001", "500105001001002"]
    bad = c.get("/api/v1/jurisdictions", params={"bbox": "106,29,105"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_bbox"
    from cityops.geo import api as geo_api

    monkeypatch.setattr(geo_api, "MAX_FEATURES", 3)
    many = c.get("/api/v1/jurisdictions", headers=h)
    assert many.status_code == 422 and many.json()["error"]["code"] == "too_many_features"
    capped = c.get("/api/v1/jurisdictions", params={"bbox": "105,28,107,30"}, headers=h)
    assert capped.status_code == 200
    assert len(capped.json()["features"]) == 3 and capped.json()["truncated"] is True


def test_locate_in_both_coordinate_systems(
    client: tuple[TestClient, dict[str, str], AppContext],
) -> None:
    c, h, ctx = client
    r = c.get("/api/v1/jurisdictions/locate", params={"lat": 29.001, "lng": 106.0035}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["district"] == {"code": "500105", "name": "江北区"}
    assert body["street"] == {"code": "500105001", "name": "观音桥街道"}
    assert body["grid"]["code"] == "500105001001002"
    assert "geo_index" in ctx.extras
    g_lng, g_lat = wgs84_to_gcj02(106.0035, 29.001)
    r = c.get(
        "/api/v1/jurisdictions/locate",
        params={"lat": g_lat, "lng": g_lng, "crs": "GCJ-02"},
        headers=h,
    )
    assert r.json()["grid"]["code"] == "500105001001002"
    assert abs(r.json()["lng"] - 106.0035) < 1e-7
    # Read as WGS84, the same numbers lie ~300 m south, off this tiny map.
    r = c.get("/api/v1/jurisdictions/locate", params={"lat": g_lat, "lng": g_lng}, headers=h)
    assert r.status_code == 422
    out = c.get("/api/v1/jurisdictions/locate", params={"lat": 30.5, "lng": 108.0}, headers=h)
    assert out.status_code == 422 and out.json()["error"]["code"] == "outside_city"
    assert (
        c.get("/api/v1/jurisdictions/locate", params={"lat": 95, "lng": 106}, headers=h).status_code
        == 422
    )
    service.invalidate_index(ctx)
    assert "geo_index" not in ctx.extras


def test_one_jurisdiction_with_children(
    client: tuple[TestClient, dict[str, str], AppContext],
) -> None:
    c, h, _ = client
    r = c.get("/api/v1/jurisdictions/500112", headers=h)
    assert r.status_code == 200
    props = r.json()["properties"]
    assert (
        props["name"] == "渝北区" and props["children_count"] == 3 and props["level"] == "district"
    )
    missing = c.get("/api/v1/jurisdictions/599999", headers=h)
    assert (
        missing.status_code == 404 and missing.json()["error"]["code"] == "jurisdiction_not_found"
    )
