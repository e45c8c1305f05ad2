"""The 河长制 registry's tables: rivers, their sections (河段) and each section's chiefs (河长).

Geometry is GeoJSON text in WGS84 (drawn, not queried spatially); each section keeps the district
and street it lies in, so jurisdiction scoping is a code-prefix test like everywhere else. A chief
assignment with no ``staff_id`` is a vacancy: the level needs a chief and nobody fits, which the
API flags rather than hides.
"""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Date, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.scenarios.river.network import RiverKind
from cityops.scenarios.river.standards import WaterBody
from cityops.store.base import Base


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
