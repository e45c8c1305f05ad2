"""The category catalogue: the packaged file, and bad entries reported instead of crashing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cityops.cases.categories import TimeLimit, load_catalogue, parse_catalogue
from cityops.cases.models import CaseKind
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import DepartmentType


def _doc() -> dict[str, Any]:
    return {
        "version": 3,
        "majors": [
            {"code": "01", "name": "市政公用设施", "kind": "component"},
            {"code": "06", "name": "市容环境类", "kind": "event"},
        ],
        "categories": [
            {
                "code": "06010",
                "name": "暴露垃圾",
                "department_type": "huanwei",
                "handling_level": "street",
                "time_limit": "4h",
                "filing_criteria": "有暴露垃圾",
                "closing_criteria": "清运干净",
                "keywords": ["垃圾", "垃圾堆"],
                "auto_file": True,
            },
            {
                "code": "01002",
                "name": "污水井盖",
                "department_type": "shuiwu",
                "handling_level": "district",
                "time_limit": "2d",
                "keywords": ["井盖"],
            },
        ],
    }


def test_packaged_catalogue_loads_cleanly_with_the_cited_codes() -> None:
    cat = load_catalogue()
    assert cat.errors == []
    assert cat.version >= 1
    assert len(cat.all()) >= 70
    assert [m[0] for m in cat.majors()] == [f"{i:02d}" for i in range(1, 11)]
    for code in ["01001", "01002", "01003", "01005", "01011", "01037", "02006", "04002"]:
        assert cat.get(code).kind is CaseKind.component
    for code in ["06010", "06012", "06013", "09009", "08004"]:
        assert cat.get(code).kind is CaseKind.event
    assert cat.get("06010").name == "暴露垃圾"
    assert str(cat.get("06010").time_limit) == "4h"
    assert str(cat.get("06012").time_limit) == "2h"
    assert cat.get("08004").major_name == "施工管理类"
    assert cat.get("09009").department_type is DepartmentType.gongan


def test_every_packaged_category_is_complete() -> None:
    for c in load_catalogue().all():
        assert c.code[:2] == c.major_code
        assert c.kind is (CaseKind.component if int(c.major_code) <= 5 else CaseKind.event)
        assert c.keywords, c.code
        assert c.filing_criteria and c.closing_criteria, c.code
        assert c.handling_level in ("street", "district")


def test_parse_builds_categories_from_the_major() -> None:
    cat = parse_catalogue(_doc())
    assert cat.version == 3
    c = cat.get("01002")
    assert (c.kind, c.major_name, c.time_limit) == (
        CaseKind.component,
        "市政公用设施",
        TimeLimit(2, "day"),
    )
    assert c.auto_file is False
    assert cat.get("06010").keywords == ("垃圾", "垃圾堆")
    assert [c.code for c in cat.all()] == ["01002", "06010"]


def test_unknown_category_is_not_found_with_its_code() -> None:
    with pytest.raises(NotFound) as err:
        parse_catalogue(_doc()).get("99999")
    assert err.value.code == "unknown_category"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "06010"}, "duplicate code 06010"),
        ({"department_type": "police"}, "unknown department_type"),
        ({"time_limit": "4 hours"}, "time limit"),
        ({"time_limit": "0h"}, "positive"),
        ({"code": "11001"}, "not under any known major"),
        ({"code": "6010"}, "not 5 digits"),
        ({"major": "01"}, "declared major"),
        ({"handling_level": "city"}, "handling_level"),
        ({"auto_file": "yes"}, "auto_file"),
        ({"name": ""}, "name is missing"),
        ({"duplicate_radius_m": 0}, "duplicate_radius_m"),
        ({"duplicate_radius_m": "50m"}, "duplicate_radius_m"),
        ({"duplicate_window_hours": True}, "duplicate_window_hours"),
        ({"duplicate_window_hours": 24 * 91}, "duplicate_window_hours"),
    ],
)
def test_a_bad_entry_is_reported_and_left_out(change: dict[str, Any], message: str) -> None:
    doc = _doc()
    bad = copy.deepcopy(doc["categories"][0]) | change
    if "code" not in change:
        bad["code"] = "06012"
    doc["categories"].append(bad)
    cat = parse_catalogue(doc)
    assert len(cat.errors) == 1
    assert message in cat.errors[0]
    assert len(cat.all()) == 2  # the good ones stay


def test_bad_major_is_reported_and_its_categories_too() -> None:
    doc = _doc()
    doc["majors"][1]["kind"] = "incident"
    cat = parse_catalogue(doc)
    assert any("kind" in e for e in cat.errors)
    assert any("06010" in e and "not under any known major" in e for e in cat.errors)
    assert [c.code for c in cat.all()] == ["01002"]


@pytest.mark.parametrize("doc", [[], {"majors": [], "categories": []}, {"version": 1}])
def test_a_broken_document_is_a_validation_error(doc: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_catalogue(doc)
    assert err.value.code == "bad_catalogue"


def test_load_from_an_admin_file(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text("version: 2\nmajors: []\ncategories: []\n", encoding="utf-8")
    assert load_catalogue(path).version == 2
    path.write_text("version: [\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        load_catalogue(path)
    with pytest.raises(NotFound):
        load_catalogue(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "amount", "unit", "shown"),
    [("4h", 4, "hour", "4h"), ("5d", 5, "day", "5d"), (" 1.5h ", 1.5, "hour", "1.5h")],
)
def test_time_limit_parses_and_prints(text: str, amount: float, unit: str, shown: str) -> None:
    limit = TimeLimit.parse(text)
    assert (limit.amount, limit.unit, str(limit)) == (amount, unit, shown)


@pytest.mark.parametrize("text", ["", "4", "h", "-1h", "4w", "9999d"])
def test_bad_time_limit_is_rejected(text: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        TimeLimit.parse(text)
    assert err.value.code == "bad_time_limit"


def test_a_category_may_set_its_own_duplicate_radius_and_window() -> None:
    doc = _doc()
    doc["categories"][0] |= {"duplicate_radius_m": 200, "duplicate_window_hours": 12}
    cat = parse_catalogue(doc)
    assert cat.errors == []
    noise = cat.get("06010")
    assert (noise.duplicate_radius_m, noise.duplicate_window_hours) == (200.0, 12.0)
    cover = cat.get("01002")  # unset: the global settings apply
    assert (cover.duplicate_radius_m, cover.duplicate_window_hours) == (None, None)
