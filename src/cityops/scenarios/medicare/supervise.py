"""基金监管在线: the rule base evaluated over columnar settlement data, pure and vectorised.

Input is arrays, one row per fee line (``medicare_fee_line`` joined with its ``medicare_setl``,
the insured person and the ``medicare_fixmedins``), plus discharges for 分解住院. Each rule type
is one numpy function returning hits grouped per (subject, natural month): that is what a clue
is (same rule + subject + window → one clue). Every hit carries its evidence: line ids, values,
the threshold and the legal basis. Refunded settlements are not fund payments and are left out
of every rule but swipe→refund. Unknown sex (0) or age (−1) never hits a restriction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from cityops.scenarios.medicare.supervision_rules import Rule, RuleSet, RuleType

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
EVIDENCE_ROWS = 20  # line ids kept per clue; the count says how many there were


@dataclass(frozen=True)
class Institutions:
    """定点医药机构 by index: level 0 is a pharmacy, 1–3 a hospital's 一/二/三级."""

    codes: Sequence[str]
    level: npt.NDArray[np.int8]
    district: Sequence[str]
    kind: Sequence[str]  # peer type, e.g. chain / single pharmacy, or the hospital level
    capacity: npt.NDArray[np.float64]  # plausible settlements a day; NaN: the rule's threshold


@dataclass(frozen=True)
class Transactions:
    """Fee lines as columns; ``minute`` and ``refund_minute`` are local minutes since 1970."""

    line_id: I64
    setl: I64
    psn: npt.NDArray[np.int32]
    inst: npt.NDArray[np.int32]
    item: npt.NDArray[np.int32]
    minute: I64
    cnt: npt.NDArray[np.int32]
    amount: I64  # fen
    acct_pay: I64  # fen paid from the personal account (and 共济)
    sex: npt.NDArray[np.int8]  # 1 male, 2 female, 0 unknown
    age: npt.NDArray[np.int16]  # years, −1 unknown
    insutype: npt.NDArray[np.int16]  # 310, 390, …
    med_type: npt.NDArray[np.int16]  # 41 药店购药, 11 门诊, 21 住院, …
    refund_minute: I64  # −1: not refunded
    trace_row: I64  # one row per box: the fee line (row index) …
    trace_code: I64  # … and the traceability code as an id
    persons: Sequence[str]
    items: Sequence[str]
    institutions: Institutions
    traces: Sequence[str] = ()  # trace code text by id, when known (evidence shows the id else)

    def __len__(self) -> int:
        return len(self.setl)

    @cached_property
    def day(self) -> I64:
        return self.minute // 1440

    @cached_property
    def month(self) -> I64:
        return _months(self.day)

    @cached_property
    def paid(self) -> Mask:
        return self.refund_minute < 0

    def item_ids(self, codes: Sequence[str]) -> I64:
        index = {c: i for i, c in enumerate(self.items)}
        return np.array([index[c] for c in codes if c in index], dtype=np.int64)


@dataclass(frozen=True)
class Discharges:
    """出院记录 for 分解住院: person, hospital (institution index), admission and discharge day."""

    record_id: Sequence[str]
    psn: npt.NDArray[np.int32]
    hosp: npt.NDArray[np.int32]
    adm_day: I64
    dis_day: I64
    disease: npt.NDArray[np.int32]  # same id = same disease (e.g. the ADRG or 3-char ICD)
    emergency: Mask
    planned: Mask  # planned cycles (化疗/放疗) are excluded
    # Stays admitted before this day are context only (the window before a period): they can
    # be the first stay of a pair, never the readmission, whose month a run does not cover.
    first_day: int = -(2**62)


@dataclass(frozen=True)
class Hit:
    """One clue's worth: a rule, a subject, a month and the evidence."""

    rule_id: str
    rule_type: str
    severity: str
    subject_kind: str  # person | pharmacy | hospital
    subject: str
    district: str
    window: str  # YYYY-MM
    evidence: dict[str, Any] = field(default_factory=dict)


