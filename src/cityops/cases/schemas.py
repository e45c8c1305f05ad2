"""API shapes, one per direction.

``CaseCreate``, ``TransitionCreate``, ``CaseRead``, ``CasePage``, ``KpiRead``, ``KpiPage``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityops.cases.kpi_query import KpiRow
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseKind, CaseStatus, Channel, ClosingType


class Point(BaseModel):
    """A WGS84 point; ``crs: GCJ-02`` (what WeChat returns) is converted on intake."""

    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    crs: Literal["WGS84", "GCJ-02"] = "WGS84"


class CaseCreate(BaseModel):
    """A report of a problem, from any channel."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        default=None,
        min_length=5,
        max_length=5,
        pattern=r"^\d{5}$",
        description="小类代码, e.g. 06010; absent: classified from the description",
    )
    channel: Channel
    location: Point | None = Field(
        default=None, description="absent: the place named in the address or description"
    )
    title: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=4000)
    address: str | None = Field(default=None, max_length=200)
    component_ident: str | None = Field(default=None, pattern=r"^\d{17}$")
    photos: list[str] = Field(default_factory=list, max_length=20)
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: str | None = Field(default=None, max_length=20)
    reporter_id_number: str | None = Field(
        default=None, max_length=20, description="身份证号 (hotline); stored encrypted"
    )
    external_ref: str | None = Field(default=None, max_length=64)
    duplicate_of: int | None = Field(
        default=None, ge=1, description="the open case the reporter says is the same problem"
    )

    @field_validator("photos")
    @classmethod
    def _short_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not ref or len(ref) > 500:
                raise ValueError("a photo reference must be 1–500 characters")
        return refs


class TransitionCreate(BaseModel):
    """One step of the case: ``action`` and what it needs."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    expected_version: int | None = Field(
        default=None, ge=1, description="optimistic lock: the version you saw"
    )
    reason: str | None = Field(default=None, max_length=1000)
    department_id: int | None = None
    worker_id: int | None = None
    extension_hours: float | None = Field(default=None, gt=0, le=24 * 60)
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)
    photos: list[str] = Field(default_factory=list, max_length=20)
    verification_method: Literal["inspector", "reporter", "machine"] | None = None
    category: str | None = Field(
        default=None,
        pattern=r"^\d{5}$",
        description="accept only: the 受理员's corrected category (小类代码)",
    )


class HistoryEntry(BaseModel):
    """One step of a case's history (the ledger entry), shaped for a progress timeline."""

    seq: int
    at: datetime
    actor: str | None = Field(description="who acted; null for residents, who see the role only")
    actor_role: str = Field(description="a role (field_worker, inspector, …) or system")
    action: str
    action_name: str = Field(description="the step's Chinese name, e.g. 派遣")
    payload: dict[str, object]
    hash: str


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_no: str
    kind: CaseKind
    category_code: str
    category_name: str | None = None
    major_code: str
    title: str
    description: str
    channel: Channel
    status: CaseStatus
    closing_type: ClosingType | None
    lat: float
    lng: float
    address: str | None
    district_code: str
    street_code: str
    community_code: str | None
    grid_code: str | None
    component_ident: str | None
    reporter_name: str | None = Field(
        default=None, description="full for the reporter and handlers, else masked (张*)"
    )
    reporter_phone: str | None = Field(default=None, description="else masked (138****1234)")
    reporter_id_number: str | None = Field(default=None, description="身份证号; else masked")
    department_id: int | None
    handling_level: str | None
    worker_id: int | None
    dispatch_reason: dict[str, object] | None = None
    reported_at: datetime
    accepted_at: datetime | None
    filed_at: datetime | None
    dispatched_at: datetime | None
    started_at: datetime | None
    handled_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    evaluated_at: datetime | None
    deadline_at: datetime | None
    time_limit: str | None
    handled_on_time: bool | None
    extension_count: int
    pending_extension_hours: float | None
    rework_count: int
    return_count: int
    escalation_level: int
    self_handled: bool
    auto_filed: bool
    needs_review: bool = False
    classification: dict[str, object] | None = None
    satisfaction: int | None
    report_count: int
    photos: list[str] = Field(default_factory=list)
    version: int
    updated_at: datetime
    allowed_actions: list[str] = Field(default_factory=list)
    history: list[HistoryEntry] | None = None

    @classmethod
    def of(
        cls,
        case: Case,
        *,
        category_name: str | None = None,
        allowed: list[str] | None = None,
        history: list[HistoryEntry] | None = None,
    ) -> CaseRead:
        """The API view of a case row; JSON text columns are decoded here."""
        derived = {
            "dispatch_reason", "photos", "category_name", "allowed_actions", "history",
            "classification",
        }  # fmt: skip
        data = {name: getattr(case, name) for name in cls.model_fields if name not in derived}
        data |= {
            "category_name": category_name,
            "dispatch_reason": json.loads(case.dispatch_reason) if case.dispatch_reason else None,
            "photos": json.loads(case.photos) if case.photos else [],
            "classification": json.loads(case.classification) if case.classification else None,
            "allowed_actions": allowed or [],
            "history": history,
        }
        return cls.model_validate(data)


