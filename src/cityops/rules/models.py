"""Rules tables: alarms, each plan instance's state, durable timers, and explained firings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base, UtcDateTime


class Alarm(Base):
    """One alarm of one (plan, source); ``open_key`` is set while it is not cleared (unique)."""

    __tablename__ = "alarm"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64), index=True)
    instance: Mapped[str] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(8), index=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    jurisdiction_code: Mapped[str | None] = mapped_column(String(20), index=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    flaps: Mapped[int] = mapped_column(Integer, default=0)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    case_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_alarm_plan_instance", "plan_id", "instance"),)


class RuleState(Base):
    """The evaluation state of one plan instance (JSON), written only when it changed."""

    __tablename__ = "rule_state"

    plan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RuleTimer(Base):
    """A durable timer: one per (plan, instance, kind); a later set moves it."""

    __tablename__ = "rule_timer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    fire_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    data: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (UniqueConstraint("plan_id", "instance", "kind", name="uq_rule_timer_key"),)


class RuleFiring(Base):
    """Why a plan acted: the trace of one firing (conditions, values, actions, timers)."""

    __tablename__ = "rule_firing"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(16))
    trace: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_rule_firing_source", "instance", "at"),)
