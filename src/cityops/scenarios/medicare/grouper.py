"""The CHS-DRG grouper: MDC precedence → ADRG → MCC/CC with exclusions → DRG, with a trace.

Pure and table-driven (reference §1.3 "逐层细化、大类概括"): tables come from ``drg_loader``;
every result carries the steps that decided it, in words a coder can check against the tables.
An OR procedure that no surgical ADRG of the MDC takes makes the 歧义组 ``<MDC>QY``; no MDC, no
ADRG or no DRG split makes ``0000`` (无法入组); both carry the reason.
"""

from __future__ import annotations

import enum
import gc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from cityops.scenarios.medicare.drg_tables import (
    AMBIGUOUS,
    UNGROUPABLE,
    Adrg,
    DrgTables,
    Kind,
    Mdc,
    Rule,
    Special,
    first_in,
    in_list,
)
from cityops.scenarios.medicare.records import NEWBORN_DAYS, DischargeRecord

SPLIT_FOR = {"MCC": ("1", "3", "5"), "CC": ("3", "5"), "none": ("5",)}
SPLIT_WORDS = {"1": "with MCC", "3": "with CC", "5": "without CC/MCC", "9": "not split"}


class Status(enum.StrEnum):
    grouped = "grouped"
    ambiguous = "ambiguous"  # 歧义组 QY
    ungroupable = "ungroupable"  # 0000


class Step(NamedTuple):
    """One decision: the stage (mdc, adrg, cc, drg), what matched, and why."""

    stage: str
    rule: str
    why: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.why}"


@dataclass(frozen=True, slots=True)
class Grouping:
    record_id: str
    drg: str
    status: Status
    mdc: str | None = None
    adrg: str | None = None
    cc_level: str = "none"  # MCC, CC or none
    weight_e4: int = 0  # RW × 10,000; 0 when not grouped
    reason: str | None = None  # why it is ambiguous or ungroupable
    trace: tuple[Step, ...] = ()


class _Case:
    """A record's codes with their lookup keys, computed once."""

    __slots__ = ("others", "pdx", "procs", "r")

    def __init__(self, r: DischargeRecord, t: DrgTables) -> None:
        self.r = r
        self.pdx = t.dx_keys(r.principal_dx)
        self.others = [(c, t.dx_keys(c)) for c in r.other_dx]
        self.procs = [(c, t.proc_keys(c)) for c in r.procedures]

    def may_enter_pre(self, t: DrgTables) -> bool:
        """False when no pre-MDC rule can hold (most cases): skips testing each of them."""
        if self.r.vent_hours >= t.pre_min_vent or in_list(self.pdx, t.pre_codes):
            return True
        return any(in_list(keys, t.pre_codes) for _c, keys in self.procs)

    def candidates(self, t: DrgTables, mdc: str) -> set[str]:
        """The ADRGs of an MDC that one of the case's codes is listed in (or that list none)."""
        index = t.adrg_index[mdc]
        out = set(t.adrg_always[mdc])
        for keys in (self.pdx, *(k for _c, k in self.procs)):
            for k in keys:
                hit = index.get(k)
                if hit is not None:
                    out |= hit
        return out


def _any_proc(c: _Case, codes: frozenset[str]) -> str | None:
    return next((p for p, keys in c.procs if in_list(keys, codes)), None)


def _adrg_why(a: Adrg, c: _Case) -> str | None:
    """Why the ADRG's entry rule holds for the case, or None."""
    r = c.r
    if a.bw_min_g is not None or a.bw_max_g is not None:
        bw = r.birth_weight_g
        if bw is None or (a.bw_min_g or 0) > bw or (a.bw_max_g is not None and bw > a.bw_max_g):
            return None
    if a.rule == Rule.dx:
        if in_list(c.pdx, a.dx):
            return f"principal diagnosis {r.principal_dx} in {a.code} diagnosis list"
        return None
    if a.rule == Rule.proc:
        if c.procs and in_list(c.procs[0][1], a.proc):
            return f"principal procedure {c.procs[0][0]} in {a.code} procedure list"
        return None
    if a.rule == Rule.any_proc:
        p = _any_proc(c, a.proc)
        return None if p is None else f"procedure {p} in {a.code} procedure list"
    if a.rule == Rule.dx_proc:
        p = _any_proc(c, a.proc) if in_list(c.pdx, a.dx) else None
        if p is None:
            return None
        return f"principal diagnosis {r.principal_dx} and procedure {p} in {a.code} lists"
    if a.rule == Rule.proc_pair:
        p1, p2 = _any_proc(c, a.proc), _any_proc(c, a.proc2)
        if p1 is None or p2 is None:
            return None
        return f"procedures {p1} (list 1) and {p2} (list 2) of {a.code}"
    # Rule.vent
    if r.vent_hours < a.min_vent_hours:
        return None
    p = _any_proc(c, a.proc) if a.proc else None
    if a.proc and p is None:
        return None
    extra = f" with procedure {p}" if p else ""
    return f"invasive ventilation {r.vent_hours} h ≥ {a.min_vent_hours} h{extra}"


