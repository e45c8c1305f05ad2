"""Departments, staff with shifts and positions, and city components."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base, UtcDateTime


class DepartmentType(enum.StrEnum):
    """Responsible department types the category catalogue and dispatch plans name."""

    chengguan = "chengguan"  # 城管 (综合执法)
    shizheng = "shizheng"  # 市政
    huanwei = "huanwei"  # 环卫
    yuanlin = "yuanlin"  # 园林
    jiaotong = "jiaotong"  # 交通
    shuiwu = "shuiwu"  # 水务
    zhujian = "zhujian"  # 住建
    shengtai = "shengtai"  # 生态环境
    yingji = "yingji"  # 应急
    gongan = "gongan"  # 公安 (交巡警)
    shichang = "shichang"  # 市场监管
    street_office = "street_office"  # 街道办/镇政府 (属地)
    utility = "utility"  # 公用事业单位 (供水/供电/燃气/通信)
    center = "center"  # type: ignore[assignment]  # 城运中心 (监督/指挥)


class Department(Base):
    """A responsible unit at district or street level."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[DepartmentType] = mapped_column(Enum(DepartmentType, native_enum=False, length=24))
    jurisdiction_code: Mapped[str] = mapped_column(String(20), index=True)
    level: Mapped[str] = mapped_column(String(16))  # city | district | street
    district_code: Mapped[str | None] = mapped_column(String(20), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StaffRole(enum.StrEnum):
    """Posts evaluated by the KPI set (岗位)."""

    inspector = "inspector"  # 监督员 / 信息采集员
    acceptor = "acceptor"  # 受理员
    shift_leader = "shift_leader"  # 值班长
    dispatcher = "dispatcher"  # 派遣员
    worker = "worker"  # 处置人员 (field worker)
    street_staff = "street_staff"  # 街镇工作人员
    leader = "leader"  # 领导


class Staff(Base):
    """A person on a post, with a shift and a last known position."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, native_enum=False, length=16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(20), index=True)
    district_code: Mapped[str | None] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    shift_start: Mapped[time] = mapped_column(Time, default=time(8, 30))
    shift_end: Mapped[time] = mapped_column(Time, default=time(17, 30))
    works_weekends: Mapped[bool] = mapped_column(Boolean, default=False)
    on_leave: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    open_cases: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_staff_dept_role", "department_id", "role"),)


class ComponentState(enum.StrEnum):
    """部件状态 per the component attribute table."""

    intact = "intact"  # 完好
    damaged = "damaged"  # 破损
    lost = "lost"  # 丢失
    abandoned = "abandoned"  # 废弃
    removed = "removed"  # 移除


class Component(Base):
    """A city component (部件) with its 17-digit identifier (管理部件标识码)."""

    __tablename__ = "component"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ident: Mapped[str] = mapped_column(String(17), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    category_code: Mapped[str] = mapped_column(String(8), index=True)
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))  # 主管部门
    maintainer_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id")
    )  # 养护
    grid_code: Mapped[str | None] = mapped_column(String(20), index=True)
    district_code: Mapped[str | None] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    state: Mapped[ComponentState] = mapped_column(
        Enum(ComponentState, native_enum=False, length=16), default=ComponentState.intact
    )
    installed_on: Mapped[date | None] = mapped_column(Date)
