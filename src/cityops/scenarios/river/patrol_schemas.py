"""API shapes of patrols (巡河), patrol duty and patrol KPIs (one per direction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cityops.scenarios.river.patrol_track import Crs

MAX_POINTS = 5000
# A photo reference as POST /photos returns it (or a URL of a photo kept elsewhere).
PhotoRef = Annotated[str, Field(min_length=1, max_length=500)]


class PatrolCreate(BaseModel):
    """Start a patrol on a section (河段) or along a river; ``client_id`` makes it idempotent."""

    model_config = ConfigDict(extra="forbid")

    section_code: str | None = Field(default=None, max_length=40)
    river_code: str | None = Field(default=None, max_length=32)
    client_id: str = Field(min_length=1, max_length=64, description="the phone's patrol id")
    started_at: AwareDatetime | None = Field(default=None, description="default: now")

    @model_validator(mode="after")
    def _one_place(self) -> PatrolCreate:
        if (self.section_code is None) == (self.river_code is None):
            raise ValueError("give section_code or river_code, not both")
        return self


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t: AwareDatetime = Field(description="when the fix was taken, with its time zone")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class PointsIn(BaseModel):
    """A batch of fixes; batches may arrive late, twice or out of order."""

    model_config = ConfigDict(extra="forbid")

    crs: Crs = "wgs84"
    points: list[PointIn] = Field(min_length=1, max_length=MAX_POINTS)


class PointsRead(BaseModel):
    """What a batch did. ``stored`` = ``accepted`` + ``flagged``; ``repeated`` fixes were
    already stored (same time and place) and were not stored again."""

    patrol_id: int
    received: int
    stored: int
    accepted: int
    flagged: int
    repeated: int
    flags: dict[str, int] = Field(description="the batch's stored fixes by flag")
    point_count: int
    flagged_count: int
    mileage_m: float
    duration_s: float


class IssueCreate(BaseModel):
    """A problem found on the patrol; it becomes a case (channel ``patrol``)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=4000)
    category: str = Field(default="06025", pattern=r"^\d{5}$", description="default 水域不洁")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    crs: Crs = "wgs84"
    photos: list[PhotoRef] = Field(default_factory=list, max_length=20)
    title: str | None = Field(default=None, max_length=120)
    address: str | None = Field(default=None, max_length=200)


class IssueRead(BaseModel):
    id: int
    patrol_id: int
    case_id: int
    case_no: str
    category_code: str
    title: str
    status: str
    reported_at: datetime
    handled_at: datetime | None
    closed_at: datetime | None
    lat: float
    lng: float
    section_code: str | None
    duplicate: bool = Field(default=False, description="joined an open case it repeats")


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_at: AwareDatetime | None = Field(default=None, description="default: now")


class PatrolRead(BaseModel):
    id: int
    staff_id: int
    staff_name: str
    river_code: str
    river_name: str
    section_code: str | None
    section_name: str | None
    client_id: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    mileage_m: float
    duration_s: float
    coverage: float | None = Field(description="share 0..1 of the patrol's sections covered")
    point_count: int
    flagged_count: int
    issue_count: int


class SectionCoverage(BaseModel):
    code: str
    name: str
    length_km: float
    share: float
    intervals: list[tuple[float, float]]


class PatrolDetail(PatrolRead):
    track: dict[str, Any] = Field(description="GeoJSON Feature, MultiLineString of the stretches")
    flagged_points: dict[str, Any] = Field(description="GeoJSON FeatureCollection of flagged fixes")
    sections: list[SectionCoverage]
    issues: list[IssueRead]


class PatrolPage(BaseModel):
    items: list[PatrolRead]
    total: int
    page: int
    page_size: int


class DutySectionRead(BaseModel):
    code: str
    name: str
    river_name: str
    status: str  # done | due | overdue | not_yet
    last_patrol_at: datetime | None
    due_date: date
    overdue_days: int
    missed_periods: int


class DutyChiefRead(BaseModel):
    staff_id: int
    name: str
    level: str
    every: str
    status: str
    last_patrol_at: datetime | None
    due_date: date
    overdue_days: int
    sections: list[DutySectionRead]


class DutyRuleRead(BaseModel):
    level: str
    every: str
    name: str


class DutyPage(BaseModel):
    as_of: date
    rules: list[DutyRuleRead]
    rule_errors: list[str]
    items: list[DutyChiefRead]
    total: int


class KpiRowRead(BaseModel):
    key: str
    name: str
    levels: list[str] = Field(description="a chief's levels; empty for a river")
    sections: int
    section_km: float
    patrols: int
    mileage_km: float
    covered_km: float
    coverage: float | None
    issues_found: int
    issues_handled: int
    issues_closed: int
    completion_rate: float | None
    mean_handle_hours: float | None


class KpiPage(BaseModel):
    start: date
    end: date
    by: str
    items: list[KpiRowRead]
