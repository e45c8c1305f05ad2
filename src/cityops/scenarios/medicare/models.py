"""智慧医保 tables for 渝药易购: insured persons, personal accounts, 家庭共济 bindings, designated
pharmacies and hospitals, the drug catalogue, pharmacy prices/stock, reference prices, orders,
settlements (``setl_d``) and fee lines (``fee_list_d``).

Column names follow the national 医保信息平台 fields where one exists (reference §4): ``psn_no``,
``insutype``, ``insu_admdvs``, ``fixmedins_code``, ``hilist_code``, ``med_type``, ``acct_pay``,
``acct_mulaid_pay``, ``psn_cash_pay``, ``balc``, ``refd_setl_flag`` … Money is integer fen
everywhere. Balances and stock carry CHECK (≥ 0) constraints: the database itself refuses a
negative, whatever a bug in the service might try.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.store.base import Base, UtcDateTime

Fen = BigInteger().with_variant(Integer, "sqlite")


class Relation(enum.StrEnum):
    """家庭共济 relations: spouse/parents/children (2021), 近亲属 added in 2024."""

    spouse = "spouse"
    parent = "parent"
    child = "child"
    sibling = "sibling"
    grandparent = "grandparent"
    grandchild = "grandchild"


class FixmedinsType(enum.StrEnum):
    pharmacy = "pharmacy"  # 定点零售药店
    hospital = "hospital"  # 定点医疗机构


class OrderStatus(enum.StrEnum):
    """paid → (delivering → delivered) | picked_up; paid/delivering → refunded."""

    paid = "paid"
    delivering = "delivering"
    delivered = "delivered"
    picked_up = "picked_up"
    refunded = "refunded"


class InsuredPerson(Base):
    """参保人: ``insutype`` 310 职工基本医疗保险 (has a personal account), 390 城乡居民.

    ``gend`` (性别, GB/T 2261.1: "1" male, "2" female) and ``brdy`` (出生日期) as the national
    platform names them; null is unknown, and fund supervision's sex/age rules skip the person.
    """

    __tablename__ = "medicare_insured"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), unique=True)
    psn_name: Mapped[str] = mapped_column(String(50))
    insutype: Mapped[str] = mapped_column(String(6))
    insu_admdvs: Mapped[str] = mapped_column(String(6), index=True)  # 参保地 adcode
    gend: Mapped[str | None] = mapped_column(String(1))
    brdy: Mapped[date | None] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)


class Account(Base):
    """个人账户: the balance (``balc``) in fen; ``version`` moves with every debit and credit."""

    __tablename__ = "medicare_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("medicare_insured.psn_no"), unique=True)
    balc: Mapped[int] = mapped_column(Fen)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("balc >= 0", name="balc_not_negative"),)


class MutualAidBinding(Base):
    """家庭共济: the provider's account may pay for the beneficiary (a close relative).

    A cancelled binding keeps its row with ``ended_at`` set (settlements name the provider, so
    the history stays readable); only one *active* binding per pair, which a partial unique index
    enforces, so the pair may be bound again after a cancellation.
    """

    __tablename__ = "medicare_mulaid_binding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_psn_no: Mapped[str] = mapped_column(ForeignKey("medicare_insured.psn_no"), index=True)
    beneficiary_psn_no: Mapped[str] = mapped_column(
        ForeignKey("medicare_insured.psn_no"), index=True
    )
    relation: Mapped[Relation] = mapped_column(Enum(Relation, native_enum=False, length=16))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    __table_args__ = (
        Index(
            "uq_medicare_mulaid_binding_active_pair", "provider_psn_no", "beneficiary_psn_no",
            unique=True, postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        CheckConstraint("provider_psn_no <> beneficiary_psn_no", name="not_self"),
    )  # fmt: skip


class Fixmedins(Base):
    """A designated pharmacy or hospital (定点医药机构) with its place and opening hours.

    ``opening_hours``: seven entries, Monday first, each ``[open_minute, close_minute]`` of local
    time or null (closed); a close past 1440 runs into the next day (``[1200, 1560]`` = 20:00 to
    02:00), ``[0, 1440]`` is 24 hours. ``cell`` is ``geo.cells.cell_of(lat, lng)``.
    ``hosp_lv`` is a hospital's grade (医院等级) 1/2/3 = 一/二/三级, the 甲/乙/丙 step not kept;
    null for a pharmacy or an ungraded hospital.
    """

    __tablename__ = "medicare_fixmedins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), unique=True)
    fixmedins_name: Mapped[str] = mapped_column(String(100))
    fixmedins_type: Mapped[FixmedinsType] = mapped_column(
        Enum(FixmedinsType, native_enum=False, length=12)
    )
    admdvs: Mapped[str] = mapped_column(String(6), index=True)  # district adcode
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    cell: Mapped[int] = mapped_column(BigInteger, index=True)
    opening_hours: Mapped[list[Any]] = mapped_column(JSON)
    delivery_radius_m: Mapped[int] = mapped_column(Integer, default=0)  # 0: pick-up only
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hosp_lv: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("hosp_lv BETWEEN 1 AND 3", name="hosp_lv_grade"),)


class Drug(Base):
    """A catalogue entry (医保药品目录): one code = one generic, maker, form, strength and pack.

    ``product_key`` is the 四同 key (catalogue.product_key): codes sharing it are one product in
    different packs. ``pinyin`` holds the name's initials, computed when the row is loaded.
    """

    __tablename__ = "medicare_drug"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hilist_code: Mapped[str] = mapped_column(String(23), unique=True)
    hilist_name: Mapped[str] = mapped_column(String(100), index=True)  # 通用名
    pinyin: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # codes.DrugKind
    maker_name: Mapped[str] = mapped_column(String(100))
    maker_code: Mapped[str] = mapped_column(String(5))
    dosage_form: Mapped[str] = mapped_column(String(30))
    strength: Mapped[str] = mapped_column(String(60))  # 规格 as printed
    pack_qty: Mapped[int] = mapped_column(Integer)  # smallest units per pack
    pack_unit: Mapped[str] = mapped_column(String(10))  # 片, 粒, 袋, 支…
    list_type: Mapped[str] = mapped_column(String(2))  # 甲 / 乙
    rx_flag: Mapped[bool] = mapped_column(Boolean)  # 处方药
    lmt_used_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    lmt_scope: Mapped[str] = mapped_column(String(200), default="")  # 限制使用范围
    product_key: Mapped[str] = mapped_column(String(200), index=True)


class RefPrice(Base):
    """Reference prices per code: 挂网价 (listed) and, where landed, 集采中选价 (VBP award)."""

    __tablename__ = "medicare_ref_price"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hilist_code: Mapped[str] = mapped_column(ForeignKey("medicare_drug.hilist_code"), unique=True)
    listed_price: Mapped[int] = mapped_column(Fen)
    vbp_price: Mapped[int | None] = mapped_column(Fen)
    vbp_batch: Mapped[str | None] = mapped_column(String(20))


class Stock(Base):
    """One pharmacy's price (per pack, fen) and stock (packs) of one code.

    Debits are ``qty = qty - n WHERE qty >= n`` under the row lock; ``version`` counts changes so
    the in-memory offer index can tell a row moved.
    """

    __tablename__ = "medicare_stock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fixmedins_id: Mapped[int] = mapped_column(ForeignKey("medicare_fixmedins.id"))
    drug_id: Mapped[int] = mapped_column(ForeignKey("medicare_drug.id"))
    pric: Mapped[int] = mapped_column(Fen)
    qty: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("fixmedins_id", "drug_id"),
        Index("ix_medicare_stock_drug", "drug_id", "fixmedins_id", "pric", "qty"),  # covering
        CheckConstraint("qty >= 0", name="qty_not_negative"),
        CheckConstraint("pric > 0", name="pric_positive"),
    )


class Order(Base):
    """A 渝药易购 order at one pharmacy; ``idem_key`` makes a resubmitted payment a no-op."""

    __tablename__ = "medicare_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    idem_key: Mapped[str] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    psn_no: Mapped[str] = mapped_column(ForeignKey("medicare_insured.psn_no"), index=True)
    fixmedins_id: Mapped[int] = mapped_column(ForeignKey("medicare_fixmedins.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, native_enum=False, length=12))
    delivery: Mapped[bool] = mapped_column(Boolean)
    distance_m: Mapped[float | None] = mapped_column(Float)
    eta_minutes: Mapped[float | None] = mapped_column(Float)
    prescription_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    refund_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class Settlement(Base):
    """结算信息 (``setl_d``); a refund is a second row with negated amounts and ``orig_setl_id``.

    ``med_type`` 41 = 定点药店购药. At a pharmacy the pool pays nothing (``hifp_pay`` 0): the
    personal account (own, then a relative's by 家庭共济) and cash cover the bill.
    """

    __tablename__ = "medicare_setl"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    setl_id: Mapped[str] = mapped_column(String(32), unique=True)
    mdtrt_id: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("medicare_order.id"), index=True)
    psn_no: Mapped[str] = mapped_column(String(30), index=True)
    insutype: Mapped[str] = mapped_column(String(6))
    med_type: Mapped[str] = mapped_column(String(6))
    medfee_sumamt: Mapped[int] = mapped_column(Fen)
    fulamt_ownpay_amt: Mapped[int] = mapped_column(Fen, default=0)
    inscp_amt: Mapped[int] = mapped_column(Fen)
    hifp_pay: Mapped[int] = mapped_column(Fen, default=0)
    fund_pay_sumamt: Mapped[int] = mapped_column(Fen, default=0)
    psn_part_amt: Mapped[int] = mapped_column(Fen)
    acct_pay: Mapped[int] = mapped_column(Fen)
    acct_mulaid_pay: Mapped[int] = mapped_column(Fen)
    mulaid_psn_no: Mapped[str | None] = mapped_column(String(30))
    mulaid_detail: Mapped[list[Any]] = mapped_column(JSON, default=list)
    psn_cash_pay: Mapped[int] = mapped_column(Fen)
    balc: Mapped[int] = mapped_column(Fen)  # own account balance after this settlement
    refd_setl_flag: Mapped[str] = mapped_column(String(1), default="0")
    orig_setl_id: Mapped[str | None] = mapped_column(String(32))
    setl_time: Mapped[datetime] = mapped_column(UtcDateTime())
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    insu_admdvs: Mapped[str] = mapped_column(String(6))


class FeeLine(Base):
    """费用明细 (``fee_list_d``): one code, count, price, and each box's traceability code."""

    __tablename__ = "medicare_fee_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    setl_id: Mapped[str] = mapped_column(ForeignKey("medicare_setl.setl_id"), index=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("medicare_stock.id"))
    hilist_code: Mapped[str] = mapped_column(String(23))
    hilist_name: Mapped[str] = mapped_column(String(100))
    list_type: Mapped[str] = mapped_column(String(2))
    med_chrgitm_type: Mapped[str] = mapped_column(String(4), default="09")  # 西药费/中成药费
    cnt: Mapped[int] = mapped_column(Integer)
    pric: Mapped[int] = mapped_column(Fen)
    det_item_fee_sumamt: Mapped[int] = mapped_column(Fen)
    trace_codes: Mapped[str] = mapped_column(Text)  # comma-separated 20-digit 追溯码, one a box


class ClueStatus(enum.StrEnum):
    new = "new"
    confirmed = "confirmed"
    dismissed = "dismissed"
    case_opened = "case_opened"


class Clue(Base):
    """基金监管线索: one rule hit on one subject (person, pharmacy or hospital) in one window,
    with its evidence. ``dedup_key`` (rule|kind|subject|window) makes re-runs idempotent."""

    __tablename__ = "medicare_clue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(40), index=True)
    rule_type: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10), index=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(30), index=True)
    district: Mapped[str] = mapped_column(String(6), index=True)
    window: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ClueStatus] = mapped_column(
        Enum(ClueStatus, native_enum=False, length=12), index=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PriceChange(Base):
    """A pharmacy's price of a code changed (医药价格智治: the history an outlier is judged by)."""

    __tablename__ = "medicare_price_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("medicare_stock.id"), index=True)
    old_pric: Mapped[int] = mapped_column(Fen)
    new_pric: Mapped[int] = mapped_column(Fen)
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PriceCheck(Base):
    """One daily price check (local date); a re-run the same day updates its row."""

    __tablename__ = "medicare_price_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rows: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[int] = mapped_column(Integer)


class PriceWatch(Base):
    """A stock row's run of flagged daily checks: ``streak`` consecutive checks since
    ``episode_start``; the row is kept (streak 0) when a check clears it."""

    __tablename__ = "medicare_price_watch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("medicare_stock.id"), unique=True)
    streak: Mapped[int] = mapped_column(Integer)
    episode_start: Mapped[date] = mapped_column(Date)
    last_flag_day: Mapped[date | None] = mapped_column(Date)
    last_ratio: Mapped[float | None] = mapped_column(Float)


class PriceCase(Base):
    """The supervision case opened for a persistent outlier: one per (stock row, episode)."""

    __tablename__ = "medicare_price_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("medicare_stock.id"), index=True)
    episode_start: Mapped[date] = mapped_column(Date)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("stock_id", "episode_start"),)