class IntakeRead(BaseModel):
    """What became of a report: a new case, or a link to an open one (duplicate)."""

    case: CaseRead
    duplicate: bool
    auto_filed: bool
    dispatched: bool


class CasePage(BaseModel):
    items: list[CaseRead]
    total: int | None
    next_cursor: str | None
    page: int | None = None
    page_size: int


class BoardPoint(BaseModel):
    """A point rounded to about 100 m."""

    lat: float
    lng: float


class BoardCaseRead(BaseModel):
    """A case as the public board (云上监督) shows it: no name, no number, no exact door."""

    id: int
    category_code: str
    category_name: str | None
    status: CaseStatus
    description: str = Field(description="phone and ID numbers, e-mails, reporter name masked")
    reported_at: datetime
    closed_at: datetime | None
    satisfaction: int | None
    location: BoardPoint


class BoardPage(BaseModel):
    community: str
    items: list[BoardCaseRead]


class KpiRead(BaseModel):
    """One unit's KPI set (rates in percent) with the composite score and A–E rating."""

    key: str
    name: str
    filed: int
    reported: int
    close_rate: float | None
    on_time_close_rate: float | None
    on_time_handle_rate: float | None
    rework_rate: float | None
    overdue: int
    public_report_rate: float | None
    avg_handling_hours: float | None
    satisfaction: float | None
    satisfaction_rate: float | None
    score: float | None
    rating: str | None

    @classmethod
    def of(cls, row: KpiRow) -> KpiRead:
        k = row.kpis
        return cls(
            key=row.key, name=row.name, filed=k.filed, reported=row.counts.reported,
            close_rate=k.close_rate, on_time_close_rate=k.on_time_close_rate,
            on_time_handle_rate=k.on_time_handle_rate, rework_rate=k.rework_rate,
            overdue=k.overdue, public_report_rate=k.public_report_rate,
            avg_handling_hours=k.avg_handling_hours, satisfaction=k.satisfaction,
            satisfaction_rate=k.satisfaction_rate, score=k.score, rating=k.rating,
        )  # fmt: skip


class KpiPage(BaseModel):
    period_start: datetime
    period_end: datetime
    by: str
    jurisdiction: str | None = Field(description="the units' jurisdiction; None: the whole city")
    items: list[KpiRead]


class WechatLocation(BaseModel):
    """``wx.getLocation({type: 'gcj02'})``: GCJ-02 degrees."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class WechatReportCreate(BaseModel):
    """A report in the WeChat mini-program's shape; converted to a resident ``CaseCreate``."""

    model_config = ConfigDict(extra="forbid")

    openid: str | None = Field(
        default=None, max_length=64, description="accepted, not stored: the token names the user"
    )
    desc: str = Field(max_length=4000, description="诉求内容")
    images: list[str] = Field(
        default_factory=list, max_length=20, description="photo refs from POST /photos"
    )
    location: WechatLocation | None = Field(
        default=None, description="absent: the place named in the address or description"
    )
    address: str | None = Field(default=None, max_length=200)
    category: str | None = Field(
        default=None,
        pattern=r"^\d{5}$",
        description="the category the resident picked; absent: classified from desc",
    )
