"""Case tables: the case row (current state) and the reports linked to it.

The case row is the fast read model; the ledger is the history (every transition is there).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from cityops.store.base import Base, UtcDateTime
from cityops.store.crypto import EncryptedText


def _only(condition: str) -> dict[str, Any]:
    """A partial index on both databases: rows that leave the column empty are not indexed, so
    intake (which writes them empty) does not touch the index at all."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class CaseKind(enum.StrEnum):
    component = "component"  # 部件
    event = "event"  # 事件 / 事项


class Channel(enum.StrEnum):
    """Intake channel (案件来源), recorded on every case."""

    inspector = "inspector"  # 监督员上报
    resident = "resident"  # 公众/网络上报
    hotline = "hotline"  # 12345 热线
    video = "video"  # 视频智能分析
    sensor = "sensor"  # 传感器告警
    patrol = "patrol"  # 巡查 (河长巡河等)
    leader = "leader"  # 领导交办


PUBLIC_CHANNELS = frozenset({Channel.resident, Channel.hotline})


class CaseStatus(enum.StrEnum):
    reported = "reported"  # 上报
    accepted = "accepted"  # 受理
    filed = "filed"  # 立案
    dispatched = "dispatched"  # 派遣
    in_progress = "in_progress"  # 处置中
    handled = "handled"  # 处置反馈 (待核查)
    verified = "verified"  # 核查通过
    closed = "closed"  # 结案
    evaluated = "evaluated"  # 已评价
    returned = "returned"  # 回退 (待改派)
    shelved = "shelved"  # 挂账
    void = "void"  # 作废 / 不予立案


class ClosingType(enum.StrEnum):
    normal = "normal"  # 正常结案
    overdue = "overdue"  # 超期结案
    special = "special"  # 特殊结案


