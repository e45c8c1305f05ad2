"""API shapes for alarms, plans and firings (read side, plus the acknowledgement)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AlarmRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: str
    instance: str = Field(description="the source: ds:<datastream id> or a group key")
    state: str
    severity: str
    message: str
    jurisdiction_code: str | None
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    escalated_at: datetime | None
    notify_count: int
    flapping: bool
    case_id: int | None


class AlarmPage(BaseModel):
    items: list[AlarmRead]


class AcknowledgeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=500)


class PlanRead(BaseModel):
    id: str
    name: str
    description: str
    enabled: bool
    unit: str | None
    params: dict[str, float | int | str]
    kind: str = Field(description="trigger | schedule")
    instances: int | None = Field(description="sources bound by the running engine, if any")
    definition: dict[str, Any]


class DisabledRead(BaseModel):
    name: str
    reason: str


class PlansPage(BaseModel):
    items: list[PlanRead]
    disabled: list[DisabledRead]


class FiringRead(BaseModel):
    id: int
    at: datetime
    plan_id: str
    source: str
    event: str
    trace: dict[str, Any]
