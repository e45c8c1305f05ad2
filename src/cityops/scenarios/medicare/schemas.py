"""Request and response shapes of 渝药易购; money is integer fen, field names the platform's."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cityops.scenarios.medicare.models import OrderStatus


class DrugRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hilist_code: str
    hilist_name: str
    pinyin: str
    kind: str
    maker_name: str
    dosage_form: str
    strength: str
    pack_qty: int
    pack_unit: str
    list_type: str
    rx_flag: bool
    lmt_used_flag: bool
    lmt_scope: str
    product_key: str
    listed_price: int | None = None
    vbp_price: int | None = None


class DrugList(BaseModel):
    q: str
    matched_by: str  # code / pinyin / name
    items: list[DrugRead]


class OfferRead(BaseModel):
    fixmedins_code: str
    fixmedins_name: str
    hilist_code: str
    pack_qty: int
    pric: int  # fen per pack
    unit_price: float  # fen per smallest unit
    qty: int
    distance_m: float
    eta_minutes: float | None  # None: pick-up only at this distance
    lat: float
    lng: float


class OfferList(BaseModel):
    product_key: str
    sort: str
    items: list[OfferRead]


class OrderLineIn(BaseModel):
    hilist_code: str = Field(min_length=1, max_length=40)
    cnt: int = Field(ge=1)


class OrderIn(BaseModel):
    psn_no: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=20)
    lines: list[OrderLineIn] = Field(min_length=1)
    delivery: bool = False
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    prescription_no: str | None = Field(default=None, max_length=40)
    use_account: bool = True
    allow_cash: bool = True  # False: refuse rather than ask for cash (insufficient_balance)


class FeeLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hilist_code: str
    hilist_name: str
    list_type: str
    cnt: int
    pric: int
    det_item_fee_sumamt: int
    trace_codes: list[str]


class SettlementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    med_type: str
    medfee_sumamt: int
    inscp_amt: int
    hifp_pay: int
    acct_pay: int
    acct_mulaid_pay: int
    mulaid_psn_no: str | None
    psn_cash_pay: int
    balc: int
    refd_setl_flag: str
    orig_setl_id: str | None
    setl_time: datetime
    fixmedins_code: str


class OrderRead(BaseModel):
    order_no: str
    status: OrderStatus
    psn_no: str
    fixmedins_code: str
    delivery: bool
    distance_m: float | None
    eta_minutes: float | None
    created_at: datetime
    updated_at: datetime
    replayed: bool = False  # True: the idempotency key was seen before; nothing moved again
    settlements: list[SettlementRead]
    fee_lines: list[FeeLineRead]


class StatusIn(BaseModel):
    status: OrderStatus


class BindingIn(BaseModel):
    """家庭共济 binding by the provider: the relative's 个人编号 and name must match, as the
    official apps check 姓名 + 证件号; ``provider_psn_no`` only when the login has several
    职工 persons with an account."""

    beneficiary_psn_no: str = Field(min_length=1, max_length=30)
    beneficiary_name: str = Field(min_length=1, max_length=50)
    relation: str = Field(min_length=1, max_length=16)
    provider_psn_no: str | None = Field(default=None, max_length=30)


class BindingRead(BaseModel):
    """One binding as a login sees it: the other party masked unless also one of its persons."""

    id: int
    role: str  # provider / beneficiary: which side the login is on
    provider_psn_no: str
    provider_name: str
    beneficiary_psn_no: str
    beneficiary_name: str
    relation: str
    bound_at: datetime
    ended_at: datetime | None
    active: bool


class BindingList(BaseModel):
    items: list[BindingRead]
