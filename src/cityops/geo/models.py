"""Jurisdictions with polygons and validity dates."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Date, Enum, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base


class Level(enum.StrEnum):
    """Levels of the map; codes per GB/T 2260, GB/T 10114 and the unit-grid rule."""

    city = "city"  # 市
    district = "district"  # 区县, 6 digits
    street = "street"  # 镇街, 9 digits
    community = "community"  # 社区, 12 digits
    grid = "grid"  # 单元网格, 12 digits + sequence


LEVEL_ORDER = [Level.city, Level.district, Level.street, Level.community, Level.grid]


class Jurisdiction(Base):
    """One area of the city; a retired one keeps its row with ``valid_to`` and a successor."""

    __tablename__ = "jurisdiction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[Level] = mapped_column(Enum(Level, native_enum=False, length=16))
    parent_code: Mapped[str | None] = mapped_column(String(20), index=True)
    district_code: Mapped[str | None] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20))
    community_code: Mapped[str | None] = mapped_column(String(20))
    # Geometry as WKB (EPSG:4326 lng/lat) with its bounding box and a representative point.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)
    min_lng: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lng: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    center_lng: Mapped[float | None] = mapped_column(Float)
    center_lat: Mapped[float | None] = mapped_column(Float)
    area_m2: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_jurisdiction_level_valid", "level", "valid_to"),
        Index("uq_jurisdiction_code_from", "code", "valid_from", unique=True),
    )
