"""The WeChat mini-program shape: GCJ-02 in, the WGS84 point stored, same intake as POST /cases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from cityops.cases.models import Case, CaseStatus, Channel
from cityops.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, uploaded_ref

WGS = (Y0 + 0.003, X0 + 0.003)  # inside 九龙坡区街道1, off every grid line


def _gcj() -> dict[str, float]:
    lng, lat = wgs84_to_gcj02(WGS[1], WGS[0])
    return {"latitude": lat, "longitude": lng}


def _post(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/wechat/reports", headers=api.headers("resident"), json=body)


def test_a_mini_program_report_is_stored_at_its_wgs84_point(api: Api) -> None:
    photo = uploaded_ref(api, jpeg())
    gcj = _gcj()
    body = {
        "openid": "oABC123xyz",
        "desc": "小区门口垃圾堆了好几天没人收",
        "images": [photo.removeprefix("photo:")],  # a bare stored name is accepted too
        "location": gcj,
        "address": "九龙坡区某小区门口",
        "category": "06010",
    }
    r = _post(api, body)
    assert r.status_code == 201, r.text
    read = r.json()["case"]
    expect_lng, expect_lat = gcj02_to_wgs84(gcj["longitude"], gcj["latitude"])
    assert read["channel"] == "resident"
    with api.ctx.sessions() as s:
        case = s.get(Case, read["id"])
        assert case is not None
        assert case.lat == pytest.approx(expect_lat, abs=1e-9)
        assert case.lng == pytest.approx(expect_lng, abs=1e-9)
        # ... which is where the resident stood (the GCJ-02 offset, ~500 m here, is undone).
        assert case.lat == pytest.approx(WGS[0], abs=1e-6)
        assert case.lng == pytest.approx(WGS[1], abs=1e-6)
        assert case.channel is Channel.resident and case.street_code == "500107001"
        assert case.photos is not None and photo in case.photos
        assert case.status in (CaseStatus.reported, CaseStatus.dispatched)


def test_bad_mini_program_reports_are_refused_and_nothing_is_written(api: Api) -> None:
    good = {"desc": "路灯不亮", "location": _gcj(), "category": "06010"}
    bad = [
        ({**good, "category": None, "desc": "  "}, "category_required"),
        ({**good, "location": None, "address": "不晓得哪里"}, "location_required"),
        ({**good, "location": {"latitude": 39.9, "longitude": 116.4}}, "outside_city"),
        ({**good, "location": {"lat": 29.5, "lng": 106.5}}, "validation_failed"),
        ({**good, "images": ["photo:" + "0" * 64 + ".jpg"]}, "unknown_photo"),
        ({**good, "unexpected": 1}, "validation_failed"),
    ]
    for body, code in bad:
        r = _post(api, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code, (body, r.text)
    assert api.client.post("/api/v1/wechat/reports", json=good).status_code == 401
    with api.ctx.sessions() as s:
        assert s.execute(select(func.count()).select_from(Case)).scalar_one() == 0
