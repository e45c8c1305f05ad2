"""API shapes of the resident's own views: nearby cases, my cases with their steps, ratings,
reopenings and notifications. Nothing here names a person other than the reader."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityops.cases.models import CaseStatus, ClosingType


class NearbyRead(BaseModel):
    """An open case near the point, as offered before filing (是同一个问题吗？)."""

    id: int
    category_code: str
    category_name: str | None
    status: CaseStatus
    status_zh: str
    distance_m: float
    summary: str = Field(description="the description, personal data masked, at most 120 chars")
    reported_at: datetime
    report_count: int
    photos: list[str] = Field(description="photo references (GET /photos/{ref}), at most 3")
    following: bool


class NearbyPage(BaseModel):
    category: str
    radius_m: float
    window_hours: float
    items: list[NearbyRead]


class StepRead(BaseModel):
    """One real step of the case, from the ledger, as the resident may see it."""

    action: str
    name: str = Field(description="the step's Chinese name")
    at: datetime
    by: str = Field(description="who acted, by role (field_worker, inspector, system, …)")
    status: CaseStatus | None = Field(description="the case's status after the step")
    reason: str | None = None
    photos: list[str] = Field(default_factory=list)
    detail: dict[str, object] = Field(default_factory=dict)


class MyCaseRead(BaseModel):
    """A case I reported or follow, with every real step and what I may do now."""

    id: int
    case_no: str
    category_code: str
    category_name: str | None
    title: str
    description: str
    address: str | None = Field(description="only for the reporter")
    status: CaseStatus
    status_zh: str
    relation: str = Field(description="reporter, duplicate, auto_duplicate or follow")
    reported_at: datetime
    deadline_at: datetime | None
    closed_at: datetime | None
    closing_type: ClosingType | None
    report_count: int
    satisfaction: int | None = Field(description="the reporter's rating; only for the reporter")
    rating_comment: str | None = None
    photos: list[str]
    steps: list[StepRead]
    can_confirm: bool
    can_rate: bool
    can_reopen: bool
    reopen_until: datetime | None
    unread: int = Field(description="my unread notifications about the case")


class MyCasePage(BaseModel):
    items: list[MyCaseRead]
    total: int
    limit: int
    offset: int


class ConfirmCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=500)


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    satisfaction: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)


class ReopenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    photos: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("reason")
    @classmethod
    def _said(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("say what is still wrong")
        return text.strip()


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    kind: str
    status: CaseStatus
    text: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int
    unread: int
    limit: int
    offset: int
