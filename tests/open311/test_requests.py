"""POST and GET requests as other cities' systems use them: form-encoded as the spec shows,
JSON bodies, the legacy query-string api_key, filters, status as the case moves along."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cityops.auth.scope import machine
from cityops.cases import service as case_service
from cityops.cases.lifecycle import Action
from cityops.cases.runtime import get_rules
from cityops.cases.schemas import TransitionCreate
from cityops.open311.service import case_id_of
from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.open311.conftest import BASE, KEY, WEST, post_form, xml


def move(api: Api, request_id: str, *actions: Action, **extra: Any) -> None:
    """Take the case along with the case service, as the dispatcher's screens do."""
    case_id = case_id_of(request_id)
    assert case_id is not None
    for action in actions:
        api.clock.advance(timedelta(minutes=30))
        with api.ctx.sessions.begin() as session:
            case_service.transition(
                session=session,
                rules=get_rules(api.ctx, session),
                case_id=case_id,
                command=TransitionCreate(action=action, **extra.get(action.value, {})),
                actor=machine("test:dispatcher"),
                at=api.clock.now(),
            )


def one(api: Api, request_id: str) -> dict[str, Any]:
    r = api.client.get(f"{BASE}/requests/{request_id}.json")
    assert r.status_code == 200, r.text
    (entry,) = r.json()
    assert isinstance(entry, dict)
    return entry


def test_a_form_post_exactly_as_the_spec_shows_files_a_resident_case(o311: Api) -> None:
    body = (
        f"api_key={KEY}&service_code=06010&lat={WEST['lat']}&long={WEST['long']}"
        "&description=%E8%B7%AF%E8%BE%B9%E4%B8%80%E5%A0%86%E5%9E%83%E5%9C%BE"
        "&media_url=https%3A%2F%2Fexample.org%2Fp%2F1.jpg&attribute[URGENCY]=2"
        "&first_name=%E4%B8%89&last_name=%E5%BC%A0&phone=13812341234&email=z%40example.org"
    )
    r = o311.client.post(
        f"{BASE}/requests.json",
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    (answer,) = r.json()
    rid = answer["service_request_id"]
    assert rid.startswith("500107-2026-") and "service_notice" in answer
    assert answer["account_id"] is None
    entry = one(o311, rid)  # a photo and a description: filed and dispatched at once (智能立案)
    assert entry["status"] == "open" and entry["status_notes"] == "已派遣"
    assert entry["service_code"] == "06010" and entry["service_name"] == "暴露垃圾"
    assert entry["requested_datetime"] == "2026-11-25T09:00:00+08:00"
    assert entry["agency_responsible"] and entry["expected_datetime"].endswith("+08:00")
    assert "路边一堆垃圾" in entry["description"] and "紧急程度: 较急" in entry["description"]
    assert entry["media_url"] == "https://example.org/p/1.jpg"
    text = o311.client.get(f"{BASE}/requests/{rid}.xml").text
    for private in ("13812341234", "张三", "z@example.org"):
        assert private not in text


def test_status_follows_the_case_to_closed_with_its_real_step(o311: Api) -> None:
    rid = post_form(o311).json()[0]["service_request_id"]  # no photo: a person accepts it
    entry = one(o311, rid)
    assert entry["status"] == "open" and entry["status_notes"] == "已上报"
    assert entry["description"] == ""  # nobody has accepted it yet: its text is not shown
    assert entry["expected_datetime"] is None
    move(o311, rid, Action.accept)
    assert one(o311, rid)["status_notes"] == "已受理"
    assert one(o311, rid)["description"] == "路边一堆垃圾"
    move(o311, rid, Action.file)
    assert one(o311, rid)["status_notes"] == "已立案"
    move(o311, rid, Action.dispatch)
    entry = one(o311, rid)
    assert entry["status"] == "open" and entry["status_notes"] == "已派遣"
    assert entry["agency_responsible"]  # the department's name
    assert entry["expected_datetime"] is not None  # the deadline
    assert entry["expected_datetime"].endswith("+08:00")
    move(o311, rid, Action.start)
    assert one(o311, rid)["status_notes"] == "处置中"
    move(  # a resident's case closes on evidence: the inspector's photo
        o311, rid, Action.feedback, Action.verify_pass, verify_pass={"photos": ["p://check.jpg"]}
    )
    assert one(o311, rid)["status_notes"] == "已核查"
    move(o311, rid, Action.close)
    entry = one(o311, rid)
    assert entry["status"] == "closed" and entry["status_notes"] == "已结案"
    assert entry["updated_datetime"] == "2026-11-25T12:30:00+08:00"  # the close time
    closed = o311.client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [e["service_request_id"] for e in closed] == [rid]
    assert o311.client.get(f"{BASE}/requests.json", params={"status": "open"}).json() == []


def test_a_json_body_and_an_xml_answer_and_the_key_in_the_query_string(o311: Api) -> None:
    r = o311.client.post(
        f"{BASE}/requests.xml",
        params={"api_key": KEY, "jurisdiction_id": "cityops"},
        json={
            "service_code": "06010",
            "lat": Y0 + 0.012,
            "long": X0 + 0.003,
            "description": "垃圾没人收",
            "attribute": {"LOCATION_DETAIL": "民主村3栋门口"},
        },
    )
    assert r.status_code == 200, r.text
    root = xml(r)
    assert root.tag == "service_requests"
    rid = root.findtext("request/service_request_id")
    token = root.findtext("request/token")
    assert rid and token
    t = o311.client.get(f"{BASE}/tokens/{token}.xml")
    assert xml(t).findtext("request/service_request_id") == rid
    assert o311.client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": rid, "token": token}
    ]
    got = xml(o311.client.get(f"{BASE}/requests/{rid}.xml"))
    assert got.findtext("request/status") == "open"
    assert got.findtext("request/lat") == f"{round(Y0 + 0.012, 3)}"  # about 100 m, not the door


