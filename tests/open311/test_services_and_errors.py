"""Discovery, services and definitions in both formats; every bad input as the spec's error."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.open311.conftest import BASE, KEY, errors_of, post_form, xml


def test_discovery_in_xml_and_json(o311: Api) -> None:
    body = o311.client.get(f"{BASE}/discovery.json").json()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(o311.client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_services_are_our_categories(o311: Api) -> None:
    listed = o311.client.get(f"{BASE}/services.json").json()
    garbage = next(s for s in listed if s["service_code"] == "06010")
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境类"
    assert garbage["type"] == "realtime" and garbage["metadata"] is True
    assert garbage["description"] and "垃圾" in garbage["keywords"].split(",")
    root = xml(o311.client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == [s["service_code"] for s in listed]
    node = root.findall("service")[codes.index("06010")]
    assert node.findtext("metadata") == "true" and node.findtext("group") == "市容环境类"


def test_internal_categories_are_not_services_and_residents_cannot_file_them(o311: Api) -> None:
    """The fund-supervision clue (10902) is filed by the bureau only."""
    listed = {s["service_code"] for s in o311.client.get(f"{BASE}/services.json").json()}
    assert "06010" in listed and "10902" not in listed
    r = o311.client.get(f"{BASE}/services/10902.json")
    assert r.status_code == 404
    r = o311.client.post(
        "/api/v1/cases",
        headers=o311.headers("resident"),
        json={
            "category": "10902",
            "channel": "resident",
            "location": {"lat": Y0 + 0.005, "lng": X0 + 0.005},
            "description": "有人刷卡",
        },
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_category"


@pytest.mark.parametrize("path", ["services", "service"])  # "service/": the legacy client's
def test_definitions_with_attributes(o311: Api, path: str) -> None:
    body = o311.client.get(f"{BASE}/{path}/06010.json").json()
    assert body["service_code"] == "06010"
    urgency = next(a for a in body["attributes"] if a["code"] == "URGENCY")
    assert urgency["datatype"] == "singlevaluelist" and urgency["required"] is False
    assert [v["key"] for v in urgency["values"]] == ["1", "2", "3"]
    root = xml(o311.client.get(f"{BASE}/{path}/06010.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "06010"
    keys = [v.text for v in root.findall("attributes/attribute/values/value/key")]
    assert keys == ["1", "2", "3"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_not_found_is_404_in_the_spec_shape(o311: Api, fmt: str) -> None:
    for path in (
        f"services/99999.{fmt}",
        f"service/abc.{fmt}",
        f"requests/500107-2026-00009999.{fmt}",
        f"requests/not-a-number.{fmt}",
        f"requests/500107-2026-99999999999999999999.{fmt}",
        f"tokens/nope.{fmt}",
        f"nothing-here.{fmt}",
    ):
        r = o311.client.get(f"{BASE}/{path}")
        assert r.status_code == 404, path
        (error,) = errors_of(r)
        assert error["code"] == 404 and error["description"], path
    assert o311.client.get(f"{BASE}/services.csv").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_missing_or_unknown_is_403(o311: Api, fmt: str) -> None:
    for key in ("", "wrong-key"):
        r = post_form(o311, fmt, api_key=key)
        assert r.status_code == 403
        assert errors_of(r)[0]["code"] == 403
    assert o311.client.get(f"{BASE}/requests.json").json() == []  # nothing was filed


BAD_FORMS = [
    ({"service_code": "", "description": ""}, 400),  # neither a code nor text to classify
    ({"service_code": "99999"}, 404),
    ({"lat": "", "long": ""}, 400),  # no location at all
    ({"lat": "", "long": "", "address_string": "观音桥步行街"}, 400),  # its street: not on this map
    ({"lat": "", "long": "", "address_string": "某某路", "description": "有垃圾"}, 400),
    ({"lat": "north"}, 400),
    ({"lat": "95"}, 400),
    ({"lat": "nan"}, 400),
    ({"long": f"{X0 + 1:.6f}"}, 400),  # outside the city
    ({"attribute[URGENCY]": "9"}, 400),
    ({"attribute[COLOUR]": "red"}, 400),
    ({"description": "长" * 4001}, 400),
]


@pytest.mark.parametrize(("fields", "status"), BAD_FORMS)
def test_bad_posts_are_spec_errors_and_file_nothing(
    o311: Api, fields: dict[str, str], status: int
) -> None:
    r = post_form(o311, "xml", **fields)
    assert r.status_code == status, r.text
    assert errors_of(r)[0]["code"] == status
    assert o311.client.get(f"{BASE}/requests.json").json() == []


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'{"service_code": "06010",', "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"service_code": "06010", "attribute": 5}', "application/json"),
        (b"api_key&&service_code", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"<request/>", "text/xml"),
        (b"api_key=test-key-1&api_key=test-key-1", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_400(o311: Api, content: bytes, kind: str) -> None:
    r = o311.client.post(
        f"{BASE}/requests.json", params={"api_key": KEY}, content=content,
        headers={"Content-Type": kind},
    )  # fmt: skip
    assert r.status_code == 400, r.text
    assert errors_of(r)[0]["code"] == 400


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
    ],
)
def test_bad_list_queries_are_400(o311: Api, params: dict[str, str]) -> None:
    r = o311.client.get(f"{BASE}/requests.xml", params=params)
    assert r.status_code == 400, r.text
    assert errors_of(r)[0]["code"] == 400
