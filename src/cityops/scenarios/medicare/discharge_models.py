"""The stored discharge (出院病例 from the 医保结算清单): what the DRG/DIP grouper reads, kept so a
month can be grouped in the database and 分解住院 (readmission) checked over real stays.

Names follow the national platform where the reference gives one (``mdtrt_id`` 就诊ID,
``psn_no``, ``fixmedins_code``, ``gend``, ``dscg_maindiag_code`` from ``mdtrt_d``, ``ipt_days``,
``medfee_sumamt``); ``adm_time``/``dscg_time`` are the settlement list's admission and discharge
times. Names the reference does not give stay plain and descriptive (marked "not in the
reference"). Money is integer fen. The grouping result columns are null until the row is grouped
(``grouping.group_month``) and overwritten by every regrouping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base, UtcDateTime

Fen = BigInteger().with_variant(Integer, "sqlite")


class Discharge(Base):
    """One discharge: person, hospital, stay and the grouper's inputs, then its grouping."""

    __tablename__ = "medicare_discharge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(String(32), unique=True)  # 就诊ID
    psn_no: Mapped[str] = mapped_column(String(30))
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    hosp_lv: Mapped[int | None] = mapped_column(Integer)  # 1/2/3 = 一/二/三级, as Fixmedins
    adm_time: Mapped[datetime] = mapped_column(UtcDateTime())
    dscg_time: Mapped[datetime] = mapped_column(UtcDateTime())
    gend: Mapped[str] = mapped_column(String(1))  # "1" male, "2" female
    age: Mapped[int] = mapped_column(Integer)  # years
    age_days: Mapped[int | None] = mapped_column(Integer)  # not in the reference
    birth_weight_g: Mapped[int | None] = mapped_column(Integer)  # not in the reference
    dscg_maindiag_code: Mapped[str] = mapped_column(String(20))  # 主要诊断, ICD-10 医保版
    other_dx: Mapped[list[str]] = mapped_column(JSON)  # 其他诊断; not in the reference
    procedures: Mapped[list[str]] = mapped_column(JSON)  # ICD-9-CM-3, principal first; ditto
    vent_hours: Mapped[int] = mapped_column(Integer, default=0)  # not in the reference
    ipt_days: Mapped[int] = mapped_column(Integer)  # 住院天数
    medfee_sumamt: Mapped[int] = mapped_column(Fen)  # 医疗费总额, fen
    # 急诊入院: an emergency readmission is not 分解住院 (入院途径; not in the reference)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The stored grouping (null until grouped); weight as the grouper's RW × 10,000.
    drg_code: Mapped[str | None] = mapped_column(String(8))
    drg_status: Mapped[str | None] = mapped_column(String(12))  # grouped/ambiguous/ungroupable
    adrg: Mapped[str | None] = mapped_column(String(8))
    mdc: Mapped[str | None] = mapped_column(String(4))
    weight_e4: Mapped[int | None] = mapped_column(Integer)
    paid_fen: Mapped[int | None] = mapped_column(Fen)  # null when the level is unknown
    grouped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    trace: Mapped[list[Any] | None] = mapped_column(JSON)  # ["rule: why", …]

    __table_args__ = (
        Index("ix_medicare_discharge_dscg_time", "dscg_time"),  # a month of discharges
        Index(  # a person's stays at a hospital in time order (分解住院)
            "ix_medicare_discharge_psn_hosp_time", "psn_no", "fixmedins_code", "adm_time"
        ),
        CheckConstraint("dscg_time >= adm_time", name="dscg_after_adm"),
        CheckConstraint("medfee_sumamt >= 0", name="medfee_not_negative"),
    )
