"""SmallCity with the test rivers and chiefs who can log in, and walks along a section.

The rivers are those of ``test_river_api`` (测试江 TM west→east across three streets, 测试河 TT in
the west street), appointed on Monday 2 Nov 2026. Chiefs with accounts: ``chief`` (street
chief of TM-001 and TT-001, street 500107001), ``dchief`` (district chief of 九龙坡's sections),
``chief2`` (street chief of TM-002, street 500107002). The clock reads Wednesday 25 Nov 09:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from shapely.geometry import LineString

from cityops.auth.models import Role, User
from cityops.clock import as_utc
from cityops.geo.coords import wgs84_to_gcj02
from cityops.scenarios.river import seeding
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import HASH
from tests.conftest import SHANGHAI
from tests.scenarios.river.test_river_api import MAIN, TRIB

APPOINTED = date(2026, 11, 2)
CHIEFS = {
    "chief": (Role.street_staff, "500107001", "500107001-street_office"),
    "dchief": (Role.district_dispatcher, "500107", "500107-shuiwu"),
    "chief2": (Role.street_staff, "500107002", "500107002-street_office"),
}


@pytest.fixture
def rivers(api: Api) -> Api:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        seeding.ensure_network(
            session=s, seed=7, rivers=[MAIN, TRIB], tributaries=(), since=APPOINTED
        )
        for name, (role, scope, worker) in CHIEFS.items():
            s.add(
                User(
                    username=name, display_name=name, password_hash=HASH, role=role,
                    scope_code=scope, staff_id=api.city.workers[worker],
                )
            )  # fmt: skip
    return api


def call(api: Api, method: str, path: str, who: str = "chief", **kw: Any) -> Any:  # noqa: F811
    return api.client.request(method, f"/api/v1/river{path}", headers=api.headers(who), **kw)


def line_of(api: Api, code: str) -> LineString:  # noqa: F811
    r = call(api, "GET", f"/sections/{code}", "admin")
    assert r.status_code == 200, r.text
    return LineString(r.json()["geometry"]["coordinates"])


def walk(
    line: LineString,
    *,
    n: int = 21,
    start: datetime | None = None,
    every_s: int = 10,
    gcj02: bool = False,
) -> list[dict[str, Any]]:
    """n fixes evenly from the line's start to its end, ``every_s`` apart, as the API takes them."""
    t0 = start or datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI)  # an hour before the clock
    out = []
    for i in range(n):
        p = line.interpolate(i / (n - 1), normalized=True)
        lng, lat = wgs84_to_gcj02(p.x, p.y) if gcj02 else (p.x, p.y)
        t = as_utc(t0) + timedelta(seconds=every_s * i)
        out.append({"t": t.isoformat(), "lat": lat, "lng": lng, "accuracy_m": 5})
    return out


def start(api: Api, who: str = "chief", client_id: str = "p1", **place: str) -> Any:  # noqa: F811
    body = {"client_id": client_id, **(place or {"section_code": "TM-001"})}
    r = call(api, "POST", "/patrols", who, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def patrol_once(
    api: Api,  # noqa: F811
    who: str = "chief",
    code: str = "TM-001",
    client_id: str = "p1",
    gcj02: bool = False,
) -> dict[str, Any]:
    """Start, walk the whole section, finish: the finished patrol."""
    p = start(api, who, client_id, section_code=code)
    points = walk(line_of(api, code), gcj02=gcj02)
    r = call(
        api, "POST", f"/patrols/{p['id']}/points", who,
        json={"crs": "gcj02" if gcj02 else "wgs84", "points": points},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    r = call(api, "POST", f"/patrols/{p['id']}/finish", who)
    assert r.status_code == 200, r.text
    return dict(r.json())
