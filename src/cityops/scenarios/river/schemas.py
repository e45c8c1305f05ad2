"""API shapes of the river scenario (one per direction)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cityops.scenarios.river.standards import WaterBody

Readings = float | list[float] | None


class PointIn(BaseModel):
    """One monitoring point's black-odorous readings: a number, or its series of samples."""

    model_config = ConfigDict(extra="forbid")

    transparency_cm: Readings = Field(default=None, description="透明度 SD, cm")
    do: Readings = Field(default=None, description="溶解氧, mg/L")
    orp: Readings = Field(default=None, description="氧化还原电位, mV")
    nh3n: Readings = Field(default=None, description="氨氮, mg/L")
    depth_cm: float | None = Field(default=None, description="water depth; < 25 cm changes SD")


class BlackOdorousIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1, max_length=1000, description="in order along it")


class AssessIn(BaseModel):
    """Item concentrations (mg/L; pH unitless; fecal coliform per L) keyed by item code."""

    model_config = ConfigDict(extra="forbid")

    water_body: WaterBody
    values: dict[str, float] = Field(default_factory=dict, max_length=100)
    target_class: str | None = Field(
        default=None, description="I..V; main pollutants vs III if unset"
    )
    do_saturation_pct: float | None = Field(default=None, ge=0, le=300)
    black_odorous: BlackOdorousIn | None = None


class ItemRead(BaseModel):
    item: str
    name: str
    unit: str
    value: float
    water_class: str  # I..V or 劣V
    counted: bool  # false: reported only (TN, fecal coliform), not in the section class


class PollutantRead(BaseModel):
    item: str
    name: str
    water_class: str
    multiple: float | None  # 超标倍数 (C − Cs)/Cs vs the target class, 2 decimals; None: pH, DO


class AttainmentRead(BaseModel):
    target_class: str
    attained: bool
    gap: int
    phrase: str  # 符合III类 / 劣于III类


class PointRead(BaseModel):
    grade: str  # none | light | severe
    label: str
    severe_shares: dict[str, float]


class BlackOdorousRead(BaseModel):
    grade: str
    label: str
    severe_share: float
    severe_stretches: list[tuple[int, int]]
    points: list[PointRead]


class AssessRead(BaseModel):
    water_body: WaterBody
    items: list[ItemRead]
    section_class: str | None
    grade: str | None  # 优 良好 轻度污染 中度污染 重度污染
    main_pollutants: list[PollutantRead]
    attainment: AttainmentRead | None
    black_odorous: BlackOdorousRead | None


class DepartmentRef(BaseModel):
    id: int
    code: str
    name: str
    type: str


class ChiefRead(BaseModel):
    """One level's 河长; ``vacant`` when nobody holds the post (name and role are then null)."""

    level: str
    staff_id: int | None
    name: str | None
    role: str | None
    department: str | None
    since: date
    vacant: bool


class RiverRead(BaseModel):
    code: str
    name: str
    kind: str
    parent_code: str | None
    length_km: float
    basin_area_km2: float | None
    sections: int = Field(description="sections inside the caller's jurisdiction")
    flagged_sections: int = Field(description="of those, sections with a vacant chief post")


class RiverList(BaseModel):
    items: list[RiverRead]
    total: int


class SectionRead(BaseModel):
    code: str
    name: str
    river_code: str
    river_name: str
    district_code: str
    street_code: str
    target_class: str
    water_body: WaterBody
    length_km: float
    department: DepartmentRef | None
    chiefs: list[ChiefRead]
    vacant_levels: list[str]
    flagged: bool = Field(description="a chief post is vacant or no department is responsible")
    geometry: dict[str, Any]
