"""The community twin's tables: buildings, roads, facilities and cameras of one 社区.

Geometry is GeoJSON text in WGS84 (the twin is drawn, not queried spatially); each row keeps a
representative point in ``lat``/``lng`` so a case or a device can be matched by a cheap box test
before the exact footprint test. Population figures are per building (楼栋): households (户),
residents (常住人口) and elderly (≥ 60 岁).
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base


class BuildingKind(enum.StrEnum):
    residential = "住宅"
    commercial = "商业"
    public = "公共"


class FacilityKind(enum.StrEnum):
    service_centre = "社区服务中心"
    health_station = "卫生服务站"
    elderly_station = "养老服务站"
    kindergarten = "幼儿园"
    market = "菜市场"
    toilet = "公厕"
    waste_point = "垃圾分类点"
    parking = "停车场"
    fitness = "健身广场"


class CameraStatus(enum.StrEnum):
    online = "online"
    offline = "offline"


def _kind(cls: type[enum.StrEnum], length: int) -> Enum:
    # Store the Chinese value, not the member name: the rows read as the city writes them.
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Building(Base):
    """A building (楼栋) of the community, its footprint and who lives there."""

    __tablename__ = "community_building"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))  # e.g. 民主村3栋
    kind: Mapped[BuildingKind] = mapped_column(_kind(BuildingKind, 8))
    footprint: Mapped[str] = mapped_column(Text)  # GeoJSON Polygon
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    floors: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer, default=0)
    residents: Mapped[int] = mapped_column(Integer, default=0)
    elderly: Mapped[int] = mapped_column(Integer, default=0)
    year_built: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("community_code", "name"),)


class Road(Base):
    """A road or lane of the community (LineString)."""

    __tablename__ = "community_road"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(60))
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON LineString
    length_m: Mapped[float] = mapped_column(Float)


class Facility(Base):
    """A service point (便民/为老/公共设施); inside a building when ``building_id`` is set."""

    __tablename__ = "community_facility"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[FacilityKind] = mapped_column(_kind(FacilityKind, 16))
    name: Mapped[str] = mapped_column(String(60))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_building.id", ondelete="SET NULL"), index=True
    )
    opening_hours: Mapped[str] = mapped_column(String(60), default="")


class Camera(Base):
    """A video camera: where it is, and the URLs that open its snapshot and its stream."""

    __tablename__ = "community_camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(60))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_building.id", ondelete="SET NULL"), index=True
    )
    snapshot_url: Mapped[str] = mapped_column(String(500), default="")
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[CameraStatus] = mapped_column(
        Enum(CameraStatus, native_enum=False, length=8), default=CameraStatus.online
    )