def _months(day: I64) -> I64:
    return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_label(month: int) -> str:
    return str(np.datetime64(int(month), "M"))


def _inst_kind(t: Transactions, inst: int) -> str:
    return "pharmacy" if t.institutions.level[inst] == 0 else "hospital"


def _group(keys: I64) -> list[I64]:
    """Row positions of ``keys`` grouped by equal key (in key order)."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    cuts = np.flatnonzero(np.diff(keys[order])) + 1
    return np.split(order, cuts)


def _collect(
    rule: Rule,
    t: Transactions,
    rows: I64,
    *,
    by_person: bool = False,
    extra: Callable[[I64], dict[str, Any]] | None = None,
) -> list[Hit]:
    """Hit rows → one hit per (subject, month) with the evidence a reviewer needs."""
    subject = (t.psn if by_person else t.inst)[rows].astype(np.int64)
    month = t.month[rows]
    keys = subject * 100_000 + month
    hits = []
    for pos in _group(keys):
        r = rows[pos]
        first = int(r[0])
        inst = int(t.inst[first])
        evidence: dict[str, Any] = {
            "institution": t.institutions.codes[inst],
            "lines": t.line_id[r[:EVIDENCE_ROWS]].tolist(),
            "count": len(r),
            "settlements": len(np.unique(t.setl[r])),
            "amount_fen": int(t.amount[r].sum()),
            "items": sorted({t.items[i] for i in np.unique(t.item[r]).tolist()}),
            "persons": sorted({t.persons[p] for p in np.unique(t.psn[r][:200]).tolist()}),
            "threshold": rule.threshold,
            "legal_basis": rule.legal_basis,
            "rule_name": rule.name,
        }
        if extra is not None:
            evidence.update(extra(r))
        hits.append(
            Hit(
                rule_id=rule.id,
                rule_type=rule.type.value,
                severity=rule.severity.value,
                subject_kind="person" if by_person else _inst_kind(t, inst),
                subject=t.persons[int(t.psn[first])] if by_person else t.institutions.codes[inst],
                district=t.institutions.district[inst],
                window=month_label(int(month[pos[0]])),
                evidence=evidence,
            )
        )
    return hits


def _distinct_counts(key: I64, setl: I64) -> tuple[I64, I64]:
    """For each distinct ``key``: how many distinct settlements it has."""
    order = np.lexsort((setl, key))
    k, s = key[order], setl[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
    uniq, counts = np.unique(k[new], return_counts=True)
    return uniq, counts


def _restricted(rule: Rule, t: Transactions) -> Mask:
    return np.isin(t.item, t.item_ids(rule.items)) & t.paid


def sex_restriction(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    bad = (t.sex > 0) & (t.sex != rule.sex)
    return _collect(rule, t, np.flatnonzero(_restricted(rule, t) & bad))


def age_restriction(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    low = rule.min_age if rule.min_age is not None else 0
    high = rule.max_age if rule.max_age is not None else 10_000
    bad = (t.age >= 0) & ((t.age < low) | (t.age > high))
    return _collect(rule, t, np.flatnonzero(_restricted(rule, t) & bad))


def insutype_restriction(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    allowed = np.array([int(x) for x in rule.insutypes], dtype=np.int16)
    bad = ~np.isin(t.insutype, allowed)
    return _collect(rule, t, np.flatnonzero(_restricted(rule, t) & bad))


def visit_type_restriction(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    allowed = np.array([int(x) for x in rule.med_types], dtype=np.int16)
    bad = ~np.isin(t.med_type, allowed)
    return _collect(rule, t, np.flatnonzero(_restricted(rule, t) & bad))


def level_restriction(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    bad = t.institutions.level[t.inst] < (rule.min_level or 0)
    return _collect(rule, t, np.flatnonzero(_restricted(rule, t) & bad))


def duplicate_charge(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """Both items of a pair charged to one person by one institution in the same window."""
    span = rule.window_days or 1
    bucket = (t.day - int(t.day.min(initial=0))) // span if len(t) else t.day
    key = (t.psn.astype(np.int64) * len(t.institutions.codes) + t.inst) * 1_000_000 + bucket
    hit = np.zeros(len(t), dtype=bool)
    for a, b in rule.pairs:
        ia, ib = t.item_ids([a]), t.item_ids([b])
        if len(ia) == 0 or len(ib) == 0:
            continue
        in_a, in_b = (t.item == ia[0]) & t.paid, (t.item == ib[0]) & t.paid
        both = np.intersect1d(key[in_a], key[in_b])
        hit |= (in_a | in_b) & np.isin(key, both)
    return _collect(rule, t, np.flatnonzero(hit))


def trace_code_reuse(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """A box's 追溯码 in more than ``threshold`` paid settlements: the later sales are the hits."""
    keep = t.paid[t.trace_row]
    rows, codes = t.trace_row[keep], t.trace_code[keep]
    order = np.lexsort((t.minute[rows], codes))
    rows, codes = rows[order], codes[order]
    uniq, counts = _distinct_counts(codes, t.setl[rows])
    reused = uniq[counts > (rule.threshold or 1)]
    sel = np.flatnonzero(np.isin(codes, reused))
    if len(sel) == 0:
        return []
    first = np.r_[True, np.diff(codes[sel]) != 0]
    first_line = {int(c): int(t.line_id[r]) for c, r in zip(codes[sel][first], rows[sel][first],
                                                            strict=True)}  # fmt: skip
    code_of: dict[int, list[int]] = {}
    for r, c in zip(rows[sel][~first].tolist(), codes[sel][~first].tolist(), strict=True):
        code_of.setdefault(r, []).append(c)

    def extra(r: I64) -> dict[str, Any]:
        cs = sorted({c for row in r.tolist() for c in code_of[row]})[:EVIDENCE_ROWS]
        text = [t.traces[c] if c < len(t.traces) else str(c) for c in cs]
        return {"trace_codes": text, "first_sold_line": dict(zip(text, [first_line[c] for c in cs],
                                                                  strict=True))}  # fmt: skip

    return _collect(rule, t, np.unique(rows[sel][~first]), extra=extra)


