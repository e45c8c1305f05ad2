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


# --- Stations and water quality over a period (issue 6: stations.py, quality.py) -------------


class StationValue(BaseModel):
    """A station's newest reading of one item (null until one arrives)."""

    item: str
    name: str
    unit: str
    datastream_id: int
    value: float | None
    time: datetime | None
    water_class: str | None = Field(description="GB 3838 class of the value; null: not a GB item")


class StationRead(BaseModel):
    code: str
    name: str
    section_code: str
    section_name: str
    river_code: str
    river_name: str
    lat: float
    lng: float
    km: float = Field(description="along the river from its upstream end")
    active: bool
    target_class: str = Field(description="the section's target (目标水质类别)")
    latest_class: str | None = Field(description="single-factor class of the latest values")
    latest_grade: str | None
    attained: bool | None = Field(description="latest class meets the target; null: no data")
    latest_time: datetime | None
    values: list[StationValue]


class StationList(BaseModel):
    items: list[StationRead]
    total: int


class SeriesPoint(BaseModel):
    t: datetime
    v: float


class SeriesRead(BaseModel):
    station: str
    item: str
    unit: str
    start: datetime
    end: datetime
    step_seconds: int | None = Field(description="bucket width of averaged points; null: raw")
    points: list[SeriesPoint]


class ItemMean(BaseModel):
    """One item's mean over the period (the mean of the hours with data)."""

    item: str
    name: str
    unit: str
    mean: float | None
    hours: int = Field(description="hours with data (a section: summed over its stations)")
    water_class: str | None = Field(description="null: no data, or not a GB 3838 item")
    counted: bool = Field(description="counts for the single-factor class")
    passed: bool | None = Field(description="pH only: inside GB 3838's 6–9")


class StationQuality(BaseModel):
    code: str
    name: str
    km: float
    water_class: str | None
    grade: str | None
    items: list[ItemMean]
    main_pollutants: list[PollutantRead]


class SectionRef(BaseModel):
    code: str
    name: str
    river_code: str
    river_name: str
    target_class: str
    water_body: WaterBody


class SectionQualityRead(BaseModel):
    section: SectionRef
    start: date
    end: date = Field(description="inclusive (China Standard Time days)")
    water_class: str | None
    grade: str | None
    attainment: AttainmentRead | None
    main_pollutants: list[PollutantRead]
    items: list[ItemMean]
    stations: list[StationQuality]


Method = Literal["average", "share"]


class BasinRow(BaseModel):
    """A river's (or the whole basin's) grade over the period."""

    code: str
    name: str
    sections: int = Field(description="sections in the caller's jurisdiction")
    assessed: int = Field(description="of those, sections with data")
    class_counts: dict[str, int] = Field(description="assessed sections per class I..劣V")
    good_share: float | None = Field(description="share of assessed sections in I–III")
    worst_share: float | None = Field(description="share in 劣V")
    method: Method | None = Field(description="average (< 5 assessed) or share rule; null: none")
    water_class: str | None = Field(description="the averaged values' class (average method)")
    grade: str | None
    attained: int = Field(description="assessed sections meeting their target")


class BasinRead(BaseModel):
    start: date
    end: date
    rivers: list[BasinRow]
    basin: BasinRow


class ItemInfo(BaseModel):
    item: str
    name: str
    unit: str


class TrendMonth(BaseModel):
    month: str  # YYYY-MM
    assessed: int
    method: Method | None
    water_class: str | None
    grade: str | None
    good_share: float | None
    means: dict[str, float | None] = Field(description="per GB item, the sections' average")


class TrendRead(BaseModel):
    river_code: str
    river_name: str
    items: list[ItemInfo]
    months: list[TrendMonth]
