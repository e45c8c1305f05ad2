"""Roles × endpoints × jurisdictions: who may see and do what, through the real API."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.citykit import X0, Y0

WEST = {"lat": Y0 + 0.002, "lng": X0 + 0.002}  # 500107001
EAST = {"lat": Y0 + 0.013, "lng": X0 + 0.033}  # 500157001


def _seed(api: Api) -> tuple[int, int]:
    a = api.client.post(
        "/api/v1/cases",
        headers=api.headers("resident"),
        json={"category": "06010", "channel": "resident", "location": WEST, "description": "垃圾"},
    )
    b = api.client.post(
        "/api/v1/cases",
        headers=api.headers("admin"),
        json={"category": "06010", "channel": "hotline", "location": EAST, "description": "垃圾"},
    )
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert a.json()["case"]["status"] == "reported" and b.json()["case"]["status"] == "reported"
    return a.json()["case"]["id"], b.json()["case"]["id"]


# user: (cases listed, GET A, GET B, accept A, accept B, KPIs 500107, KPIs 500157, ledger verify)
MATRIX = {
    "admin": ({"A", "B"}, 200, 200, 200, 200, 200, 200, 200),
    "dispatcher": ({"A"}, 200, 404, 200, 404, 200, 403, 200),
    "other_dispatcher": ({"B"}, 404, 200, 404, 200, 403, 200, 200),
    "street": ({"A"}, 200, 404, 200, 404, 403, 403, 403),
    "street2": (set(), 404, 404, 404, 404, 403, 403, 403),
    "worker": (set(), 404, 404, 404, 404, 403, 403, 403),
    "inspector": ({"A"}, 200, 404, 403, 404, 403, 403, 403),
    "resident": ({"A"}, 200, 404, 403, 404, 403, 403, 403),
    "resident2": (set(), 404, 404, 404, 404, 403, 403, 403),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_role_scope_matrix(api: Api, who: str) -> None:
    listed, get_a, get_b, acc_a, acc_b, kpi_own, kpi_other, verify = MATRIX[who]
    a, b = _seed(api)
    h = api.headers(who)
    names = {a: "A", b: "B"}
    r = api.client.get("/api/v1/cases", headers=h)
    assert r.status_code == 200
    assert {names[c["id"]] for c in r.json()["items"]} == listed
    assert api.client.get(f"/api/v1/cases/{a}", headers=h).status_code == get_a
    assert api.client.get(f"/api/v1/cases/{b}", headers=h).status_code == get_b
    for case_id, want in ((a, acc_a), (b, acc_b)):
        r = api.client.post(
            f"/api/v1/cases/{case_id}/transitions", headers=h, json={"action": "accept"}
        )
        assert r.status_code == want, r.text
        if want >= 400:
            assert set(r.json()["error"]) >= {"code", "message"}
    assert (
        api.client.get("/api/v1/kpis", headers=h, params={"jurisdiction": "500107"}).status_code
        == kpi_own
    )
    assert (
        api.client.get("/api/v1/kpis", headers=h, params={"jurisdiction": "500157"}).status_code
        == kpi_other
    )
    assert api.client.get("/api/v1/ledger/verify", headers=h).status_code == verify


def test_no_token_is_401_with_the_error_shape(api: Api) -> None:
    r = api.client.get("/api/v1/cases")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    r = api.client.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_wrong_password_is_401(api: Api) -> None:
    r = api.client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope-nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"


# user: (staff in 500107, staff in 500157, component in 500107001, locate a point, own scope)
# Asking for a wider area than one's own is narrowed to one's scope; another area is refused.
REGISTRY = {
    "admin": (200, 200, 200, 200, "5001"),
    "dispatcher": (200, 403, 200, 200, "500107"),
    "other_dispatcher": (403, 200, 403, 200, "500157"),
    "street": (200, 403, 200, 200, "500107001"),
    "inspector": (200, 403, 200, 200, "500107001"),
    "resident": (403, 403, 403, 200, ""),
}


@pytest.mark.parametrize("who", list(REGISTRY))
def test_registry_and_map_scope_matrix(api: Api, who: str) -> None:
    staff_own, staff_other, component, locate, scope = REGISTRY[who]
    h = api.headers(who)
    r = api.client.get("/api/v1/staff", headers=h, params={"jurisdiction": "500107"})
    assert r.status_code == staff_own, r.text
    if r.status_code == 200:
        items = r.json()["items"]
        assert items and all(s["jurisdiction_code"].startswith(scope) for s in items)
        if who == "street":  # the neighbouring street's staff are not shown
            assert not any(s["jurisdiction_code"] == "500107002" for s in items)
    r = api.client.get("/api/v1/staff", headers=h, params={"jurisdiction": "500157"})
    assert r.status_code == staff_other, r.text
    if r.status_code >= 400:
        assert r.json()["error"]["code"] in {"outside_jurisdiction", "role_forbidden"}
    r = api.client.get("/api/v1/components/50010701002000001", headers=h)
    assert r.status_code == component, r.text
    r = api.client.get("/api/v1/jurisdictions/locate", headers=h, params=WEST)
    assert r.status_code == locate and r.json()["grid"]["code"] == "500107001001001"