class Case(Base):
    """One problem in the city, whoever found it."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[CaseKind] = mapped_column(Enum(CaseKind, native_enum=False, length=12))
    category_code: Mapped[str] = mapped_column(String(8))
    major_code: Mapped[str] = mapped_column(String(4))
    catalogue_version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=12))
    status: Mapped[CaseStatus] = mapped_column(Enum(CaseStatus, native_enum=False, length=12))
    closing_type: Mapped[ClosingType | None] = mapped_column(
        Enum(ClosingType, native_enum=False, length=12)
    )
    # Where: WGS84 point and the map it falls in.
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    geo_cell: Mapped[int | None] = mapped_column(BigInteger)  # geo.cells: nearby-case lookups
    district_code: Mapped[str] = mapped_column(String(20))
    street_code: Mapped[str] = mapped_column(String(20))
    community_code: Mapped[str | None] = mapped_column(String(20))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    component_ident: Mapped[str | None] = mapped_column(String(17))
    # Who reported.
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reporter_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Personal data, encrypted at rest (store/crypto.py; docs/privacy.md), erased after the
    # retention period by cases/retention.py. Not searchable in SQL.
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText())
    reporter_phone: Mapped[str | None] = mapped_column(EncryptedText())
    reporter_id_number: Mapped[str | None] = mapped_column(EncryptedText())  # 身份证号
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Who handles.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    handling_level: Mapped[str | None] = mapped_column(String(16))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    dispatch_reason: Mapped[str | None] = mapped_column(Text)
    # When (UTC). Each step's time, so every KPI can be recomputed.
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    filed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # 处置截止时间
    time_limit: Mapped[str | None] = mapped_column(
        String(16)
    )  # e.g. "4h" (工作时) or "5d" (工作日)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)
    handling_seconds: Mapped[float | None] = mapped_column(Float)  # 处置用时, working seconds
    # Side paths.
    extension_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    pending_extension_hours: Mapped[float | None] = mapped_column(Float)
    rework_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    # 居民重开: the reporter reopened the case after it was closed as fixed (also a rework).
    reopen_count: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What shows this round of handling fixed it (photo | reporter); a resident's case closes
    # only with it. Cleared when the fix is rejected (返工) or the case is reopened.
    closing_evidence: Mapped[str | None] = mapped_column(String(12))
    return_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    near_overdue_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    self_handled: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_filed: Mapped[bool] = mapped_column(Boolean, default=False)
    # 智能分类: a report that came without a category was filed under the model's top suggestion;
    # needs_review = its confidence was below the threshold, so a 受理员 checks it (intake queue).
    # classification: JSON of how the category (and the place, if named in text) was found.
    # server_default: bulk loaders (sim/history.py's INSERT/COPY) name their columns.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    classification: Mapped[str | None] = mapped_column(Text)
    # Evaluation.
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    evaluation_comment: Mapped[str | None] = mapped_column(String(500))
    # Duplicates: extra reports of the same problem are linked, not filed again.
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    photos: Mapped[str | None] = mapped_column(Text)  # JSON list of evidence references
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (
        # KPI cohorts: covering indexes, so a district's month is read from the index alone.
        Index(
            "ix_case_district_filed",
            "district_code",
            "filed_at",
            "street_code",
            "status",
            "closing_type",
            "rework_count",
            "channel",
            "satisfaction",
            "department_id",
            "worker_id",
        ),
        Index(
            "ix_case_district_dispatched",
            "district_code",
            "dispatched_at",
            "street_code",
            "status",
            "handled_on_time",
            "deadline_at",
            "handled_at",
            "handling_seconds",
            "department_id",
            "worker_id",
        ),
        # Reported cohort; the category makes the cockpit's daily and per-category counts
        # (cockpit/service.py) index-only too.
        Index(
            "ix_case_district_reported",
            "district_code",
            "reported_at",
            "street_code",
            "status",
            "category_code",
        ),
        # The cockpit's cases closed per day.
        Index(
            "ix_case_district_closed",
            "district_code",
            "closed_at",
            "street_code",
            **_only("closed_at IS NOT NULL"),
        ),
        Index("ix_case_street_status_reported", "street_code", "status", "reported_at"),
        # A community's cases newest first: the public board (云上监督), the community cockpit
        # (数字社区驾驶舱) and report lists. Status and grid ride along, so a status or a grid
        # (whose code starts with its community's) is filtered in the index: one index serves
        # community and grid lists, where three (community+status, community+time, grid) each
        # cost intake a random page per report.
        Index("ix_case_community", "community_code", "reported_at", "status", "grid_code"),
        Index("ix_case_status_reported", "status", "reported_at"),
        # A city-wide board or feed with no filter, newest first: without it SQLite sorted all
        # 4M cases (seconds). Time-ordered keys append at the right edge, so it costs intake little.
        Index("ix_case_reported", "reported_at", "id"),
        Index("ix_case_category_status", "category_code", "status", "reported_at"),
        # Duplicate check: exact probes of the cells around a point, within a category.
        Index("ix_case_category_cell", "category_code", "geo_cell", "reported_at"),
        Index("ix_case_next_check", "next_check_at"),
        # The retention job's due cases (cases/retention.py): not erased, ended, by close time.
        Index("ix_case_retention", "personal_data_erased_at", "status", "closed_at"),
        # The 受理员 queue: reports the classifier was unsure of, oldest first.
        Index(
            "ix_case_review",
            "needs_review",
            "status",
            "reported_at",
            sqlite_where=text("needs_review IS 1"),
            postgresql_where=text("needs_review IS true"),
        ),
        Index("ix_case_worker_status", "worker_id", "status"),
        Index("ix_case_department_status", "department_id", "status"),
        Index("ix_case_reporter", "reporter_user_id", **_only("reporter_user_id IS NOT NULL")),
    )

    @property
    def case_no(self) -> str:
        """案卷号: district, year, sequence, e.g. ``500157-2026-00000042``."""
        return f"{self.district_code}-{self.reported_at.year}-{self.id:08d}"


class CaseReport(Base):
    """One report as received; several may point at the same case (duplicates)."""

    __tablename__ = "case_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=12))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # This report's own reporter (a repeat report's caller is not the case's): encrypted.
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText())
    reporter_phone: Mapped[str | None] = mapped_column(EncryptedText())
    reporter_id_number: Mapped[str | None] = mapped_column(EncryptedText())
    # e.g. "12345:<工单编号>": the hotline import's idempotency key.
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowVia(enum.StrEnum):
    """How a person came to follow a case."""

    duplicate = "duplicate"  # chose "same problem" before filing (是同一个问题)
    auto_duplicate = "auto_duplicate"  # the report was linked at intake
    follow = "follow"  # pressed 关注 on a public case


class CaseFollower(Base):
    """A person who follows a case besides its reporter; each is notified of its steps."""

    __tablename__ = "case_follower"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    since: Mapped[datetime] = mapped_column(UtcDateTime())
    via: Mapped[FollowVia] = mapped_column(Enum(FollowVia, native_enum=False, length=16))

    __table_args__ = (
        Index("ux_case_follower", "case_id", "user_id", unique=True),
        Index("ix_case_follower_user", "user_id", "since"),
    )


class Notification(Base):
    """One step of a case told to one person (消息通知), written with the step itself."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    kind: Mapped[str] = mapped_column(String(32))  # the step: accept, dispatch, close, ...
    status: Mapped[CaseStatus] = mapped_column(Enum(CaseStatus, native_enum=False, length=12))
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        # A person's list: unread first, newest first.
        Index("ix_notification_user_read", "user_id", "read_at", "created_at"),
    )
