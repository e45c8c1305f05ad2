"""The 河长制 registry's tables: rivers, their sections (河段) and each section's chiefs (河长).

Geometry is GeoJSON text in WGS84 (drawn, not queried spatially); each section keeps the district
and street it lies in, so jurisdiction scoping is a code-prefix test like everywhere else. A chief
assignment with no ``staff_id`` is a vacancy: the level needs a chief and nobody fits, which the
API flags rather than hides.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.scenarios.river.network import RiverKind
from cityops.scenarios.river.patrol_track import PointFlag
from cityops.scenarios.river.standards import WaterBody
from cityops.store.base import Base, UtcDateTime


class ChiefLevel(enum.StrEnum):
    """河长 levels, top down (市级/区级/街镇级/村级河长)."""

    city = "city"
    district = "district"
    street = "street"
    village = "village"


class River(Base):
    """A river, lake or reservoir; a tributary names its parent river's code."""

    __tablename__ = "river_river"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[RiverKind] = mapped_column(Enum(RiverKind, native_enum=False, length=16))
    parent_code: Mapped[str | None] = mapped_column(String(32), index=True)
    length_km: Mapped[float] = mapped_column(Float)
    basin_area_km2: Mapped[float | None] = mapped_column(Float)


class Section(Base):
    """A section (河段) of one river inside one street, with its target class and department."""

    __tablename__ = "river_section"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("river_river.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON LineString
    length_km: Mapped[float] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(String(20), index=True)
    street_code: Mapped[str] = mapped_column(String(20), index=True)
    target_class: Mapped[str] = mapped_column(String(4))  # GB 3838 I–V
    water_body: Mapped[WaterBody] = mapped_column(Enum(WaterBody, native_enum=False, length=8))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)


