"""A month of synthetic discharge records (出院病例) for the DRG/DIP grouper: deterministic by seed.

SYNTHETIC throughout: a few dozen hospitals (一级/二级/三级) across Chongqing districts, and a
case mix drawn from the grouping tables themselves, so most records group and a known few do
not (a principal diagnosis in no MDC → 0000; an OR procedure foreign to the MDC → QY). Costs are
log-normal around the DRG's average with a thin tail of very high and very low cases (outliers).
The hospital is a plain code string; ``store_month`` places a month into ``medicare_discharge``
at the registered hospitals (same grade where it can) for registered persons (same sex), with
times in the month and a few planted 分解住院 (the same stay again within 15 days).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.scenarios.medicare import discharges
from cityops.scenarios.medicare.drg_tables import Adrg, DrgTables, Kind, Rule, Special
from cityops.scenarios.medicare.grouper import Status, group
from cityops.scenarios.medicare.models import InsuredPerson
from cityops.scenarios.medicare.records import LEVELS, NEWBORN_DAYS, DischargeRecord, as_row

# (adcode, district) — a spread of central and outer districts (reference §7).
DISTRICTS = (
    ("500103", "渝中区"), ("500105", "江北区"), ("500106", "沙坪坝区"), ("500107", "九龙坡区"),
    ("500108", "南岸区"), ("500112", "渝北区"), ("500101", "万州区"), ("500102", "涪陵区"),
    ("500116", "江津区"), ("500117", "合川区"), ("500118", "永川区"), ("500154", "开州区"),
)  # fmt: skip
# Share of discharges by level, and how a level's mix leans (surgical share, MCC/CC odds).
LEVEL_VOLUME = {"三级": 6.0, "二级": 2.5, "一级": 0.6}
SURGICAL_SHARE = {"三级": 0.40, "二级": 0.28, "一级": 0.12}
MCC_RATE = {"三级": 0.12, "二级": 0.07, "一级": 0.03}
CC_RATE = {"三级": 0.30, "二级": 0.22, "一级": 0.15}
SUFFIXES = (".000", ".100", ".800", ".900", ".x00")
NO_MDC_DX = ("R10.400", "R50.900", "Z51.100")  # in no synthetic MDC: 0000
UNRELATED_OR = "54.1100"  # 剖腹探查: with a non-digestive principal diagnosis → QY


@dataclass(frozen=True, slots=True)
class Hospital:
    code: str  # fixmedins_code-like: H + district adcode + 5 digits (synthetic)
    name: str
    level: str
    district: str


def hospitals() -> list[Hospital]:
    """36 synthetic hospitals, three a district: 6 三级, 18 二级 and 12 一级 in all."""
    out: list[Hospital] = []
    for i, (code, name) in enumerate(DISTRICTS):
        levels = ("三级", "二级", "一级") if i % 2 == 0 else ("二级", "二级", "一级")
        for k, level in enumerate(levels, start=1):
            label = {
                "三级": "人民医院",
                "二级": "中医院" if k == 2 else "第二医院",
                "一级": "社区医院",
            }
            out.append(Hospital(f"H{code}{k:05d}", f"{name}{label[level]}", level, code))
    return out


class _Mix:
    """The ADRGs to draw from, split by surgical vs other, plus helper code pools."""

    def __init__(self, tables: DrgTables) -> None:
        self.t = tables
        ordinary = [a for a in tables.adrgs.values() if tables.mdcs[a.mdc].special == Special.none]
        ordinary_mdcs = {a.mdc for a in ordinary}
        self.surgical = [a for a in ordinary if a.kind == Kind.surgical]
        self.other = [a for a in ordinary if a.kind != Kind.surgical]
        self.special = [a for a in tables.adrgs.values() if a not in ordinary]
        self.mcc = sorted(c for c, e in tables.cc.items() if e.level == "MCC")
        self.cc = sorted(c for c, e in tables.cc.items() if e.level == "CC")
        self.mdc_dx = {
            m: sorted(k for k, v in tables.dx_mdc.items() if m in v) for m in tables.mdcs
        }
        self.any_dx = sorted(k for k, v in tables.dx_mdc.items() if v[0] in ordinary_mdcs)
        self.regions: dict[str, list[str]] = {}
        for code, region in tables.trauma_region.items():
            self.regions.setdefault(region, []).append(code)


def _full(rng: random.Random, code: str) -> str:
    """A full diagnosis code for a table entry that may be a category (K35 → K35.800)."""
    return code if "." in code else code + rng.choice(SUFFIXES[:4])


def _principal(rng: random.Random, mix: _Mix, a: Adrg) -> str:
    pool = sorted(a.dx) or mix.mdc_dx[a.mdc] or mix.any_dx
    return _full(rng, rng.choice(pool))


def _procedures(rng: random.Random, a: Adrg) -> tuple[str, ...]:
    if a.rule == Rule.proc_pair:
        return (rng.choice(sorted(a.proc)), rng.choice(sorted(a.proc2)))
    if a.rule in (Rule.proc, Rule.any_proc, Rule.dx_proc) or (a.rule == Rule.vent and a.proc):
        return (rng.choice(sorted(a.proc)),)
    return ()


def _record(rng: random.Random, mix: _Mix, h: Hospital, n: int, month: str) -> DischargeRecord:
    roll = rng.random()
    if roll < 0.03 and mix.special:
        a = rng.choice(mix.special)
    elif roll < 0.03 + SURGICAL_SHARE[h.level] and mix.surgical:
        a = rng.choice(mix.surgical)
    else:
        a = rng.choice(mix.other)
    mdc = mix.t.mdcs[a.mdc]
    principal = _principal(rng, mix, a)
    others: list[str] = []
    procs = list(_procedures(rng, a))
    age, age_days, bw, vent = rng.randint(18, 90), None, None, 0
    if mdc.special == Special.newborn:
        age, age_days = 0, rng.randint(0, NEWBORN_DAYS)
        bw = rng.randint(a.bw_min_g or 900, a.bw_max_g or 4200)
    elif mdc.special == Special.pre and a.rule == Rule.vent:
        vent = rng.randint(a.min_vent_hours, a.min_vent_hours * 4)
        principal = _full(rng, rng.choice(mix.mdc_dx.get("E") or mix.mdc_dx[a.mdc] or ["J18"]))
    elif mdc.special == Special.hiv:
        hiv = mix.mdc_dx[a.mdc]
        others.append(_full(rng, rng.choice(hiv)))
    elif mdc.special == Special.trauma:
        regions = rng.sample(sorted(mix.regions), 2)
        principal = _full(rng, rng.choice(mix.regions[regions[0]]))
        others.append(_full(rng, rng.choice(mix.regions[regions[1]])))
    odd = rng.random()
    if odd < 0.004:
        principal = rng.choice(NO_MDC_DX)
    elif odd < 0.007 and a.mdc not in ("G", "A", "Y", "Z"):
        procs.append(UNRELATED_OR)
    if rng.random() < MCC_RATE[h.level] and mix.mcc:
        others.append(_full(rng, rng.choice(mix.mcc)))
    if rng.random() < CC_RATE[h.level] and mix.cc:
        others.append(_full(rng, rng.choice(mix.cc)))
    sex = mdc.sex or rng.choice((1, 2))
    r = DischargeRecord(
        id=f"{month}-{n:07d}", hospital=h.code, sex=sex, age=age, principal_dx=principal,
        other_dx=tuple(others), procedures=tuple(procs), age_days=age_days, birth_weight_g=bw,
        vent_hours=vent, los_days=max(1, int(rng.lognormvariate(1.9, 0.5))), cost_fen=0,
        hospital_level=h.level,
    )  # fmt: skip
    return _with_cost(rng, mix.t, r)


def _with_cost(rng: random.Random, t: DrgTables, r: DischargeRecord) -> DischargeRecord:
    g = group(r, t)
    drg = t.drgs.get(g.drg) if g.status == Status.grouped else None
    mean = drg.avg_cost_fen if drg and drg.avg_cost_fen else 800_000
    tail = rng.random()
    factor = rng.lognormvariate(0, 0.35)
    if tail < 0.015:
        factor = rng.uniform(3.2, 6.0)  # 费用极高
    elif tail < 0.035:
        factor = rng.uniform(0.1, 0.35)  # 费用极低
    return dataclasses.replace(r, cost_fen=max(10_000, math.floor(mean * factor)))


def generate(
    tables: DrgTables, *, cases: int, seed: int = 7, month: str = "2026-10"
) -> Iterator[DischargeRecord]:
    """``cases`` records for ``month``, spread over ``hospitals()`` by level volume."""
    rng = random.Random(seed)
    mix = _Mix(tables)
    hs = hospitals()
    weights = [LEVEL_VOLUME[h.level] for h in hs]
    for n in range(cases):
        yield _record(rng, mix, rng.choices(hs, weights)[0], n + 1, month)


READMIT_SHARE = 0.01  # planted 分解住院: the same stay again 3–14 days after discharge
EMERGENCY_SHARE = 0.05  # 急诊入院 (never 分解住院)


def placed_rows(
    records: Sequence[DischargeRecord],
    *,
    month: str,
    tz: ZoneInfo,
    hospitals: Sequence[tuple[str, int | None]],
    persons: Sequence[tuple[str, str | None]],
    seed: int = 7,
) -> list[dict[str, Any]]:
    """Import rows (``discharges.IMPORT_FIELDS``) for ``records``: each at a registered hospital
    of its grade (any when none has it), for a person of its sex (a synthetic number when there
    is none), discharged in ``month`` after its stay; a share planted as readmissions."""
    rng = random.Random(seed)
    first = date.fromisoformat(f"{month}-01")
    days = (first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
            - first).days  # fmt: skip
    by_grade: dict[int | None, list[str]] = {}
    for code, lv in hospitals:
        by_grade.setdefault(lv, []).append(code)
    by_sex: dict[str, list[str]] = {}
    for psn, gend in persons:
        by_sex.setdefault(gend or "", []).append(psn)
    out: list[dict[str, Any]] = []
    for r in records:
        grade = LEVELS.index(r.hospital_level) + 1 if r.hospital_level else None
        code = rng.choice(by_grade.get(grade) or [c for c, _ in hospitals])
        level = next(lv for c, lv in hospitals if c == code) if grade not in by_grade else grade
        pool = by_sex.get(str(r.sex))
        psn = rng.choice(pool) if pool else f"SIM{rng.randrange(10**9):09d}"
        day = first + timedelta(days=rng.randrange(days))
        dscg = datetime.combine(day, time(9), tz) + timedelta(minutes=rng.randrange(480))
        adm = dscg - timedelta(days=r.los_days, minutes=rng.randrange(240))
        row = {**as_row(r), "hospital": code, "psn_no": psn, "adm_time": adm.isoformat(),
               "dscg_time": dscg.isoformat(), "emergency": rng.random() < EMERGENCY_SHARE,
               "hospital_level": LEVELS[level - 1] if level else ""}  # fmt: skip
        out.append(row)
        again = dscg + timedelta(days=rng.randint(3, 14))
        if rng.random() < READMIT_SHARE and (again + timedelta(days=3)).month == first.month:
            out.append(
                {
                    **row,
                    "id": f"{r.id}-R",
                    "emergency": False,
                    "adm_time": again.isoformat(),
                    "dscg_time": (again + timedelta(days=3)).isoformat(),
                    "los_days": 3,
                }
            )
    return out  # fmt: skip


def store_month(
    *, session: Session, tables: DrgTables, month: str, cases: int, tz: ZoneInfo, at: datetime,
    seed: int = 7,
) -> discharges.ImportResult:  # fmt: skip
    """Generate ``cases`` discharges of ``month`` and store them through the import path (so a
    second run stores nothing new); the persons are drawn from the first 20,000 registered."""
    hs = list(discharges.known_hospitals(session).items())
    if not hs:
        hs = [(h.code, LEVELS.index(h.level) + 1) for h in hospitals()]
    persons = session.execute(
        select(InsuredPerson.psn_no, InsuredPerson.gend).order_by(InsuredPerson.id).limit(20_000)
    ).all()
    recs = list(generate(tables, cases=cases, seed=seed, month=month))
    rows = placed_rows(recs, month=month, tz=tz, hospitals=hs,
                       persons=[(p, g) for p, g in persons], seed=seed)  # fmt: skip
    return discharges.import_batch(
        session=session,
        rows=rows,
        tz=tz,
        at=at,
        actor="system:sim-discharges",
        source=f"sim {month}",
    )
