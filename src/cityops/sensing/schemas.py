"""API shapes for the sensing routes (one per direction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RejectionRead(BaseModel):
    index: int
    reason: str
    message: str


class IngestRead(BaseModel):
    """What happened to a posted batch."""

    accepted: int
    stored: int
    duplicates: int
    rejected: list[RejectionRead]


class PointRead(BaseModel):
    """A raw reading, or an aggregate bucket (count/mean/min/max) when ``agg`` is 1m or 1h."""

    time: datetime
    result: Any = None
    count: int | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class SeriesRead(BaseModel):
    datastream_id: int
    agg: str
    points: list[PointRead]


class LatestRead(BaseModel):
    datastream_id: int
    lat: float | None
    lng: float | None
    result: Any
    phenomenon_time: datetime | None


class LatestPage(BaseModel):
    count: int
    items: list[LatestRead]


class ThingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    properties: dict[str, Any] | None
    component_id: int | None
    is_actuator: bool
    command_topic: str | None


class DatastreamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    unit_of_measurement: dict[str, Any]
    observation_type: str
    thing_id: int
    sensor_id: int
    observed_property_id: int
    lat: float | None
    lng: float | None
    latest_result: float | None
    latest_result_json: Any = None
    latest_phenomenon_time: datetime | None
