"""基金监管在线 over the database: fee lines of a period read in keyset chunks into the
evaluator's columns, then ``clues.run_supervision``. Only compact numpy columns and interned
codes stay in memory; each chunk's rows are dropped once converted.

Sex is the person's ``gend`` and age their age in whole years on the settlement's local date
(from ``brdy``); a hospital's level is its ``hosp_lv``. What a row does not hold is left unknown,
never guessed: no ``gend``/``brdy`` → sex 0 / age −1 (no sex/age restriction hits), a hospital
without ``hosp_lv`` counts as 三级 (no level restriction hits). There is no chain flag (peers are
grouped by pharmacy/hospital and district).

分解住院 reads the stored discharges (``medicare_discharge``) admitted in the period plus those
discharged in the rule's window before it, so a readmission early in the month is paired with the
stay before; those earlier stays are context only (their own readmissions belong to the earlier
run). The disease is the principal diagnosis's ICD-10 category (K35.800 → K35); a principal
diagnosis of Z51.0/Z51.1 (放疗/化疗 cycles) is planned; a stay at a hospital not registered in
``medicare_fixmedins`` is not checked (a clue needs the hospital's district).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import ValidationFailed
from cityops.scenarios.medicare.clues import RunSummary, run_supervision
from cityops.scenarios.medicare.discharge_models import Discharge
from cityops.scenarios.medicare.models import (
    FeeLine,
    Fixmedins,
    FixmedinsType,
    InsuredPerson,
    Order,
    Settlement,
)
from cityops.scenarios.medicare.supervise import Discharges, Institutions, Transactions
from cityops.scenarios.medicare.supervision_rules import RuleSet, RuleType

CHUNK = 20_000
MAX_DAYS = 366
PLANNED_DX = ("Z51.0", "Z51.1")  # 放疗/化疗 cycles: planned readmissions, not 分解住院
UNKNOWN_GRADE_LEVEL = 3  # no hosp_lv: the hospital never fails a level restriction
_COLS = ("line_id", "setl", "psn", "inst", "item", "minute", "cnt", "amount", "acct_pay",
         "insutype", "med_type", "refund_minute", "sex", "age")  # fmt: skip


@dataclass(frozen=True)
class Period:
    """Local calendar days ``first`` … ``last`` inclusive, as a UTC half-open interval."""

    first: date
    last: date
    start: datetime
    end: datetime


def period(first: date, last: date, tz: ZoneInfo) -> Period:
    if last < first:
        raise ValidationFailed("`to` is before `from`", code="bad_period")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"a run covers at most {MAX_DAYS} days", code="bad_period")
    start = datetime.combine(first, time(), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
    return Period(first, last, start, end)


class _Interner(dict[str, int]):
    def id(self, key: str) -> int:
        got = self.get(key)
        if got is None:
            got = self[key] = len(self)
        return got

    def names(self) -> list[str]:
        return list(self)


def _local_minute(at: datetime, tz: ZoneInfo) -> int:
    offset = at.astimezone(tz).utcoffset() or timedelta()
    return int((at.timestamp() + offset.total_seconds()) // 60)


def _code(value: str) -> int:
    return int(value) if value.isdigit() else -1


def _sex(gend: str | None) -> int:
    return int(gend) if gend in ("1", "2") else 0


def age_on(brdy: date | None, day: date) -> int:
    """Whole years on ``day`` (−1 unknown); a 29 February birthday counts from 1 March."""
    if brdy is None or brdy > day:
        return -1
    return day.year - brdy.year - ((day.month, day.day) < (brdy.month, brdy.day))


def _level(pharmacy: bool, hosp_lv: int | None) -> int:
    if pharmacy:
        return 0
    return hosp_lv if hosp_lv in (1, 2, 3) else UNKNOWN_GRADE_LEVEL


def _institutions(session: Session) -> tuple[Institutions, dict[int, int]]:
    rows = session.execute(
        select(Fixmedins.id, Fixmedins.fixmedins_code, Fixmedins.fixmedins_type, Fixmedins.admdvs,
               Fixmedins.hosp_lv)
        .order_by(Fixmedins.id)
    ).all()  # fmt: skip
    pharmacy = [r.fixmedins_type == FixmedinsType.pharmacy for r in rows]
    inst = Institutions(
        codes=[r.fixmedins_code for r in rows],
        level=np.array(
            [_level(p, r.hosp_lv) for p, r in zip(pharmacy, rows, strict=True)], dtype=np.int8
        ),
        district=[r.admdvs for r in rows],
        kind=["pharmacy" if p else "hospital" for p in pharmacy],
        capacity=np.full(len(rows), np.nan),
    )
    return inst, {r.id: i for i, r in enumerate(rows)}


def _refunds(session: Session, p: Period, tz: ZoneInfo) -> dict[str, int]:
    """Local refund minute by original settlement (a refund always follows its sale)."""
    q = select(Settlement.orig_setl_id, Settlement.setl_time).where(
        Settlement.orig_setl_id.is_not(None), Settlement.setl_time >= p.start
    )
    return {str(o): _local_minute(t, tz) for o, t in session.execute(q)}


def load_transactions(
    *, session: Session, p: Period, tz: ZoneInfo, chunk: int = CHUNK
) -> Transactions:
    """Paid settlements (not the refund rows) set in ``p``, one row per fee line."""
    inst, inst_index = _institutions(session)
    refunds = _refunds(session, p, tz)
    persons, items, traces = _Interner(), _Interner(), _Interner()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (*_COLS, "trace_row", "trace_code")}
    q = (
        select(
            FeeLine.id, FeeLine.hilist_code, FeeLine.cnt, FeeLine.det_item_fee_sumamt,
            FeeLine.trace_codes, Settlement.id.label("sid"), Settlement.setl_id,
            Settlement.psn_no, Settlement.insutype, Settlement.med_type,
            Settlement.medfee_sumamt, Settlement.acct_pay, Settlement.acct_mulaid_pay,
            Settlement.setl_time, Order.fixmedins_id, InsuredPerson.gend, InsuredPerson.brdy,
        )
        .join(Settlement, Settlement.setl_id == FeeLine.setl_id)
        .join(Order, Order.id == Settlement.order_id)
        .outerjoin(InsuredPerson, InsuredPerson.psn_no == Settlement.psn_no)
        .where(Settlement.orig_setl_id.is_(None), Settlement.setl_time >= p.start,
               Settlement.setl_time < p.end)
        .order_by(FeeLine.id)
        .limit(chunk)
    )  # fmt: skip
    last, row0 = 0, 0
    while True:
        rows = session.execute(q.where(FeeLine.id > last)).all()
        if not rows:
            break
        cols: dict[str, list[int]] = {k: [] for k in (*_COLS, "trace_row", "trace_code")}
        for i, r in enumerate(rows):
            total = r.medfee_sumamt or 1
            local = r.setl_time.astimezone(tz)
            values = (
                r.id, r.sid, persons.id(r.psn_no), inst_index[r.fixmedins_id],
                items.id(r.hilist_code), _local_minute(r.setl_time, tz), r.cnt,
                r.det_item_fee_sumamt,
                (r.acct_pay + r.acct_mulaid_pay) * r.det_item_fee_sumamt // total,
                _code(r.insutype), _code(r.med_type), refunds.get(r.setl_id, -1),
                _sex(r.gend), age_on(r.brdy, local.date()),
            )  # fmt: skip
            for k, v in zip(_COLS, values, strict=True):
                cols[k].append(v)
            for code in filter(None, r.trace_codes.split(",")):
                cols["trace_row"].append(row0 + i)
                cols["trace_code"].append(traces.id(code))
        for k, v in cols.items():
            parts[k].append(np.array(v, dtype=np.int64))
        last, row0 = rows[-1].id, row0 + len(rows)
    c = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
    return Transactions(
        line_id=c["line_id"], setl=c["setl"], psn=c["psn"].astype(np.int32),
        inst=c["inst"].astype(np.int32), item=c["item"].astype(np.int32), minute=c["minute"],
        cnt=c["cnt"].astype(np.int32), amount=c["amount"], acct_pay=c["acct_pay"],
        sex=c["sex"].astype(np.int8), age=c["age"].astype(np.int16),
        insutype=c["insutype"].astype(np.int16), med_type=c["med_type"].astype(np.int16),
        refund_minute=c["refund_minute"], trace_row=c["trace_row"], trace_code=c["trace_code"],
        persons=persons.names(), items=items.names(), institutions=inst, traces=traces.names(),
    )  # fmt: skip


def readmission_window(rules: RuleSet) -> int | None:
    """The longest window of the enabled readmission rules (days); None: none is enabled."""
    days = [r.window_days or 0 for r in rules.rules if r.type == RuleType.readmission]
    return max(days) if days else None


def load_discharges(
    *, session: Session, p: Period, tz: ZoneInfo, window_days: int, t: Transactions,
    chunk: int = CHUNK,
) -> tuple[Discharges, Transactions]:  # fmt: skip
    """Stays for 分解住院 in ``p`` (with the window before it) as ``Discharges`` indexed like
    ``t``: persons not among ``t``'s are added to the returned transactions' person list."""
    inst = {c: i for i, c in enumerate(t.institutions.codes)}
    persons, diseases = _Interner(), _Interner()
    for name in t.persons:
        persons.id(name)
    cols: dict[str, list[int]] = {k: [] for k in ("psn", "hosp", "adm", "dis", "dx", "em", "pl")}
    ids: list[str] = []
    q = (
        select(Discharge.mdtrt_id, Discharge.psn_no, Discharge.fixmedins_code, Discharge.adm_time,
               Discharge.dscg_time, Discharge.dscg_maindiag_code, Discharge.emergency)
        .where(Discharge.dscg_time >= p.start - timedelta(days=window_days),
               Discharge.adm_time < p.end)
        .order_by(Discharge.id)
        .execution_options(yield_per=chunk)
    )  # fmt: skip
    for r in session.execute(q):
        h = inst.get(r.fixmedins_code)
        if h is None:
            continue
        ids.append(r.mdtrt_id)
        values = (persons.id(r.psn_no), h, _local_minute(r.adm_time, tz) // 1440,
                  _local_minute(r.dscg_time, tz) // 1440, diseases.id(r.dscg_maindiag_code[:3]),
                  r.emergency, r.dscg_maindiag_code.startswith(PLANNED_DX))  # fmt: skip
        for k, v in zip(cols, values, strict=True):
            cols[k].append(int(v))
    c = {k: np.array(v, dtype=np.int64) for k, v in cols.items()}
    d = Discharges(
        record_id=ids, psn=c["psn"].astype(np.int32), hosp=c["hosp"].astype(np.int32),
        adm_day=c["adm"], dis_day=c["dis"], disease=c["dx"].astype(np.int32),
        emergency=c["em"].astype(bool), planned=c["pl"].astype(bool),
        first_day=(p.first - date(1970, 1, 1)).days,
    )  # fmt: skip
    return d, dataclasses.replace(t, persons=persons.names())


@dataclass(frozen=True)
class DbRun:
    period: Period
    lines: int
    summary: RunSummary
    discharges: int = 0  # stays read for 分解住院 (with the window before the period)


def supervise_database(
    *, session: Session, rules: RuleSet, p: Period, tz: ZoneInfo, at: datetime,
    chunk: int = CHUNK,
) -> DbRun:  # fmt: skip
    """Load ``p`` from the tables, evaluate rules and peers, store the clues (idempotent)."""
    t = load_transactions(session=session, p=p, tz=tz, chunk=chunk)
    window, d = readmission_window(rules), None
    if window is not None:
        d, t = load_discharges(session=session, p=p, tz=tz, window_days=window, t=t, chunk=chunk)
    summary = run_supervision(session=session, at=at, rules=rules, transactions=t, discharges=d)
    return DbRun(p, len(t), summary, 0 if d is None else len(d.record_id))