class ChiefAssignment(Base):
    """Who is the section's chief at one level since when; no staff means the post is vacant."""

    __tablename__ = "river_chief_assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    section_id: Mapped[int] = mapped_column(
        ForeignKey("river_section.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[ChiefLevel] = mapped_column(Enum(ChiefLevel, native_enum=False, length=16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    since: Mapped[date] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("section_id", "level"),)


# --- Patrols (巡河), duty reminders: scenarios/river/patrol_*.py, duty*.py ---------------------


class PatrolStatus(enum.StrEnum):
    active = "active"  # 巡河中
    finished = "finished"  # 已结束


class Patrol(Base):
    """One patrol (巡河) by a staff member along a section or a river, with its track's figures.

    ``client_id`` (the phone's id for the patrol) makes starting idempotent per staff member.
    ``jurisdiction_code`` is where the patrol shows up: the section's street, or for a river
    patrol the scope of the account that started it (None: city-wide).
    """

    __tablename__ = "river_patrol"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    river_id: Mapped[int] = mapped_column(ForeignKey("river_river.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("river_section.id"), index=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(String(20), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[PatrolStatus] = mapped_column(Enum(PatrolStatus, native_enum=False, length=12))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    mileage_m: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    coverage: Mapped[float | None] = mapped_column(Float)  # share 0..1, set on finishing
    point_count: Mapped[int] = mapped_column(Integer, default=0)
    flagged_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("staff_id", "client_id"),
        Index("ix_river_patrol_staff_started", "staff_id", "started_at"),
        Index("ix_river_patrol_river_started", "river_id", "started_at"),
        Index("ix_river_patrol_started", "started_at"),
    )


class PatrolPoint(Base):
    """One GPS fix as stored (WGS84), in arrival order ``seq``, with its flag (null: trusted)."""

    __tablename__ = "river_patrol_point"

    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("river_patrol.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    t: Mapped[datetime] = mapped_column(UtcDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[PointFlag | None] = mapped_column(Enum(PointFlag, native_enum=False, length=16))
    stretch: Mapped[int | None] = mapped_column(Integer)  # 0, 1, … along the track; null: left out

    __table_args__ = (UniqueConstraint("patrol_id", "t", "lat", "lng"),)


class PatrolIssue(Base):
    """A problem found on a patrol: the case it became, and the section it lies on."""

    __tablename__ = "river_patrol_issue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("river_patrol.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("river_section.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("patrol_id", "case_id"),)


class PatrolCoverage(Base):
    """The stretches of a section a finished patrol passed: intervals of its length (0..1)."""

    __tablename__ = "river_patrol_coverage"

    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("river_patrol.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: Mapped[int] = mapped_column(
        ForeignKey("river_section.id"), primary_key=True, index=True
    )
    intervals: Mapped[str] = mapped_column(Text)  # JSON [[from, to], ...], fractions
    share: Mapped[float] = mapped_column(Float)


class DutyReminder(Base):
    """A reminder sent to a chief whose patrols at one level are overdue: one per missed period."""

    __tablename__ = "river_duty_reminder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    level: Mapped[ChiefLevel] = mapped_column(Enum(ChiefLevel, native_enum=False, length=16))
    period_start: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sections: Mapped[str] = mapped_column(Text)  # JSON list of section codes overdue

    __table_args__ = (UniqueConstraint("staff_id", "level", "period_start"),)


# --------------------------------------------------------------------- pollution events (H2)
class EventSource(enum.StrEnum):
    """Where a pollution event was seen: an automatic station (a rules plan) or an import."""

    station = "station"  # 水质自动监测站
    drone = "drone"  # 无人机
    boat = "boat"  # 无人船
    satellite = "satellite"  # 卫星遥感
    video = "video"  # AI 视频


class RiverEvent(Base):
    """A pollution event (河湖事件) on a section, carried by one case (水域不洁 06025).

    ``chief_staff_id`` is the accountable chief when the event opened (the lowest-level chief
    with a staff); ``no_chief`` flags a section whose posts were all vacant. Later detections
    that joined the same case are appended to ``evidence["detections"]``.
    """

    __tablename__ = "river_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), unique=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("river_section.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("river_station.id"), index=True)
    source: Mapped[EventSource] = mapped_column(Enum(EventSource, native_enum=False, length=16))
    detector: Mapped[str] = mapped_column(String(64))  # a plan id, or the import's kind
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    image_ref: Mapped[str | None] = mapped_column(String(500))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    chief_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    chief_level: Mapped[str | None] = mapped_column(String(16))
    no_chief: Mapped[bool] = mapped_column(Boolean, default=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DetectionStatus(enum.StrEnum):
    accepted = "accepted"  # became an event (a case)
    needs_review = "needs_review"  # below the confidence threshold: a dispatcher decides
    rejected = "rejected"  # a dispatcher said it is not a pollution event


class RiverDetection(Base):
    """One imported detection (drone, boat, satellite, AI video), kept once per (source, id)."""

    __tablename__ = "river_detection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[EventSource] = mapped_column(Enum(EventSource, native_enum=False, length=16))
    external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(40))
    lat: Mapped[float] = mapped_column(Float)  # WGS84 (converted from GCJ-02 if sent so)
    lng: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    image_ref: Mapped[str | None] = mapped_column(String(500))
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    section_id: Mapped[int] = mapped_column(ForeignKey("river_section.id"), index=True)
    distance_m: Mapped[float] = mapped_column(Float)
    status: Mapped[DetectionStatus] = mapped_column(
        Enum(DetectionStatus, native_enum=False, length=16)
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("river_event.id"))
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_river_detection_status_received", "status", "received_at"),
    )


# --- Automatic water-quality stations (issue 6, stations.py) ---------------------------------


class Station(Base):
    """An automatic water-quality station (水质自动监测站) on a section: a sensing Thing.

    ``km``: distance along the river from its upstream end (the source, or where it enters the
    city), for ordering stations downstream.
    """

    __tablename__ = "river_station"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    section_id: Mapped[int] = mapped_column(ForeignKey("river_section.id"), index=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_thing.id"), unique=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    km: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
