"""POST /api/v1/medicare/drg/group and /drg/batch over HTTP on both backends: the grouping and
trace analysts rely on, 422 ``invalid_icd`` (never a 500) for a malformed code, and roles."""

from __future__ import annotations

from typing import Any

import pytest

from cityops.auth.models import Role
from cityops.auth.service import create_user
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401

GROUP = "/api/v1/medicare/drg/group"
BATCH = "/api/v1/medicare/drg/batch"


@pytest.fixture
def analyst(api: Api) -> str:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        create_user(
            session=s,
            username="analyst",
            password=citykit.PASSWORD,
            role=Role.insurance_analyst,
            scope_code=None,
            display_name="医保分析员",
        )
    return "analyst"


def post(api: Api, url: str, body: dict[str, Any], who: str) -> Any:  # noqa: F811
    return api.client.post(url, json=body, headers=api.headers(who))


APPENDIX = {
    "id": "z1", "hospital": "H50010300001", "hospital_level": "三级", "sex": 1, "age": 35,
    "principal_dx": "K35.800", "other_dx": ["J18.900"], "procedures": ["47.0901"],
    "cost_fen": 1_500_000,
}  # fmt: skip


def test_one_record_groups_with_its_trace_payment_and_dip(api: Api, analyst: str) -> None:  # noqa: F811
    r = post(api, GROUP, APPENDIX, analyst)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["drg"], out["status"], out["mdc"], out["adrg"], out["cc_level"]) == (
        "GD11", "grouped", "G", "GD1", "MCC"
    )  # fmt: skip
    assert out["drg_name"] == "阑尾切除术，伴严重并发症或合并症"
    assert out["weight"] == "1.35"
    assert [s["why"] for s in out["trace"]] == [
        "principal diagnosis K35.800 in MDCG list",
        "principal procedure 47.0901 in GD1 procedure list",
        "J18.900 (not excluded for K35.800)",
        "with MCC; RW 1.35",
    ]
    # 1,200,000 × 1.35 = 1,620,000 fen; 3 % = 48,600 withheld
    assert out["payment"]["paid_fen"] == 1_620_000
    assert out["payment"]["deposit_fen"] == 48_600
    assert out["dip"]["packet"] == "K35-47.0901"
    assert (out["tables"], out["synthetic"]) == ("synthetic-0.1", True)


def test_an_invalid_icd_code_is_refused_with_the_reason(api: Api, analyst: str) -> None:  # noqa: F811
    r = post(api, GROUP, {**APPENDIX, "other_dx": ["J18.900", "J18.9OO"]}, analyst)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_icd"
    assert err["message"] == (
        "other_dx[1]: 'J18.9OO' is not an ICD-10 diagnosis code (like K35.800 or K80.000x004)"
    )
    assert err["detail"] == {"field": "other_dx[1]", "value": "J18.9OO"}
    r = post(api, GROUP, {**APPENDIX, "sex": None}, analyst)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_record")


def test_only_analysts_and_the_city_admin_may_group(api: Api, analyst: str) -> None:  # noqa: F811
    assert post(api, GROUP, APPENDIX, "admin").status_code == 200
    r = post(api, GROUP, APPENDIX, "dispatcher")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_forbidden")
    assert api.client.post(GROUP, json=APPENDIX).status_code == 401


def test_a_batch_reports_cmi_by_hospital_and_refuses_bad_records(
    api: Api,  # noqa: F811
    analyst: str,
) -> None:
    rows = [
        APPENDIX,  # GD11 1.35
        {**APPENDIX, "id": "z2", "other_dx": []},  # GD15 0.86
        {**APPENDIX, "id": "z3", "principal_dx": "R50.900", "procedures": []},  # 0000
        {**APPENDIX, "id": "z4", "hospital": "H2", "hospital_level": None,
         "procedures": []},  # GZ11 0.9: J18.900 is an MCC
        {**APPENDIX, "id": "bad", "procedures": ["4709"]},
    ]  # fmt: skip
    r = post(api, BATCH, {"records": rows}, analyst)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["cases"], out["grouped"], out["ungroupable"]) == (4, 3, 1)
    assert out["refused"] == [
        {"index": 4, "id": "bad", "code": "invalid_icd",
         "reason": "procedures[0]: '4709' is not an ICD-9-CM-3 procedure code "
                   "(like 47.0901 or 96.0800x005)"},
    ]  # fmt: skip
    by = {h["hospital"]: h for h in out["hospitals"]}
    assert by["H50010300001"]["cmi"] == "1.1050"
    assert by["H50010300001"]["ungroupable"] == 1
    # 1,620,000 + 1,032,000 + the 0000 case per item (1,500,000)
    assert by["H50010300001"]["paid_fen"] == 4_152_000
    assert (by["H2"]["cmi"], by["H2"]["paid_fen"]) == ("0.9000", None)
    assert out["cmi"] == "1.0367"  # (1.35 + 0.86 + 0.9) / 3


def test_a_batch_of_junk_is_a_422_not_a_500(api: Api, analyst: str) -> None:  # noqa: F811
    r = post(api, BATCH, {"records": [{"sex": "x"}, {}]}, analyst)
    assert r.status_code == 200
    assert [x["code"] for x in r.json()["refused"]] == ["invalid_record", "invalid_record"]
    assert post(api, BATCH, {"records": "nope"}, analyst).status_code == 422