def frequent_purchase(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """More than ``threshold`` settlements of one drug by one person in a natural month."""
    key = (t.psn.astype(np.int64) * (len(t.items) + 1) + t.item) * 100_000 + t.month
    key = np.where(t.paid, key, -1)
    uniq, counts = _distinct_counts(key, t.setl)
    over = uniq[(counts > (rule.threshold or 0)) & (uniq >= 0)]
    return _collect(rule, t, np.flatnonzero(np.isin(key, over)), by_person=True)


def over_quantity(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """A line of more than ``threshold`` boxes (of the listed items, or of any)."""
    hit = (t.cnt > (rule.threshold or 0)) & t.paid
    if rule.items:
        hit &= np.isin(t.item, t.item_ids(rule.items))
    return _collect(rule, t, np.flatnonzero(hit), extra=lambda r: {"max_cnt": int(t.cnt[r].max())})


def swipe_refund(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """At least ``threshold`` settlements refunded within ``window_minutes`` in a month."""
    gap = t.refund_minute - t.minute
    quick = (t.refund_minute >= 0) & (gap >= 0) & (gap <= (rule.window_minutes or 0))
    rows = np.flatnonzero(quick)
    key = t.inst[rows].astype(np.int64) * 100_000 + t.month[rows]
    uniq, counts = _distinct_counts(key, t.setl[rows])
    over = uniq[counts >= (rule.threshold or 0)]
    return _collect(rule, t, rows[np.isin(key, over)])


def foot_traffic(rule: Rule, t: Transactions, _d: Discharges | None) -> list[Hit]:
    """Days on which a pharmacy settled more than is plausible (its capacity, else threshold)."""
    key = np.where(t.paid, t.inst.astype(np.int64) * 1_000_000 + t.day, -1)
    uniq, counts = _distinct_counts(key, t.setl)
    inst = uniq // 1_000_000
    cap = t.institutions.capacity[np.maximum(inst, 0)]
    limit = np.where(np.isnan(cap), rule.threshold or 0, cap)
    busy = uniq[(counts > limit) & (uniq >= 0)]
    per_day = dict(zip(uniq[np.isin(uniq, busy)].tolist(), counts[np.isin(uniq, busy)].tolist(),
                       strict=True))  # fmt: skip

    def extra(r: I64) -> dict[str, Any]:
        days = np.unique(key[r])
        return {
            "days": [str(np.datetime64(int(d % 1_000_000), "D")) for d in days[:31]],
            "settlements_max_day": max(per_day[int(d)] for d in days),
        }

    return _collect(rule, t, np.flatnonzero(np.isin(key, busy)), extra=extra)


def readmission(rule: Rule, t: Transactions, d: Discharges | None) -> list[Hit]:
    """分解住院: same person, hospital and disease readmitted within ``window_days`` of discharge,
    neither an emergency nor a planned cycle. The subject is the hospital; the month that of the
    readmission."""
    if d is None or len(d.psn) < 2:
        return []
    o = np.lexsort((d.adm_day, d.psn))
    psn, hosp, dis = d.psn[o], d.hosp[o], d.disease[o]
    gap = d.adm_day[o][1:] - d.dis_day[o][:-1]
    hit = (
        (psn[1:] == psn[:-1]) & (hosp[1:] == hosp[:-1]) & (dis[1:] == dis[:-1])
        & (gap >= 0) & (gap <= (rule.window_days or 0))
        & ~d.emergency[o][1:] & ~d.planned[o][1:] & (d.adm_day[o][1:] >= d.first_day)
    )  # fmt: skip
    later, earlier = o[1:][hit], o[:-1][hit]
    month = _months(d.adm_day[later])
    hits = []
    for pos in _group(hosp[1:][hit].astype(np.int64) * 100_000 + month):
        h = int(d.hosp[later[pos[0]]])
        ab = zip(earlier[pos][:EVIDENCE_ROWS], later[pos][:EVIDENCE_ROWS], strict=True)
        pairs = [[d.record_id[int(a)], d.record_id[int(b)]] for a, b in ab]
        hits.append(
            Hit(
                rule_id=rule.id, rule_type=rule.type.value, severity=rule.severity.value,
                subject_kind="hospital", subject=t.institutions.codes[h],
                district=t.institutions.district[h], window=month_label(int(month[pos[0]])),
                evidence={
                    "count": len(pos), "readmissions": pairs,
                    "institution": t.institutions.codes[h],
                    "gap_days": gap[hit][pos][:EVIDENCE_ROWS].tolist(),
                    "persons": sorted({t.persons[int(p)] for p in d.psn[later[pos]][:200]}),
                    "threshold": rule.window_days, "legal_basis": rule.legal_basis,
                    "rule_name": rule.name,
                },
            )
        )  # fmt: skip
    return hits


CHECKS: dict[RuleType, Callable[[Rule, Transactions, Discharges | None], list[Hit]]] = {
    RuleType.sex_restriction: sex_restriction,
    RuleType.age_restriction: age_restriction,
    RuleType.insutype_restriction: insutype_restriction,
    RuleType.visit_type_restriction: visit_type_restriction,
    RuleType.level_restriction: level_restriction,
    RuleType.duplicate_charge: duplicate_charge,
    RuleType.trace_code_reuse: trace_code_reuse,
    RuleType.readmission: readmission,
    RuleType.frequent_purchase: frequent_purchase,
    RuleType.over_quantity: over_quantity,
    RuleType.swipe_refund: swipe_refund,
    RuleType.foot_traffic: foot_traffic,
}


def evaluate(rules: RuleSet, t: Transactions, discharges: Discharges | None = None) -> list[Hit]:
    """Every enabled rule over the data, in rule order."""
    out: list[Hit] = []
    for rule in rules.rules:
        out.extend(CHECKS[rule.type](rule, t, discharges))
    return out
