"""GeoJSON import validation lists every bad feature; export writes valid features."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import shapely
from shapely.geometry import box, mapping

from cityops.errors import ValidationFailed
from cityops.geo.geojson import feature, parse_feature_collection
from cityops.geo.models import Level

DAY = date(2024, 1, 1)


def _f(code: str, level: str, parent: str | None, geom: Any = None, **props: Any) -> dict[str, Any]:
    g = mapping(geom if geom is not None else box(106.5, 29.5, 106.51, 29.51))
    return {
        "type": "Feature",
        "geometry": g,
        "properties": {
            "code": code,
            "name": f"n{code}",
            "level": level,
            "parent_code": parent,
            **props,
        },
    }


def _fc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_good_collection_parses_in_order() -> None:
    recs = parse_feature_collection(
        _fc(
            _f("500107", "district", "500000"),
            _f("500107001", "street", "500107", valid_from="2025-11-06"),
        ),
        default_valid_from=DAY,
        known_codes={"500000"},
    )
    assert [(r.code, r.level, r.valid_from) for r in recs] == [
        ("500107", Level.district, DAY),
        ("500107001", Level.street, date(2025, 11, 6)),
    ]


def test_every_bad_feature_is_listed() -> None:
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    data = _fc(
        _f("500107", "district", "500000"),  # fine
        _f("50010700", "street", "500107"),  # wrong length for a street
        _f("500107002", "street", "500999"),  # unknown parent (and not its prefix)
        _f("500107003", "street", "500107", geom=bowtie),  # self-intersecting
        _f("500107004", "street", "500107", geom=shapely.Point(106.5, 29.5)),  # not a polygon
        _f("500107005", "village", "500107"),  # unknown level
        _f("500107001001", "community", "500107001"),  # parent nowhere
    )
    with pytest.raises(ValidationFailed) as err:
        parse_feature_collection(data, default_valid_from=DAY, known_codes={"500000"})
    problems = err.value.detail["problems"]
    assert err.value.code == "invalid_geojson"
    assert [(p["feature"], p["code"]) for p in problems] == [
        (1, "50010700"),
        (2, "500107002"),
        (3, "500107003"),
        (4, "500107004"),
        (5, "500107005"),
        (6, "500107001001"),
    ]
    by_code = {p["code"]: p["problem"] for p in problems}
    assert "9 digits" in by_code["50010700"]
    assert "Invalid" in by_code["500107003"] or "invalid" in by_code["500107003"]
    assert "unknown parent 500107001" in by_code["500107001001"]


def test_not_a_feature_collection() -> None:
    with pytest.raises(ValidationFailed):
        parse_feature_collection({"type": "Feature"}, default_valid_from=DAY)
    with pytest.raises(ValidationFailed):
        parse_feature_collection([1, 2], default_valid_from=DAY)


def test_duplicate_code_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="twice"):
        parse_feature_collection(
            _fc(_f("500107", "district", "500000"), _f("500107", "district", "500000")),
            default_valid_from=DAY,
            known_codes={"500000"},
        )


def test_export_simplifies_on_request() -> None:
    wiggly = shapely.Point(106.5, 29.5).buffer(0.01, quad_segs=64)
    full = feature(code="500107", geometry=wiggly, properties={"name": "九龙坡区"})
    simple = feature(
        code="500107", geometry=wiggly, properties={"name": "九龙坡区"}, simplify_m=100
    )
    n_full = len(full["geometry"]["coordinates"][0])
    n_simple = len(simple["geometry"]["coordinates"][0])
    assert full["id"] == "500107" and full["properties"]["name"] == "九龙坡区"
    assert n_simple < n_full / 3
    assert shapely.geometry.shape(simple["geometry"]).is_valid