def _mdc_why(m: Mdc, c: _Case, t: DrgTables, principal_mdcs: tuple[str, ...]) -> str | None:
    r = c.r
    if m.special == Special.newborn:
        days = r.age_days if r.age == 0 else None
        if days is not None and days <= NEWBORN_DAYS:
            return f"newborn, {days} days old (< {NEWBORN_DAYS + 1})"
        if r.age == 0 and m.code in principal_mdcs:
            return f"infant with neonatal principal diagnosis {r.principal_dx} in MDC{m.code} list"
        return None
    if m.special == Special.hiv:
        if m.code in principal_mdcs:
            return f"principal diagnosis {r.principal_dx} in MDC{m.code} list"
        listed = t.mdc_codes[m.code]
        for code, keys in c.others:
            if not listed.isdisjoint(keys):
                return f"other diagnosis {code} in MDC{m.code} list"
        return None
    if m.special == Special.trauma:
        return _trauma_why(m, c, t)
    if m.code not in principal_mdcs:
        return None
    if m.sex is not None and r.sex != m.sex:
        return None
    sex = f" (sex {m.sex})" if m.sex is not None else ""
    return f"principal diagnosis {r.principal_dx} in MDC{m.code} list{sex}"


def _trauma_why(m: Mdc, c: _Case, t: DrgTables) -> str | None:
    k = first_in(c.pdx, t.trauma_region)
    if k is None:
        return None
    regions = {t.trauma_region[k]}
    for _code, keys in c.others:
        ko = first_in(keys, t.trauma_region)
        if ko is not None:
            regions.add(t.trauma_region[ko])
    if len(regions) < 2:
        return None
    return f"severe trauma in {len(regions)} body regions ({', '.join(sorted(regions))})"


def _cc_level(c: _Case, t: DrgTables, trace: list[Step]) -> str:
    k = first_in(c.pdx, t.cce)
    excluded = t.cce[k] if k is not None else frozenset()
    level = "none"
    for code, keys in c.others:
        ck = first_in(keys, t.cc)
        if ck is None:
            continue
        entry = t.cc[ck]
        if entry.exclusion in excluded:
            why = f"its exclusion table {entry.exclusion} is excluded for {c.r.principal_dx}"
            trace.append(Step("cc", f"{entry.level} {code} excluded", why))
            continue
        trace.append(Step("cc", entry.level, f"{code} (not excluded for {c.r.principal_dx})"))
        if entry.level == "MCC":
            level = "MCC"
        elif level == "none":
            level = "CC"
    return level


def _fail(
    r: DischargeRecord,
    trace: list[Step],
    reason: str,
    mdc: str | None = None,
    adrg: str | None = None,
) -> Grouping:
    trace.append(Step("drg", UNGROUPABLE, reason))
    return Grouping(
        r.id, UNGROUPABLE, Status.ungroupable, mdc, adrg, reason=reason, trace=tuple(trace)
    )