def test_a_repeat_joins_the_open_case(o311: Api) -> None:
    first = post_form(o311).json()[0]["service_request_id"]
    again = post_form(o311, description="又是这堆垃圾").json()[0]
    assert again["service_request_id"] == first and first in again["service_notice"]


def test_list_filters(o311: Api) -> None:
    a = post_form(o311).json()[0]["service_request_id"]
    o311.clock.advance(timedelta(days=2))
    b = post_form(o311, service_code="06001").json()[0]["service_request_id"]
    c = post_form(o311, service_code="06010", lat=f"{Y0 + 0.015:.6f}").json()[0][
        "service_request_id"
    ]

    def ids(fmt: str = "json", **params: str) -> list[str]:
        r = o311.client.get(f"{BASE}/requests.{fmt}", params=params)
        assert r.status_code == 200, r.text
        if fmt == "xml":
            return [e.findtext("service_request_id") or "" for e in xml(r).findall("request")]
        return [e["service_request_id"] for e in r.json()]

    assert ids() == [c, b, a]  # newest first, the last 90 days
    assert ids("xml") == [c, b, a]
    assert ids(service_code="06010") == [c, a]
    assert ids(service_code="06001,06010") == [c, b, a]
    assert ids(service_request_id=f"{a},{c}", service_code="06001") == [a, c]  # ids override
    assert ids(service_request_id=f"{a},500107-2026-99999999999,nonsense") == [a]
    assert ids(start_date="2026-11-26T00:00:00+08:00") == [c, b]
    assert ids(end_date="2026-11-26T00:00:00Z") == [a]
    assert ids(start_date="2026-08-01T00:00:00+08:00", end_date="2026-10-01T00:00:00+08:00") == []
    o311.clock.advance(timedelta(days=89))
    assert ids() == [c, b]  # a is older than 90 days
