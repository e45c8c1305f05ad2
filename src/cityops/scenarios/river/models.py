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
    station_id: Mapped[int | None] = mapped_column(Integer, index=True)  # river_station.id
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
