"""HTTP routes of the map: GeoJSON of jurisdictions, point location (落图), one area."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Query

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.errors import ValidationFailed
from cityops.geo import service
from cityops.geo.coords import gcj02_to_wgs84
from cityops.geo.geojson import feature
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import Area, Feature, FeatureCollection, LocateResult

router = APIRouter(prefix="/jurisdictions", tags=["geo"])

MAX_FEATURES = 5000


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        parts = tuple(float(p) for p in raw.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (parts[0] <= parts[2] and parts[1] <= parts[3]):
        raise ValidationFailed(
            "bbox must be minLng,minLat,maxLng,maxLat with min <= max", code="invalid_bbox"
        )
    return parts[0], parts[1], parts[2], parts[3]


def _props(row: Jurisdiction) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "level": row.level.value,
        "parent_code": row.parent_code,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "successor_code": row.successor_code,
        "area_m2": round(row.area_m2, 1) if row.area_m2 is not None else None,
        "center": [row.center_lng, row.center_lat] if row.center_lng is not None else None,
    }


def _feature(row: Jurisdiction, simplify: float | None, **extra: Any) -> Feature:
    geom = shapely.from_wkb(row.geometry) if row.geometry else None
    data = feature(
        code=row.code, geometry=geom, properties=_props(row) | extra, simplify_m=simplify
    )
    return Feature(id=data["id"], geometry=data["geometry"], properties=data["properties"])


Simplify = Annotated[float | None, Query(ge=0, le=100_000, description="tolerance in metres")]


@router.get("", response_model=FeatureCollection)
def list_jurisdictions(
    user: CurrentUser,
    session: SessionDep,
    level: Level | None = None,
    parent: str | None = None,
    bbox: Annotated[str | None, Query(description="minLng,minLat,maxLng,maxLat")] = None,
    simplify: Simplify = None,
    include_retired: bool = False,
    on: date | None = None,
) -> FeatureCollection:
    """Jurisdictions as a GeoJSON FeatureCollection; over 5000 features needs a bbox."""
    del user
    box = _bbox(bbox)
    total, rows = service.query_jurisdictions(
        session=session,
        level=level,
        parent=parent,
        bbox=box,
        include_retired=include_retired,
        on=on,
        limit=MAX_FEATURES,
    )
    if total > MAX_FEATURES and box is None:
        raise ValidationFailed(
            f"{total} features match; narrow the query with level, parent or bbox "
            f"(at most {MAX_FEATURES} without bbox)",
            code="too_many_features",
            total=total,
        )
    features = [_feature(r, simplify) for r in rows]
    return FeatureCollection(features=features, truncated=total > len(rows))


@router.get("/locate", response_model=LocateResult)
def locate(
    user: CurrentUser,
    ctx: Ctx,
    session: SessionDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    crs: Literal["WGS84", "GCJ-02"] = "WGS84",
) -> LocateResult:
    """The district, street, community and grid holding a point (coordinates answered in WGS84)."""
    del user
    if crs == "GCJ-02":
        lng, lat = gcj02_to_wgs84(lng, lat)
    index = service.get_index(ctx, session)
    where = index.locate(lng, lat)
    if where is None:
        raise ValidationFailed(f"({lat:.6f}, {lng:.6f}) is outside the city", code="outside_city")

    def area(code: str | None) -> Area | None:
        return Area(code=code, name=index.name_of(code)) if code else None

    return LocateResult(
        lat=lat,
        lng=lng,
        district=area(where.district_code),
        street=area(where.street_code),
        community=area(where.community_code),
        grid=area(where.grid_code),
    )


@router.get("/{code}", response_model=Feature)
def get_jurisdiction(
    code: str,
    user: CurrentUser,
    session: SessionDep,
    simplify: Simplify = None,
    on: date | None = None,
) -> Feature:
    """One jurisdiction (the current row, else its latest) with the number of its children."""
    del user
    row = service.get_jurisdiction(session=session, code=code, on=on)
    children = service.children_count(session=session, code=row.code, on=on)
    return _feature(row, simplify, children_count=children)
