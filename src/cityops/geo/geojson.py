"""GeoJSON in and out of the map: parse and validate a FeatureCollection, write features.

Pure: no database. Validation collects every problem, so one import reports all bad features.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from cityops.errors import ValidationFailed
from cityops.geo.models import Level
from cityops.geo.schemas import CODE_LENGTH, JurisdictionRecord

METRES_PER_DEGREE = 111_320.0
_MAX_LISTED = 100


def _problem(index: int, code: Any, message: str) -> dict[str, Any]:
    return {"feature": index, "code": code, "problem": message}


def _parse_geometry(raw: Any) -> tuple[BaseGeometry | None, str | None]:
    if not isinstance(raw, Mapping):
        return None, "geometry missing"
    try:
        geom = shapely.geometry.shape(raw)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        return None, f"unreadable geometry: {exc}"
    except shapely.errors.ShapelyError as exc:
        return None, f"unreadable geometry: {exc}"
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None, f"geometry must be Polygon or MultiPolygon, not {geom.geom_type}"
    if geom.is_empty:
        return None, "geometry is empty"
    if not geom.is_valid:
        return None, f"invalid geometry: {shapely.is_valid_reason(geom)}"
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        return None, "coordinates must be WGS84 longitude/latitude"
    return geom, None


def _parse_date(value: Any, default: date) -> date:
    if value in (None, ""):
        return default
    return date.fromisoformat(str(value))


def _check_code(code: str, level: Level, parent: str | None) -> str | None:
    want = CODE_LENGTH[level]
    if not code.isdigit() or len(code) != want:
        return f"a {level.value} code has {want} digits, got {code!r}"
    if level == Level.city:
        return None
    if not parent:
        return "parent_code is required below the city"
    if level != Level.district and not code.startswith(parent):
        return f"code {code} does not start with its parent code {parent}"
    return None


def parse_feature_collection(
    data: Any, *, default_valid_from: date, known_codes: Collection[str] = ()
) -> list[JurisdictionRecord]:
    """Records from a FeatureCollection; ValidationFailed lists every bad feature.

    A parent must be in the collection or among ``known_codes`` (the current map).
    """
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise ValidationFailed("expected a GeoJSON FeatureCollection", code="invalid_geojson")
    features = data.get("features")
    if not isinstance(features, Sequence) or isinstance(features, str | bytes):
        raise ValidationFailed("FeatureCollection.features must be a list", code="invalid_geojson")
    problems: list[dict[str, Any]] = []
    records: list[JurisdictionRecord] = []
    positions: list[int] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, Mapping) else None
        if not isinstance(props, Mapping):
            problems.append(_problem(i, None, "feature without properties"))
            continue
        code, name = str(props.get("code") or ""), str(props.get("name") or "").strip()
        parent = str(props["parent_code"]) if props.get("parent_code") else None
        try:
            level = Level(str(props.get("level")))
        except ValueError:
            problems.append(_problem(i, code, f"unknown level {props.get('level')!r}"))
            continue
        bad = _check_code(code, level, parent) or (None if name else "name is required")
        if bad is None and code in seen:
            bad = f"code {code} appears twice"
        geom, geom_problem = _parse_geometry(feature.get("geometry"))
        try:
            valid_from = _parse_date(props.get("valid_from"), default_valid_from)
        except ValueError:
            bad = bad or f"valid_from {props.get('valid_from')!r} is not a date (YYYY-MM-DD)"
            valid_from = default_valid_from
        if bad or geom_problem:
            problems.append(_problem(i, code, bad or str(geom_problem)))
            continue
        seen.add(code)
        positions.append(i)
        records.append(JurisdictionRecord(code, name, level, parent, geom, valid_from))
    known = set(known_codes) | seen
    for i, rec in zip(positions, records, strict=True):
        if rec.parent_code and rec.parent_code not in known:
            problems.append(_problem(i, rec.code, f"unknown parent {rec.parent_code}"))
    problems.sort(key=lambda p: int(p["feature"]))
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"{len(problems)} feature(s) rejected; first: feature {first['feature']} "
            f"({first['code']}): {first['problem']}",
            code="invalid_geojson",
            problems=problems[:_MAX_LISTED],
        )
    return records


def geometry_json(geom: BaseGeometry | None, *, simplify_m: float | None = None) -> Any:
    """GeoJSON geometry dict, optionally simplified (tolerance in metres, topology kept)."""
    if geom is None:
        return None
    if simplify_m and simplify_m > 0:
        geom = shapely.simplify(geom, simplify_m / METRES_PER_DEGREE, preserve_topology=True)
    geom = shapely.set_precision(geom, 1e-7)  # about 1 cm; keeps the payload small
    return shapely.geometry.mapping(geom)


def feature(
    *,
    code: str,
    geometry: BaseGeometry | None,
    properties: Mapping[str, Any],
    simplify_m: float | None = None,
) -> dict[str, Any]:
    """One GeoJSON Feature with the code as its id."""
    return {
        "type": "Feature",
        "id": code,
        "geometry": geometry_json(geometry, simplify_m=simplify_m),
        "properties": dict(properties),
    }
