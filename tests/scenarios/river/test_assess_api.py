"""POST /api/v1/river/assess over HTTP on both backends: the answer staff rely on, and 422s (never
a 500) for readings that cannot be real."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, api  # noqa: F401

URL = "/api/v1/river/assess"


def post(api: Api, body: dict[str, Any], who: str = "dispatcher") -> Any:  # noqa: F811
    return api.client.post(URL, json=body, headers=api.headers(who))


def test_a_section_is_classified_with_its_main_pollutants(api: Api) -> None:  # noqa: F811
    body = {
        "water_body": "river",
        # II (6 ≤ 6.5 < 7.5), III (4 < 5 ≤ 6), V (1.5 < 1.8 ≤ 2.0), III (0.1 < 0.15 ≤ 0.2),
        # pH I, TN 劣V but reported only
        "values": {"do": 6.5, "codmn": 5, "nh3n": 1.8, "tp": 0.15, "ph": 7.4, "tn": 3},
        "target_class": "III",
    }
    r = post(api, body, "worker")
    assert r.status_code == 200, r.text
    out = r.json()
    classes = {i["item"]: (i["water_class"], i["counted"]) for i in out["items"]}
    assert classes == {
        "do": ("II", True), "codmn": ("III", True), "nh3n": ("V", True), "tp": ("III", True),
        "ph": ("I", True), "tn": ("劣V", False),
    }  # fmt: skip
    assert (out["section_class"], out["grade"]) == ("V", "中度污染")
    # nh3n vs class III: (1.8 − 1.0)/1.0 = 0.8
    assert out["main_pollutants"] == [
        {"item": "nh3n", "name": "氨氮", "water_class": "V", "multiple": 0.8}
    ]
    assert out["attainment"] == {
        "target_class": "III", "attained": False, "gap": 2, "phrase": "劣于III类",
    }  # fmt: skip
    assert out["black_odorous"] is None


def test_lake_phosphorus_and_black_odorous_points(api: Api) -> None:  # noqa: F811
    body = {
        "water_body": "lake",
        "values": {"tp": 0.05},  # lake III (0.025 < 0.05 ≤ 0.05); a river would be II
        "black_odorous": {
            "points": [
                {"transparency_cm": 8, "do": 0.1},  # both severe → severe
                {"transparency_cm": [5, 30, 30], "orp": -100},  # SD 1/3 severe, ORP light → light
                {"transparency_cm": 40, "do": 5, "orp": 120, "nh3n": 1},  # none
            ]
        },
    }
    out = post(api, body).json()
    assert (out["section_class"], out["grade"], out["attainment"]) == ("III", "良好", None)
    bo = out["black_odorous"]
    assert [p["grade"] for p in bo["points"]] == ["severe", "light", "none"]
    assert bo["points"][1]["severe_shares"] == {"transparency_cm": 0.3333, "orp": 0.0}
    # 1 of 3 points severe (33 % < 60 %): the body is light, no run of three severe points.
    assert (bo["grade"], bo["label"], bo["severe_stretches"]) == ("light", "轻度黑臭", [])
    river = post(api, {"water_body": "river", "values": {"tp": 0.05}}).json()
    assert river["section_class"] == "II"


def test_black_odorous_alone(api: Api) -> None:  # noqa: F811
    out = post(api, {"water_body": "river", "black_odorous": {"points": [{"nh3n": 20}]}}).json()
    assert out["items"] == [] and out["section_class"] is None
    assert out["black_odorous"]["grade"] == "severe"
    # TN alone (a lake's 总氮 is judged on its own): its class, but no section class.
    out = post(api, {"water_body": "lake", "values": {"tn": 1}}).json()
    assert out["items"][0]["water_class"] == "III" and out["section_class"] is None


def test_only_logged_in_staff(api: Api) -> None:  # noqa: F811
    body = {"water_body": "river", "values": {"nh3n": 0.5}}
    assert api.client.post(URL, json=body).status_code == 401
    r = post(api, body, "resident")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_forbidden")
    assert post(api, body, "inspector").json()["section_class"] == "II"  # = the II limit


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"water_body": "river", "values": {"arsenic!": 1}}, "unknown_item"),
        ({"water_body": "river", "values": {"nh3n": -0.2}}, "value_out_of_range"),
        ({"water_body": "river", "values": {"ph": 15}}, "value_out_of_range"),
        ({"water_body": "river", "values": {"do": 25}}, "value_out_of_range"),
        ({"water_body": "river", "values": {"cod": 1e12}}, "value_out_of_range"),
        ({"water_body": "river"}, "no_items"),
        ({"water_body": "river", "values": {"tp": 0.1}, "target_class": "VI"}, "unknown_class"),
        ({"water_body": "river", "values": {"tp": 0.1}, "target_class": "劣V"}, "unknown_class"),
        ({"water_body": "sea", "values": {"tp": 0.1}}, "validation_failed"),
        ({"water_body": "river", "values": {"tp": "lots"}}, "validation_failed"),
        ({"water_body": "river", "values": {"tp": 0.1}, "colour": "brown"}, "validation_failed"),
        ({"water_body": "river", "black_odorous": {"points": []}}, "validation_failed"),
        ({"water_body": "river", "black_odorous": {"points": [{}]}}, "no_readings"),
        (
            {"water_body": "river", "black_odorous": {"points": [{"orp": 9000}]}},
            "value_out_of_range",
        ),
        (
            {"water_body": "river", "black_odorous": {"points": [{"do": 1, "depth_cm": -3}]}},
            "value_out_of_range",
        ),
    ],
)
def test_impossible_input_is_a_422_with_a_code(
    api: Api,  # noqa: F811
    body: dict[str, Any],
    code: str,
) -> None:
    r = post(api, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
