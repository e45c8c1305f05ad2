"""API shapes of the river scenario (one per direction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


# --------------------------------------------------------------- pollution events, imports (H2)
class DetectionIn(BaseModel):
    """One detection from another source; validated item by item (a bad one is its own error)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["drone", "boat", "satellite", "video"]
    external_id: str = Field(min_length=1, max_length=128, description="the source's own id")
    kind: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,39}$",
        description="floating_debris, oil_sheen, discharge_outfall, black_water, algae, …",
    )
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    confidence: float = Field(ge=0, le=1)
    image_ref: str | None = Field(default=None, min_length=1, max_length=500)
    detected_at: AwareDatetime


class DetectionBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="DetectionIn objects"
    )


class ItemError(BaseModel):
    code: str
    message: str


class DetectionResult(BaseModel):
    """One item's outcome: accepted (an event and its case), needs_review, or an error."""

    index: int
    status: Literal["accepted", "needs_review", "rejected", "error"]
    detection_id: int | None = None
    case_id: int | None = None
    event_id: int | None = None
    section: str | None = None
    distance_m: float | None = None
    duplicate: bool = Field(default=False, description="sent before: the stored outcome")
    error: ItemError | None = None


class DetectionBatchRead(BaseModel):
    items: list[DetectionResult]
    accepted: int
    needs_review: int
    errors: int


class DetectionRead(BaseModel):
    id: int
    source: str
    external_id: str
    kind: str
    lat: float
    lng: float
    confidence: float
    image_ref: str | None
    detected_at: datetime
    received_at: datetime
    status: str
    section: str
    section_name: str
    distance_m: float
    event_id: int | None
    case_id: int | None
    reviewed_by: str | None
    reviewed_at: datetime | None


class DetectionPage(BaseModel):
    items: list[DetectionRead]
    total: int


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class EventChief(BaseModel):
    staff_id: int
    name: str | None
    level: str


class EventRead(BaseModel):
    """A pollution event with its case's status, section, chief and department."""

    id: int
    case_id: int
    case_status: str
    case_title: str
    river_code: str
    river_name: str
    section: str
    section_name: str
    station_id: int | None
    source: str
    detector: str
    detected_at: datetime
    lat: float
    lng: float
    confidence: float | None
    image_ref: str | None
    chief: EventChief | None
    no_chief: bool
    department: DepartmentRef | None
    evidence: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventRead]
    total: int
