"""API shapes of the community cockpit (one per direction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cityops.cases.models import CaseStatus


class CommunityRef(BaseModel):
    code: str
    name: str
    street_code: str | None
    district_code: str | None


class TwinCollection(BaseModel):
    """GeoJSON FeatureCollection; each feature's ``properties.layer`` is one of boundary,
    building, road, facility, camera, device, case. ``truncated``: more open cases than shown."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    community: CommunityRef
    features: list[dict[str, Any]]
    truncated: bool = False


class TwinSummary(BaseModel):
    """What ``ensure_twin`` found or made."""

    community_code: str
    created: bool
    buildings: int
    roads: int
    facilities: int
    cameras: int


class FacilityRead(BaseModel):
    id: int
    kind: str
    name: str
    lat: float
    lng: float
    opening_hours: str
    building_id: int | None


class CameraRead(BaseModel):
    """A camera; ``snapshot_url`` and ``stream_url`` open in a browser tab without a login."""

    id: int
    name: str
    lat: float
    lng: float
    building_id: int | None
    status: str
    snapshot_url: str
    stream_url: str


class StreamRead(BaseModel):
    id: int
    name: str
    unit: str
    result: Any = None
    phenomenon_time: datetime | None


class DeviceRead(BaseModel):
    """A sensing Thing in the community with its datastreams' latest values."""

    id: int
    name: str
    lat: float
    lng: float
    kind: str | None
    is_actuator: bool
    building_id: int | None
    datastreams: list[StreamRead]


class IssueRead(BaseModel):
    """An open case shown on the twin (text masked; never the reporter)."""

    id: int
    case_no: str
    category_code: str
    category_name: str | None
    title: str
    status: CaseStatus
    status_zh: str
    channel: str
    reported_at: datetime
    lat: float
    lng: float
    building_id: int | None


class BuildingDetail(BaseModel):
    id: int
    community_code: str
    name: str
    kind: str
    floors: int
    households: int
    residents: int
    elderly: int
    year_built: int | None
    footprint: dict[str, Any]
    facilities: list[FacilityRead]
    cameras: list[CameraRead]
    devices: list[DeviceRead]
    open_issues: list[IssueRead]
    open_issues_truncated: bool = False


class MetricRead(BaseModel):
    key: str
    label_zh: str
    label_en: str
    value: int | float | str | None
    unit: str
    source: Literal["data", "generated"] = Field(
        description="data: counted from the database; generated: a demo constant"
    )


class BoardRead(BaseModel):
    key: str
    title_zh: str
    title_en: str
    metrics: list[MetricRead]
    items: list[dict[str, Any]]


class BoardsRead(BaseModel):
    community: CommunityRef
    at: datetime
    boards: list[BoardRead]


class ReportRead(BaseModel):
    """A resident's report (居民上报) with its status; phone and ID numbers masked, no name."""

    id: int
    case_no: str
    category_code: str
    category_name: str | None
    title: str
    description: str
    address: str | None
    status: CaseStatus
    status_zh: str
    reported_at: datetime
    closed_at: datetime | None
    satisfaction: int | None
    lat: float
    lng: float


class ReportPage(BaseModel):
    community: CommunityRef
    items: list[ReportRead]
    next_cursor: str | None