def group(record: DischargeRecord, tables: DrgTables) -> Grouping:
    """Group one checked record (``records.parse``) with its trace."""
    c, t, trace = _Case(record, tables), tables, []
    k = first_in(c.pdx, t.dx_mdc)
    principal_mdcs = t.dx_mdc[k] if k is not None else ()
    mdc: Mdc | None = None
    adrg: Adrg | None = None
    for m in t.mdc_path(k):
        if m.special == Special.pre:
            if not c.may_enter_pre(t):
                continue
            for a in t.adrgs_by_mdc[m.code]:
                why = _adrg_why(a, c)
                if why is not None:
                    trace.append(Step("mdc", f"MDC {m.code}", f"先期分组: {why}"))
                    trace.append(Step("adrg", f"ADRG {a.code}", why))
                    mdc, adrg = m, a
                    break
            if mdc is not None:
                break
            continue
        why = _mdc_why(m, c, t, principal_mdcs)
        if why is not None:
            trace.append(Step("mdc", f"MDC {m.code}", why))
            mdc = m
            break
    if mdc is None:
        reason = f"principal diagnosis {record.principal_dx} is in no MDC"
        sexed = [t.mdcs[m] for m in principal_mdcs if t.mdcs[m].sex is not None]
        if sexed:
            needs = ", ".join(f"MDC {m.code} needs sex {m.sex}" for m in sexed)
            reason = f"principal diagnosis {record.principal_dx} fits no MDC for sex {record.sex}"
            reason += f" ({needs})"
        return _fail(record, trace, reason)
    if adrg is None:
        adrg = _find_adrg(c, t, mdc, trace)
        if adrg is None:
            return _no_adrg(c, t, mdc, trace)
    return _split(c, t, mdc, adrg, trace)


def _find_adrg(c: _Case, t: DrgTables, mdc: Mdc, trace: list[Step]) -> Adrg | None:
    checked_surgical = False
    candidates = c.candidates(t, mdc.code)
    for a in t.adrgs_by_mdc[mdc.code]:
        if a.code not in candidates:
            continue
        if a.kind != Kind.surgical and not checked_surgical:
            checked_surgical = True
            if _or_procedure(c, t) is not None:
                return None  # an OR procedure no surgical ADRG takes: 歧义组
        why = _adrg_why(a, c)
        if why is not None:
            trace.append(Step("adrg", f"ADRG {a.code}", why))
            return a
    return None


def _or_procedure(c: _Case, t: DrgTables) -> str | None:
    return _any_proc(c, t.or_procs)


def _no_adrg(c: _Case, t: DrgTables, mdc: Mdc, trace: list[Step]) -> Grouping:
    r = c.r
    p = _or_procedure(c, t)
    if p is not None:
        code = f"{mdc.code}{AMBIGUOUS}"
        reason = f"OR procedure {p} is in no surgical ADRG of MDC {mdc.code}"
        trace.append(Step("drg", code, f"歧义组: {reason}"))
        return Grouping(r.id, code, Status.ambiguous, mdc.code, reason=reason, trace=tuple(trace))
    reason = f"no ADRG of MDC {mdc.code} takes principal diagnosis {r.principal_dx}"
    if r.procedures:
        reason += f" with procedures {', '.join(r.procedures)}"
    return _fail(r, trace, reason, mdc=mdc.code)


def _split(c: _Case, t: DrgTables, mdc: Mdc, adrg: Adrg, trace: list[Step]) -> Grouping:
    r = c.r
    splits = t.splits.get(adrg.code, {})
    level = _cc_level(c, t, trace)
    if "9" in splits:
        digit: str | None = "9"
    else:
        digit = next((d for d in SPLIT_FOR[level] if d in splits), None)
    if digit is None:
        return _fail(
            r, trace, f"ADRG {adrg.code} has no DRG for {level}", mdc=mdc.code, adrg=adrg.code
        )
    drg = splits[digit]
    words = SPLIT_WORDS[digit]
    if digit != "9" and SPLIT_FOR[level][0] != digit:
        words += f" (the case has {level}; ADRG {adrg.code} has no split {SPLIT_FOR[level][0]})"
    trace.append(Step("drg", f"DRG {drg.code}", f"{words}; RW {drg.weight_e4 / 1e4:g}"))
    return Grouping(
        r.id, drg.code, Status.grouped, mdc.code, adrg.code, level, drg.weight_e4,
        trace=tuple(trace),
    )  # fmt: skip


def group_many(records: Iterable[DischargeRecord], tables: DrgTables) -> list[Grouping]:
    """Group a batch (a month of discharges): one result per record, in order.

    The cyclic garbage collector is paused meanwhile: the results hold no reference cycles, and
    its passes over a heap of a month's records cost about a third of the time. It is
    switched back on only if it was on (a concurrent batch may have paused it first).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        return [group(r, tables) for r in records]
    finally:
        if was_on:
            gc.enable()
