"""Synthetic settlements for 基金监管 (fund supervision), columnar and seeded: a month of clean fee
lines with planted violations of each rule type, so recall per type and false positives on the
clean part can be measured (bench_fundsup, tests). No database; SYNTHETIC throughout.

Clean lines keep inside every shipped rule: generic drugs only (plus the restricted items sold
where they are allowed), 1–5 boxes, refunds an hour or more after the sale, unique 追溯码, about
35 settlements a pharmacy a day. Each planted case is ``(rule_type, subject)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cityops.scenarios.medicare.supervise import Discharges, Institutions, Transactions
from cityops.scenarios.medicare.supervision_rules import Rule, RuleSet, RuleType

DISTRICTS = ("500103", "500105", "500106", "500107", "500108", "500112")
START_DAY = int(np.datetime64("2026-05-01", "D").astype(np.int64))
HOSPITALS = 36


@dataclass(frozen=True)
class Synthetic:
    transactions: Transactions
    discharges: Discharges
    planted: set[tuple[str, str]]  # (rule_type, subject code)


def _rule(rules: RuleSet, kind: RuleType) -> Rule | None:
    return next((r for r in rules.rules if r.type == kind), None)


def generate(
    rules: RuleSet, *, lines: int = 1_000_000, seed: int = 7, plants: int = 20
) -> Synthetic:
    """``lines`` clean fee lines (2 a settlement) plus ``plants`` cases per rule type."""
    rng = np.random.default_rng(seed)
    n_setl = max(lines // 2, 1)
    n_pharm = max(n_setl // (35 * 30), 10)
    n_inst = n_pharm + HOSPITALS
    n_psn = max(n_setl // 10, 50)
    level = np.r_[np.zeros(n_pharm, np.int8), np.tile(np.array([1, 2, 3], np.int8), HOSPITALS // 3)]
    inst = Institutions(
        codes=[f"P{i:08d}" for i in range(n_pharm)] + [f"H{i:08d}" for i in range(HOSPITALS)],
        level=level,
        district=[DISTRICTS[i % len(DISTRICTS)] for i in range(n_inst)],
        kind=["chain" if i % 3 else "single" for i in range(n_inst)],
        capacity=np.full(n_inst, np.nan),
    )
    paired = {c for r in rules.rules for p in r.pairs for c in p}
    special = sorted({c for r in rules.rules for c in r.items} | paired)
    items = [f"XG{i:021d}" for i in range(500)] + special
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "setl", "psn", "inst", "item", "minute", "cnt", "amount", "sex", "age", "insutype",
        "med_type", "refund")}  # fmt: skip

    def add(setl: np.ndarray, **kw: np.ndarray) -> None:
        m = len(setl)
        defaults = {"cnt": np.ones(m), "sex": np.ones(m), "age": np.full(m, 40),
                    "insutype": np.full(m, 310), "med_type": np.full(m, 41),
                    "refund": np.full(m, -1)}  # fmt: skip
        cols["setl"].append(setl)
        for k in cols:
            if k != "setl":
                cols[k].append(np.asarray(kw.get(k, defaults.get(k)), dtype=np.int64))

    # clean: settlements of 2 lines
    s_psn = rng.integers(0, n_psn, n_setl)
    s_inst = rng.integers(0, n_pharm, n_setl)
    s_min = (START_DAY + rng.integers(0, 30, n_setl)) * 1440 + rng.integers(480, 1260, n_setl)
    refunded = rng.random(n_setl) < 0.01
    s_ref = np.where(refunded, s_min + rng.integers(60, 600, n_setl), -1)
    rep = np.repeat(np.arange(n_setl), 2)
    add(rep, psn=s_psn[rep], inst=s_inst[rep], item=rng.integers(0, 500, 2 * n_setl),
        minute=s_min[rep], cnt=rng.integers(1, 6, 2 * n_setl),
        amount=rng.integers(500, 20_000, 2 * n_setl), sex=(s_psn[rep] % 2) + 1,
        age=20 + s_psn[rep] % 60, refund=s_ref[rep])  # fmt: skip
    next_setl = n_setl
    planted: set[tuple[str, str]] = set()
    idx = {c: i for i, c in enumerate(items)}
    day0 = START_DAY * 1440 + 600

    def plant(kind: RuleType, subject_inst: int, n: int, **kw: object) -> None:
        nonlocal next_setl
        setl = np.arange(next_setl, next_setl + n)
        next_setl += n
        base = {
            "psn": rng.integers(0, n_psn, n),
            "inst": np.full(n, subject_inst),
            "item": np.zeros(n),
            "minute": np.full(n, day0),
            "amount": np.full(n, 5000),
        }
        base.update({k: np.broadcast_to(np.asarray(v), (n,)) for k, v in kw.items()})
        add(setl, **base)
        planted.add((kind.value, inst.codes[subject_inst]))

    for j in range(plants):
        ph = int(rng.integers(0, n_pharm))
        hosp = n_pharm + int(rng.integers(0, HOSPITALS))
        if r := _rule(rules, RuleType.sex_restriction):
            plant(r.type, ph, 1, item=idx[r.items[0]], sex=3 - (r.sex or 1))
        if r := _rule(rules, RuleType.age_restriction):
            plant(r.type, ph, 1, item=idx[r.items[0]], age=(r.max_age or 0) + 1)
        if r := _rule(rules, RuleType.insutype_restriction):
            plant(r.type, ph, 1, item=idx[r.items[0]], insutype=390)
        if r := _rule(rules, RuleType.visit_type_restriction):
            plant(r.type, ph, 1, item=idx[r.items[0]], med_type=41)
        if r := _rule(rules, RuleType.level_restriction):
            plant(r.type, ph, 1, item=idx[r.items[0]])
        if r := _rule(rules, RuleType.over_quantity):
            plant(r.type, ph, 1, cnt=int(r.threshold or 0) + 1)
        if r := _rule(rules, RuleType.swipe_refund):
            plant(r.type, ph, int(r.threshold or 1), refund=day0 + (r.window_minutes or 1))
        if r := _rule(rules, RuleType.duplicate_charge):
            a, b = r.pairs[0]
            p = int(rng.integers(0, n_psn))
            plant(r.type, hosp, 2, item=np.array([idx[a], idx[b]]), psn=p, med_type=21)
        if r := _rule(rules, RuleType.frequent_purchase):
            n = int(r.threshold or 0) + 1
            p = n_psn + j  # a person of its own: the subject is the person
            plant(r.type, ph, n, psn=p, item=j)
            planted.discard((r.type.value, inst.codes[ph]))
            planted.add((r.type.value, f"X{p:08d}"))
        if r := _rule(rules, RuleType.foot_traffic):
            plant(r.type, ph, int(r.threshold or 0) + 1, minute=day0 + 1440 * 40)
    persons = [f"X{i:08d}" for i in range(n_psn + plants)]
    c = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(c["setl"])
    trace_row = np.arange(n, dtype=np.int64)
    trace_code = trace_row.copy()
    if r := _rule(rules, RuleType.trace_code_reuse):
        src = rng.choice(2 * n_setl, plants, replace=False)  # a clean box sold again elsewhere
        phs = (c["inst"][src] + 1 + np.arange(plants)) % n_pharm
        for k in c:
            c[k] = np.r_[c[k], phs if k == "inst" else c[k][src]]
        c["setl"][n:] = np.arange(next_setl, next_setl + plants)
        c["minute"][n:] += 2880
        c["refund"][n:] = -1
        trace_row = np.r_[trace_row, np.arange(n, n + plants)]
        trace_code = np.r_[trace_code, trace_code[src]]
        planted.update((r.type.value, inst.codes[int(p)]) for p in phs)
        c["refund"][src] = -1  # the first sale stood
    t = Transactions(
        line_id=np.arange(len(c["setl"]), dtype=np.int64), setl=c["setl"],
        psn=c["psn"].astype(np.int32), inst=c["inst"].astype(np.int32),
        item=c["item"].astype(np.int32), minute=c["minute"], cnt=c["cnt"].astype(np.int32),
        amount=c["amount"], acct_pay=c["amount"] * 9 // 10, sex=c["sex"].astype(np.int8),
        age=c["age"].astype(np.int16), insutype=c["insutype"].astype(np.int16),
        med_type=c["med_type"].astype(np.int16), refund_minute=c["refund"],
        trace_row=trace_row, trace_code=trace_code, persons=persons, items=items,
        institutions=inst,
    )  # fmt: skip
    return Synthetic(t, _discharges(rules, rng, n_pharm, n_psn, plants, planted), planted)


def _discharges(
    rules: RuleSet,
    rng: np.random.Generator,
    n_pharm: int,
    n_psn: int,
    plants: int,
    planted: set[tuple[str, str]],
) -> Discharges:
    """One stay per person for a fraction, a second stay 20+ days later (clean); planted pairs
    come back after 10 days to the same hospital with the same disease."""
    n = max(n_psn // 5, 10)
    psn = rng.choice(n_psn, n, replace=False).astype(np.int32)
    hosp = (n_pharm + rng.integers(0, HOSPITALS, n)).astype(np.int32)
    adm = START_DAY + rng.integers(0, 10, n)
    dis = adm + rng.integers(2, 8, n)
    disease = rng.integers(0, 50, n).astype(np.int32)
    psn2, hosp2, dis2 = psn, hosp, disease
    adm2 = dis + 20 + rng.integers(0, 10, n)
    r = next((x for x in rules.rules if x.type == RuleType.readmission), None)
    k = plants if r is not None else 0
    adm2 = adm2.copy()
    adm2[:k] = dis[:k] + (r.window_days if r is not None and r.window_days else 0) - 1
    if r is not None:
        planted.update((r.type.value, f"H{h - n_pharm:08d}") for h in hosp[:k].tolist())
    return Discharges(
        record_id=[f"D{i:09d}" for i in range(2 * n)],
        psn=np.r_[psn, psn2], hosp=np.r_[hosp, hosp2], adm_day=np.r_[adm, adm2],
        dis_day=np.r_[dis, adm2 + 3], disease=np.r_[disease, dis2],
        emergency=np.zeros(2 * n, bool), planned=np.zeros(2 * n, bool),
    )  # fmt: skip
