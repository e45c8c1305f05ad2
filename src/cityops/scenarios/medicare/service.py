"""DRG/DIP operations behind the routes and the CLI: pure (no session); tables and parameters
are read once per path and kept, since they do not change while the process runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from cityops.errors import CityOpsError, PayloadTooLarge
from cityops.scenarios.medicare import dip, drg_loader, grouper, payment, records
from cityops.scenarios.medicare.drg_schemas import (
    BatchRead,
    DipRead,
    GroupingRead,
    HospitalRead,
    PaymentRead,
    RefusalRead,
    StepRead,
)
from cityops.settings import Settings

E4 = Decimal(10_000)


@dataclass(frozen=True)
class Medicare:
    """What grouping and payment need: tables, payment parameters, the DIP catalogue."""

    loaded: drg_loader.Loaded
    rules: payment.PaymentRules
    dip: dip.Catalogue
    dip_issues: tuple[drg_loader.LoadIssue, ...]


@lru_cache(maxsize=8)
def _load(tables: Path, rules: Path, catalogue: Path) -> Medicare:
    cat, issues = dip.load_catalogue(catalogue)
    return Medicare(drg_loader.load(tables), payment.load_rules(rules), cat, tuple(issues))


def medicare(settings: Settings) -> Medicare:
    return _load(
        settings.medicare_drg_tables or drg_loader.SHIPPED,
        settings.medicare_payment_rules or payment.SHIPPED_RULES,
        settings.medicare_dip_catalogue or dip.SHIPPED,
    )


def _read(m: Medicare, r: records.DischargeRecord, g: grouper.Grouping) -> GroupingRead:
    t = m.loaded.tables
    drg = t.drgs.get(g.drg)
    pay = None
    if r.hospital_level is not None:
        p = payment.pay_case(r, g, tables=t, rules=m.rules, level=r.hospital_level)
        pay = PaymentRead(
            kind=p.kind, standard_fen=p.standard_fen, paid_fen=p.paid_fen,
            deposit_fen=p.deposit_fen, why=p.why,
        )  # fmt: skip
    d = dip.score(r, m.dip, rules=m.rules.dip, or_procs=t.or_procs, level=r.hospital_level)
    points = (Decimal(d.points.numerator) / Decimal(d.points.denominator)).quantize(Decimal("0.01"))
    return GroupingRead(
        record_id=g.record_id, drg=g.drg, drg_name=drg.name if drg else None, status=g.status,
        mdc=g.mdc, adrg=g.adrg, cc_level=g.cc_level, weight=Decimal(g.weight_e4) / E4,
        reason=g.reason, trace=[StepRead(stage=s.stage, rule=s.rule, why=s.why) for s in g.trace],
        payment=pay, dip=DipRead(packet=d.packet, points=points, deviation=d.deviation, why=d.why),
        tables=t.version, synthetic=t.synthetic,
    )  # fmt: skip


def group_one(*, settings: Settings, body: Mapping[str, Any]) -> GroupingRead:
    """Group one record with its trace, payment (when the level is given) and DIP points;
    a malformed record raises InvalidCode/InvalidRecord (422) with the reason."""
    m = medicare(settings)
    r = records.parse(body)
    return _read(m, r, grouper.group(r, m.loaded.tables))


def group_batch(*, settings: Settings, rows: Sequence[Mapping[str, Any]]) -> BatchRead:
    """Group a batch and report CMI by hospital; bad records are refused one by one."""
    if len(rows) > settings.medicare_batch_max:
        raise PayloadTooLarge(
            f"{len(rows)} records: at most {settings.medicare_batch_max} a batch",
            code="batch_too_large",
        )
    m = medicare(settings)
    good: list[records.DischargeRecord] = []
    refused: list[RefusalRead] = []
    for i, row in enumerate(rows):
        try:
            good.append(records.parse(row))
        except CityOpsError as exc:
            refused.append(RefusalRead(index=i, id=str(row.get("id") or ""), code=exc.code,
                                       reason=exc.message))  # fmt: skip
    return summarise(m, good, refused)


def summarise(
    m: Medicare,
    good: Sequence[records.DischargeRecord],
    refused: list[RefusalRead],
    groupings: Sequence[grouper.Grouping] | None = None,
    pays: Sequence[payment.CasePayment | None] | None = None,
) -> BatchRead:
    """Counts and CMI by hospital for checked records (grouped and paid here unless already)."""
    t = m.loaded.tables
    gs = grouper.group_many(good, t) if groupings is None else groupings
    by_hospital = payment.cmi_by_hospital(good, gs)
    paid = _paid_by_hospital(good, payments(m, good, gs) if pays is None else pays)
    grouped = sum(h.grouped for h in by_hospital)
    weight = sum(h.weight_e4 for h in by_hospital)
    return BatchRead(
        cases=len(good), grouped=grouped, ambiguous=sum(h.ambiguous for h in by_hospital),
        ungroupable=sum(h.ungroupable for h in by_hospital), refused=refused,
        hospitals=[
            HospitalRead(
                hospital=h.hospital, cases=h.cases, grouped=h.grouped, ambiguous=h.ambiguous,
                ungroupable=h.ungroupable, total_weight=Decimal(h.weight_e4) / E4, cmi=h.cmi,
                paid_fen=paid.get(h.hospital),
            )
            for h in by_hospital
        ],
        cmi=(Decimal(weight) / grouped / E4).quantize(Decimal("0.0001")) if grouped else Decimal(0),
        tables=t.version, synthetic=t.synthetic,
    )  # fmt: skip


def payments(
    m: Medicare, good: Sequence[records.DischargeRecord], gs: Sequence[grouper.Grouping]
) -> list[payment.CasePayment | None]:
    """Each case's payment; None where its hospital level is not known."""
    t, rules = m.loaded.tables, m.rules
    return [
        None if r.hospital_level is None
        else payment.pay_case(r, g, tables=t, rules=rules, level=r.hospital_level)
        for r, g in zip(good, gs, strict=True)
    ]  # fmt: skip


def _paid_by_hospital(
    good: Sequence[records.DischargeRecord], pays: Sequence[payment.CasePayment | None]
) -> dict[str, int]:
    """Σ paid per hospital where every case names its level (else no figure for it)."""
    paid: dict[str, int] = {}
    unknown: set[str] = set()
    for r, p in zip(good, pays, strict=True):
        if p is None:
            unknown.add(r.hospital)
            continue
        paid[r.hospital] = paid.get(r.hospital, 0) + p.paid_fen
    return {h: v for h, v in paid.items() if h not in unknown}
