"""Accounts: who may log in, in which role, over which part of the map."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base
from cityops.store.crypto import EncryptedText


class Role(enum.StrEnum):
    """Roles; what each may do is in ``auth/policy.py``."""

    city_admin = "city_admin"  # 市级管理员
    district_dispatcher = "district_dispatcher"  # 区县派遣员/值班长
    street_staff = "street_staff"  # 镇街工作人员
    field_worker = "field_worker"  # 处置人员
    inspector = "inspector"  # 监督员
    resident = "resident"  # 居民
    device = "device"  # a device or gateway account: may only send readings
    insurance_analyst = "insurance_analyst"  # 医保分析员 (医保局): DRG/DIP grouping and payment


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=24))
    # The jurisdiction the account acts in (a city, district or street code); None for residents.
    scope_code: Mapped[str | None] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    phone: Mapped[str | None] = mapped_column(EncryptedText())  # personal data: docs/privacy.md
    active: Mapped[bool] = mapped_column(Boolean, default=True)
