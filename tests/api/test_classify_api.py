"""Free text at intake: POST /classify, reports without a category or a point, the 受理员 queue."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cityops.cases import understand
from cityops.cases.models import Case, CaseStatus
from cityops.cases.runtime import KEY as RULES_KEY
from cityops.cases.runtime import start_warm_up
from cityops.geo.coords import wgs84_to_gcj02
from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.open311.conftest import BASE, KEY

WGS = (Y0 + 0.003, X0 + 0.003)  # inside 九龙坡区街道1 (500107001), off every grid line
UNSURE = "你好，麻烦来看一下"


def _wechat(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/wechat/reports", headers=api.headers("resident"), json=body)


def _gcj() -> dict[str, float]:
    lng, lat = wgs84_to_gcj02(WGS[1], WGS[0])
    return {"latitude": lat, "longitude": lng}


def test_classify_ranks_three_categories_and_finds_the_place(api: Api) -> None:
    r = api.client.post(
        "/api/v1/classify",
        headers=api.headers("resident"),
        json={"text": "社区2门口好多生活垃圾堆在地上没人收，臭得很"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    top = body["suggestions"]
    assert top[0]["category"] == "06010" and top[0]["name"] == "暴露垃圾"
    assert len(top) == 3 and top[0]["confidence"] >= top[1]["confidence"]
    assert body["auto"] is True
    assert body["place"]["community_code"] == "500107002001"
    assert body["place"]["detail"] == "门口"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "  "}, "empty_text"),
        ({"text": "长" * 4001}, "text_too_long"),
        ({"text": "长" * 3800, "caption": "短" * 300}, "text_too_long"),
        ({}, "validation_failed"),
    ],
)
def test_classify_refuses_empty_or_too_long_text(api: Api, body: dict[str, Any], code: str) -> None:
    r = api.client.post("/api/v1/classify", headers=api.headers("resident"), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_classify_needs_a_login(api: Api) -> None:
    assert api.client.post("/api/v1/classify", json={"text": "路灯不亮"}).status_code == 401


def test_a_wechat_report_without_category_is_filed_under_the_models_choice(api: Api) -> None:
    r = _wechat(api, {"desc": "小区门口好多生活垃圾堆在地上没人收，臭得很", "location": _gcj()})
    assert r.status_code == 201, r.text
    read = r.json()["case"]
    assert read["category_code"] == "06010" and read["street_code"] == "500107001"
    assert read["needs_review"] is False
    assert read["classification"]["category"]["suggestions"][0]["category"] == "06010"
    full = api.client.get(f"/api/v1/cases/{read['id']}", headers=api.headers("dispatcher"))
    report = full.json()["history"][0]
    assert report["action"] == "report" and report["payload"]["classified"]["auto"] is True


def test_an_unsure_guess_waits_for_an_acceptor_who_corrects_the_category(api: Api) -> None:
    r = _wechat(api, {"desc": UNSURE, "location": _gcj()})
    assert r.status_code == 201, r.text
    case_id = r.json()["case"]["id"]
    assert r.json()["case"]["needs_review"] is True and r.json()["auto_filed"] is False
    queue = api.client.get("/api/v1/intake/queue", headers=api.headers("dispatcher"))
    assert queue.status_code == 200, queue.text
    assert [c["id"] for c in queue.json()["items"]] == [case_id]
    # Out of scope, or not an acceptor: not theirs.
    other = api.client.get("/api/v1/intake/queue", headers=api.headers("other_dispatcher"))
    assert other.json()["items"] == []
    assert (
        api.client.get("/api/v1/intake/queue", headers=api.headers("resident")).status_code == 403
    )
    step = api.client.post(
        f"/api/v1/cases/{case_id}/transitions",
        headers=api.headers("dispatcher"),
        json={"action": "accept", "category": "06012"},
    )
    assert step.status_code == 200, step.text
    after = step.json()
    assert after["category_code"] == "06012" and after["title"] == "道路不洁"
    assert after["status"] == "accepted" and after["needs_review"] is False
    assert (
        api.client.get("/api/v1/intake/queue", headers=api.headers("dispatcher")).json()["items"]
        == []
    )
    history = api.client.get(f"/api/v1/cases/{case_id}", headers=api.headers("dispatcher"))
    accept = next(h for h in history.json()["history"] if h["action"] == "accept")
    assert accept["payload"]["category"] == {"from": r.json()["case"]["category_code"],
                                             "to": "06012"}  # fmt: skip


def test_a_corrected_category_must_be_known_and_only_on_accept(api: Api) -> None:
    r = _wechat(api, {"desc": UNSURE, "location": _gcj()})
    case_id = r.json()["case"]["id"]
    for body, code in (
        ({"action": "accept", "category": "99999"}, "unknown_category"),
        ({"action": "void", "reason": "重复", "category": "06010"}, "category_on_accept_only"),
    ):
        step = api.client.post(
            f"/api/v1/cases/{case_id}/transitions", headers=api.headers("dispatcher"), json=body
        )
        assert step.status_code == 422, step.text
        assert step.json()["error"]["code"] == code


def test_a_report_without_a_point_is_placed_by_the_place_it_names(api: Api) -> None:
    r = _wechat(api, {"desc": "社区2门口的垃圾好几天没人收了", "category": "06010"})
    assert r.status_code == 201, r.text
    read = r.json()["case"]
    assert read["community_code"] == "500107002001" and read["address"] == "社区2门口"
    assert read["classification"]["place"]["by"] == "gazetteer"


def test_an_open311_request_with_only_an_address_and_no_service_code(api: Api) -> None:
    api.ctx.settings.open311_api_keys = KEY
    form = {
        "api_key": KEY,
        "address_string": "社区1旁边",
        "description": "路边有人乱倒生活垃圾，一大堆，臭得很",
    }
    r = api.client.post(f"{BASE}/requests.json", data=form)
    assert r.status_code == 200, r.text
    with api.ctx.sessions() as s:
        case = s.execute(select(Case)).scalar_one()
        assert case.community_code == "500107001001" and case.category_code == "06010"
        assert case.status is CaseStatus.reported


def test_the_warm_up_readies_the_classifier_and_gazetteer_before_the_first_report(
    api: Api,
) -> None:
    assert RULES_KEY not in api.ctx.extras  # nothing loaded yet: the first report would wait
    start_warm_up(api.ctx).join(timeout=120)
    rules = api.ctx.extras[RULES_KEY]
    assert isinstance(rules.extras[understand.CLASSIFIER_KEY], understand.Classifier)
    assert rules.extras[understand.GAZETTEER_KEY].find("社区2门口") is not None
    r = api.client.post(
        "/api/v1/classify", headers=api.headers("resident"), json={"text": "社区2门口好多垃圾"}
    )
    assert r.status_code == 200 and r.json()["suggestions"][0]["category"] == "06010"
    assert api.ctx.extras[RULES_KEY] is rules  # the request used what the warm-up built
