"""Shapes of the map: the import/export record and the API answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from shapely.geometry.base import BaseGeometry

from cityops.geo.models import Level

# Code length per level: GB/T 2260 (6), GB/T 10114 (+3), 社区/村 (+3), 单元网格 (+3; DB11 style).
CODE_LENGTH: dict[Level, int] = {
    Level.city: 6,
    Level.district: 6,
    Level.street: 9,
    Level.community: 12,
    Level.grid: 15,
}


@dataclass(frozen=True, slots=True)
class JurisdictionRecord:
    """One area ready for the bulk insert (WGS84 lng/lat geometry)."""

    code: str
    name: str
    level: Level
    parent_code: str | None
    geometry: BaseGeometry | None
    valid_from: date
    valid_to: date | None = None
    successor_code: str | None = None


def codes_of(code: str, level: Level) -> tuple[str | None, str | None, str | None]:
    """(district, street, community) codes implied by a hierarchical code."""
    depth = {Level.city: 0, Level.district: 1, Level.street: 2, Level.community: 3, Level.grid: 4}
    d = depth[level]
    return (
        code[:6] if d >= 1 else None,
        code[:9] if d >= 2 else None,
        code[:12] if d >= 3 else None,
    )


class Area(BaseModel):
    """A code with its name."""

    code: str
    name: str | None


class LocateResult(BaseModel):
    """Where a point lies (落图): the four levels, None where the map stops above."""

    lat: float
    lng: float
    district: Area | None
    street: Area | None
    community: Area | None
    grid: Area | None


class Feature(BaseModel):
    """A GeoJSON feature of one jurisdiction."""

    type: str = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: str = "FeatureCollection"
    features: list[Feature]
    truncated: bool = False
