"""Abuse limits: reports per resident and per IP, photo uploads, photo pixels, text lengths."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cityops.api.app import create_app
from cityops.api.limits import MemoryBuckets, Rule
from cityops.cases.models import CaseReport
from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, upload

WEST = {"lat": Y0 + 0.002, "lng": X0 + 0.002}


def post(api: Api, who: str, *, client: TestClient | None = None, **over: Any) -> Any:
    channel = "resident" if who.startswith("resident") else "inspector"
    body = {"category": "06010", "channel": channel, "location": WEST, "description": "垃圾"}
    return (client or api.client).post(
        "/api/v1/cases", headers=api.headers(who), json={**body, **over}
    )


def reports(api: Api) -> int:
    """Reports taken (repeats of one place are linked to one case, but each is kept)."""
    with api.ctx.sessions() as s:
        return int(s.execute(select(func.count()).select_from(CaseReport)).scalar_one())


def test_a_resident_over_the_burst_gets_429_with_retry_after_and_nothing_is_taken(
    api: Api,
) -> None:
    s = api.ctx.settings
    s.rate_reports_burst, s.rate_reports_per_hour = 3, 6  # one more every 10 minutes
    for _ in range(3):
        assert post(api, "resident").status_code == 201
    r = post(api, "resident")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited" and r.json()["error"]["message"]
    assert r.json()["error"]["detail"]["retry_after"] == 600
    assert r.headers["Retry-After"] == "600"
    assert reports(api) == 3
    assert post(api, "resident2").status_code == 201  # another resident's own allowance
    api.clock.advance(timedelta(minutes=10))
    assert post(api, "resident").status_code == 201
    assert post(api, "resident").status_code == 429
    for _ in range(5):  # staff and machine channels are not held to resident limits
        assert post(api, "inspector").status_code == 201
    wechat = api.client.post(
        "/api/v1/wechat/reports",
        headers=api.headers("resident"),
        json={"desc": "垃圾", "location": {"latitude": WEST["lat"], "longitude": WEST["lng"]},
              "category": "06010"},
    )  # fmt: skip
    assert wechat.status_code == 429


def test_one_address_shares_one_allowance_and_a_batch_counts_each_report(api: Api) -> None:
    s = api.ctx.settings
    s.rate_ip_reports_burst = 2
    assert post(api, "resident").status_code == 201
    assert post(api, "resident2").status_code == 201
    assert post(api, "resident2").status_code == 429  # same IP, other account
    api.ctx.extras.pop("api.limits")  # a fresh store
    s.rate_ip_reports_burst, s.rate_reports_burst = 10, 3
    item = {"category": "06010", "channel": "resident", "location": WEST}
    r = api.client.post(
        "/api/v1/cases/batch", headers=api.headers("resident"), json={"reports": [item] * 4}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "batch_over_rate_limit"
    r = api.client.post(
        "/api/v1/cases/batch", headers=api.headers("resident"), json={"reports": [item] * 3}
    )
    assert r.status_code == 200
    assert post(api, "resident").status_code == 429


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(api: Api) -> None:
    s = api.ctx.settings
    s.rate_ip_reports_burst = 1
    app = create_app(api.ctx)
    proxy = TestClient(app, client=("10.0.0.5", 40000), raise_server_exceptions=False)
    stranger = TestClient(app, client=("203.0.113.9", 40000), raise_server_exceptions=False)
    s.trusted_proxies = "10.0.0.0/8"

    def via(client: TestClient, who: str, xff: str) -> int:
        body = {"category": "06010", "channel": "resident", "location": WEST}
        headers = {**api.headers(who), "X-Forwarded-For": xff}
        return client.post("/api/v1/cases", headers=headers, json=body).status_code

    assert via(proxy, "resident", "198.51.100.1") == 201
    assert via(proxy, "resident2", "198.51.100.2, 10.0.0.7") == 201  # another client
    assert via(proxy, "resident2", "198.51.100.1") == 429  # the first client again
    assert via(stranger, "resident2", "198.51.100.3") == 201  # the header is not believed
    assert via(stranger, "resident", "198.51.100.4") == 429  # ... so both are 203.0.113.9


def test_open311_is_limited_per_address_with_the_specs_error_list(api: Api) -> None:
    api.ctx.settings.open311_api_keys = "k1"
    api.ctx.settings.rate_ip_reports_burst = 1
    form = {"api_key": "k1", "service_code": "06010", "lat": str(WEST["lat"]),
            "long": str(WEST["lng"])}  # fmt: skip
    assert api.client.post("/open311/v2/requests.json", data=form).status_code == 200
    r = api.client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json() == [{"code": 429, "description": "too many reports: try again later"}]
    x = api.client.post("/open311/v2/requests.xml", data=form)
    assert x.status_code == 429 and b"<code>429</code>" in x.content


def test_photo_uploads_are_limited_for_residents(api: Api) -> None:
    api.ctx.settings.rate_photos_burst = 2
    assert upload(api, jpeg(seed=1)).status_code == 201
    assert upload(api, jpeg(seed=2)).status_code == 201
    r = upload(api, jpeg(seed=3))
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert upload(api, jpeg(seed=3), who="worker").status_code == 201


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_a_photo_claiming_too_many_pixels_is_refused(api: Api) -> None:
    api.ctx.settings.photo_max_pixels = 4000 * 3000
    r = upload(api, _png(100_000, 100_000), filename="bomb.png", content_type="image/png")
    assert r.status_code == 422 and r.json()["error"]["code"] == "photo_too_many_pixels"
    ok = upload(api, _png(4000, 3000), filename="ok.png", content_type="image/png")
    assert ok.status_code == 201, ok.text


def test_over_long_text_is_text_too_long_on_every_door(api: Api) -> None:
    for over in ({"description": "长" * 4001}, {"title": "长" * 121}, {"address": "长" * 201}):
        r = post(api, "inspector", **over)
        assert r.status_code == 422 and r.json()["error"]["code"] == "text_too_long", over
    r = api.client.post(
        "/api/v1/wechat/reports",
        headers=api.headers("resident"),
        json={"desc": "长" * 4001, "location": {"latitude": WEST["lat"], "longitude": WEST["lng"]},
              "category": "06010"},
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "text_too_long"
    assert reports(api) == 0


def test_memory_buckets_take_from_all_or_none() -> None:
    store = MemoryBuckets()
    a, b = Rule("a", 3600, 2), Rule("b", 3600, 1)
    assert store.take([a, b], cost=1, now=0) == 0
    assert store.take([a, b], cost=1, now=0) == 1.0  # b is empty: a keeps its token
    assert store.take([a], cost=1, now=0) == 0
    assert store.take([a], cost=1, now=0) == 1.0
    assert store.take([a, b], cost=1, now=1) == 0
