"""Request and response bodies of the DRG/DIP routes. Money in integer fen; RW and CMI as
decimals to 4 places."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class DischargeIn(BaseModel):
    """One discharge record (医保结算清单 fields); codes are checked by the grouper, not here,
    so a malformed ICD code gets ``invalid_icd`` with the field and the reason."""

    id: str = ""
    hospital: str = Field("", description="the hospital's code (fixmedins_code)")
    hospital_level: str | None = Field(None, description="一级/二级/三级: needed for payment")
    sex: int | None = Field(None, description="1 male, 2 female")
    age: int | None = Field(None, description="years")
    age_days: int | None = Field(None, description="age in days, required when age is 0")
    birth_weight_g: int | None = Field(None, description="required for a newborn ≤ 28 days")
    principal_dx: str | None = Field(None, description="主要诊断, ICD-10 e.g. K35.800")
    other_dx: list[str] = Field(default_factory=list, description="其他诊断")
    procedures: list[str] = Field(
        default_factory=list, description="ICD-9-CM-3; the first is the principal procedure"
    )
    vent_hours: int | None = None
    los_days: int | None = None
    cost_fen: int | None = Field(None, description="total cost in fen (分)")


class StepRead(BaseModel):
    stage: str
    rule: str
    why: str


class PaymentRead(BaseModel):
    kind: str = Field(description="drg, high (高倍率), low (低倍率) or item (per item)")
    standard_fen: int
    paid_fen: int
    deposit_fen: int = Field(description="quality deposit withheld from the pre-payment")
    why: str


class DipRead(BaseModel):
    packet: str | None
    points: Decimal
    deviation: str
    why: str


class GroupingRead(BaseModel):
    record_id: str
    drg: str
    drg_name: str | None
    status: str
    mdc: str | None
    adrg: str | None
    cc_level: str
    weight: Decimal
    reason: str | None
    trace: list[StepRead]
    payment: PaymentRead | None = None
    dip: DipRead
    tables: str
    synthetic: bool


class BatchIn(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="discharge records as in /drg/group; a bad one is refused, not the batch"
    )


class RefusalRead(BaseModel):
    index: int
    id: str
    code: str
    reason: str


class HospitalRead(BaseModel):
    hospital: str
    cases: int
    grouped: int
    ambiguous: int
    ungroupable: int
    total_weight: Decimal
    cmi: Decimal
    paid_fen: int | None = Field(None, description="when every case's hospital_level is known")


class BatchRead(BaseModel):
    cases: int
    grouped: int
    ambiguous: int
    ungroupable: int
    refused: list[RefusalRead]
    hospitals: list[HospitalRead]
    cmi: Decimal
    tables: str
    synthetic: bool


class MonthIn(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, local time")


class MonthRead(BatchRead):
    """A month of stored discharges grouped, the results stored on the rows."""

    month: str
    stored: int = Field(description="rows whose grouping was written")


class DischargeBatchIn(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="discharges as in /drg/group plus psn_no, adm_time, dscg_time, emergency; "
        "id is the 就诊ID (mdtrt_id)"
    )


class ImportIssueRead(BaseModel):
    index: int = Field(description="position in records, from 0")
    id: str
    code: str
    reason: str


class DischargeImportRead(BaseModel):
    rows: int
    imported: int
    skipped: list[ImportIssueRead] = Field(description="mdtrt_id already stored")
    refused: list[ImportIssueRead]
