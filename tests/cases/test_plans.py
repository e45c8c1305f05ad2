"""Dispatch plans: most specific match, responsibility rules, bad plans disabled."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cityops.cases.categories import Catalogue, load_catalogue
from cityops.cases.plans import (
    EscalationStep,
    load_plans,
    parse_plans,
)
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import DepartmentType

CAT: Catalogue = load_catalogue()
JIANGBEI, GUANYINQIAO = "500105", "500105001"
YUZHONG, JIEFANGBEI = "500103", "500103002"

STEPS = [{"at": 0.8, "level": 1, "to": "street"}, {"at": 1.0, "level": 2, "to": "district"}]


def _doc() -> dict[str, Any]:
    return {
        "plans": [
            {"id": "default", "match": {"categories": ["*"], "jurisdictions": ["*"]}},
            {
                "id": "env-major",
                "match": {"categories": ["06"], "jurisdictions": ["*"]},
                "escalation": STEPS,
            },
            {"id": "garbage", "match": {"categories": ["06010"], "jurisdictions": ["*"]}},
            {
                "id": "jb-any",
                "match": {"categories": ["*"], "jurisdictions": [JIANGBEI]},
                "notify": ["dispatcher"],
            },
            {
                "id": "gyq-garbage",
                "match": {"categories": ["06010"], "jurisdictions": [GUANYINQIAO]},
                "handling_level": "district",
                "department_type": "chengguan",
            },
        ]
    }


def _resolve(plans: Any, code: str, district: str, street: str, *, has_owner: bool = False) -> Any:
    return plans.resolve(
        category=CAT.get(code), district_code=district, street_code=street, has_owner=has_owner
    )


def test_most_specific_plan_wins() -> None:
    plans = parse_plans(_doc(), CAT)
    assert plans.errors == []
    # Street prefix beats district prefix beats '*'.
    assert _resolve(plans, "06010", JIANGBEI, GUANYINQIAO).plan_id == "gyq-garbage"
    assert _resolve(plans, "06010", JIANGBEI, "500105002").plan_id == "jb-any"
    # Same place rank: exact code over major over '*'.
    assert _resolve(plans, "06010", YUZHONG, JIEFANGBEI).plan_id == "garbage"
    assert _resolve(plans, "06012", YUZHONG, JIEFANGBEI).plan_id == "env-major"
    assert _resolve(plans, "09009", YUZHONG, JIEFANGBEI).plan_id == "default"


def test_overrides_and_category_defaults() -> None:
    plans = parse_plans(_doc(), CAT)
    r = _resolve(plans, "06010", JIANGBEI, GUANYINQIAO)
    assert (r.department_type, r.handling_level) == (DepartmentType.chengguan, "district")
    assert any("chengguan" in reason for reason in r.reasons)
    r = _resolve(plans, "06012", YUZHONG, JIEFANGBEI)
    assert (r.department_type, r.handling_level) == (DepartmentType.huanwei, "street")
    assert r.escalation == (
        EscalationStep(0.8, 1, "street", ()),
        EscalationStep(1.0, 2, "district", ()),
    )
    assert _resolve(plans, "09009", JIANGBEI, "500105009").notify == ("dispatcher",)


def test_component_with_owner_goes_owner_first() -> None:
    plans = parse_plans(_doc(), CAT)
    r = _resolve(plans, "01002", YUZHONG, JIEFANGBEI, has_owner=True)
    assert r.responsibility == "owner_first" and r.use_owner
    assert any("先属主" in reason for reason in r.reasons)
    r = _resolve(plans, "01002", YUZHONG, JIEFANGBEI, has_owner=False)
    assert r.responsibility == "owner_first" and not r.use_owner
    assert r.department_type is DepartmentType.shuiwu
    assert any("属地" in reason for reason in r.reasons)


def test_event_goes_territory_first_even_with_an_owner() -> None:
    r = _resolve(parse_plans(_doc(), CAT), "06010", YUZHONG, JIEFANGBEI, has_owner=True)
    assert r.responsibility == "territory_first" and not r.use_owner
    assert any("先属地" in reason for reason in r.reasons)


def test_plan_can_set_responsibility() -> None:
    doc = _doc()
    doc["plans"][2]["responsibility"] = "owner_first"
    r = _resolve(parse_plans(doc, CAT), "06010", YUZHONG, JIEFANGBEI, has_owner=True)
    assert r.use_owner


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"match": {"categories": ["77777"], "jurisdictions": ["*"]}}, "no category"),
        ({"match": {"categories": ["06"], "jurisdictions": ["江北"]}}, "code prefix"),
        ({"match": {"categories": [], "jurisdictions": ["*"]}}, "non-empty"),
        ({"department_type": "police"}, "department_type"),
        ({"handling_level": "city"}, "handling_level"),
        ({"responsibility": "whoever"}, "responsibility"),
        ({"notify": ["mayor"]}, "unknown roles"),
        ({"escalation": [{"at": 1.0, "level": 1, "to": "province"}]}, "street, district"),
        ({"escalation": [{"at": 0, "level": 1, "to": "street"}]}, "fraction"),
        ({"escalation": [{"at": 1.0, "level": 0, "to": "street"}]}, "level"),
        ({"escalation": list(reversed(STEPS))}, "later"),
        ({"id": "default"}, "duplicate plan id"),
    ],
)
def test_bad_plan_is_disabled_and_reported(change: dict[str, Any], message: str) -> None:
    doc = _doc()
    bad = copy.deepcopy(doc["plans"][2]) | change
    doc["plans"][2] = bad
    plans = parse_plans(doc, CAT)
    assert len(plans.errors) == 1 and message in plans.errors[0], plans.errors
    assert "disabled" in plans.errors[0]
    # The other plans still work; garbage falls back to the major plan.
    assert _resolve(plans, "06010", YUZHONG, JIEFANGBEI).plan_id == "env-major"


def test_missing_default_plan_is_reported_and_a_builtin_used() -> None:
    doc = _doc()
    del doc["plans"][0]
    plans = parse_plans(doc, CAT)
    assert any("no default plan" in e for e in plans.errors)
    r = _resolve(plans, "09009", YUZHONG, JIEFANGBEI)
    assert r.plan_id == "builtin-default"
    assert [s.at for s in r.escalation] == [0.8, 1.0, 1.5]


def test_broken_document_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        parse_plans({"plan": []}, CAT)


def test_packaged_plans_load_cleanly() -> None:
    plans = load_plans(CAT)
    assert plans.errors == []
    assert plans.get("default").escalation[0].at == 0.8
    cover = _resolve(plans, "01011", YUZHONG, JIEFANGBEI, has_owner=True)
    assert cover.plan_id == "manhole-covers" and cover.use_owner
    parking = _resolve(plans, "09009", JIANGBEI, GUANYINQIAO)
    assert parking.plan_id == "jiangbei-sidewalk-parking"
    assert parking.department_type is DepartmentType.chengguan
    assert _resolve(plans, "09009", YUZHONG, JIEFANGBEI).department_type is DepartmentType.gongan
    with pytest.raises(NotFound):
        plans.get("nope")


def test_load_plans_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text("plans: [\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        load_plans(CAT, path)
    with pytest.raises(NotFound):
        load_plans(CAT, tmp_path / "missing.yaml")
