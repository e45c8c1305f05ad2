"""The Open311 door on the API test app (both backends), with two accepted api keys."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.api.conftest import Api, api  # noqa: F401  (the fixture, reused)
from tests.citykit import X0, Y0

KEY = "test-key-1"
BASE = "/open311/v2"
WEST = {"lat": f"{Y0 + 0.002:.6f}", "long": f"{X0 + 0.002:.6f}"}


@pytest.fixture
def o311(api: Api) -> Api:  # noqa: F811
    api.ctx.settings.open311_api_keys = f"{KEY}, test-key-2"
    return api


def post_form(on: Api, fmt: str = "json", **fields: str) -> httpx.Response:
    body = {"api_key": KEY, "service_code": "06010", **WEST, "description": "路边一堆垃圾"}
    body.update(fields)
    return on.client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in body.items() if v})


def xml(r: httpx.Response) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    return ET.fromstring(r.content)


def errors_of(r: httpx.Response) -> list[dict[str, Any]]:
    """The spec's error list, from either format, as dicts."""
    if r.headers["content-type"].startswith("application/json"):
        body: list[dict[str, Any]] = r.json()
        return body
    root = xml(r)
    assert root.tag == "errors"
    return [
        {"code": int(e.findtext("code") or 0), "description": e.findtext("description")}
        for e in root.findall("error")
    ]
