"""个人账户划入: the monthly credits into the employees' personal accounts, one row each."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.scenarios.medicare.models import Fen
from cityops.store.base import Base, UtcDateTime


class CreditKind(enum.StrEnum):
    """Where a credit comes from (国办发〔2021〕14号): an employee's own contribution, or the
    fixed amount the pool pays a retiree's account."""

    contribution = "contribution"  # 在职职工: personal contribution (≈2 % of the wage base)
    retiree = "retiree"  # 退休人员: a fixed amount from the pool


class AccountCredit(Base):
    """One credit of one month; (person, month, kind) is unique, so a file imported twice
    credits nobody twice."""

    __tablename__ = "medicare_account_credit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("medicare_insured.psn_no"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    kind: Mapped[CreditKind] = mapped_column(
        Enum(CreditKind, native_enum=False, length=16, validate_strings=True)
    )
    amount: Mapped[int] = mapped_column(Fen)
    balc_after: Mapped[int] = mapped_column(Fen)
    source: Mapped[str] = mapped_column(String(100))
    credited_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("psn_no", "period", "kind", name="uq_medicare_credit_psn_period_kind"),
        CheckConstraint("amount > 0", name="credit_positive"),
    )
