"""The discharge record (出院病例, from the settlement list) the groupers read, and its checks.

Field names follow the national platform where one exists (``fixmedins_code`` = hospital code,
``dscg_maindiag_code`` = principal diagnosis); the hospital stays a plain code string. Checks are
OpenDRG's pre-checks (reference §1.3 step 4): sex 1/2, an age, age in days when the age is 0,
birth weight for a newborn ≤ 28 days, a principal diagnosis, well-formed codes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cityops.errors import CityOpsError
from cityops.scenarios.medicare import icd

NEWBORN_DAYS = 28  # 新生儿: age < 29 days (reference §1.3, MDCP)
LEVELS = ("一级", "二级", "三级")
CSV_FIELDS = (
    "id", "hospital", "hospital_level", "sex", "age", "age_days", "birth_weight_g",
    "principal_dx", "other_dx", "procedures", "vent_hours", "los_days", "cost_fen",
)  # fmt: skip
LIST_SEP = ";"


class InvalidRecord(CityOpsError):
    """A record the grouper cannot read (missing sex, age …): refused with the reason."""

    status = 422
    code = "invalid_record"


@dataclass(frozen=True, slots=True)
class DischargeRecord:
    """One discharge, codes already validated and normalised (see ``parse``)."""

    id: str
    hospital: str
    sex: int  # 1 male, 2 female
    age: int  # years
    principal_dx: str
    other_dx: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()  # the first is the principal procedure
    age_days: int | None = None
    birth_weight_g: int | None = None
    vent_hours: int = 0
    los_days: int = 1
    cost_fen: int = 0
    hospital_level: str | None = None  # 一级/二级/三级 when known (payment needs it)


def _int(raw: Any, name: str, *, required: bool, low: int = 0, high: int = 10**12) -> int | None:
    if raw is None or raw == "":
        if required:
            raise InvalidRecord(f"{name} is required", field=name)
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidRecord(f"{name}: {raw!r} is not a whole number", field=name) from None
    if not low <= value <= high:
        raise InvalidRecord(f"{name}: {value} is outside {low}–{high}", field=name)
    return value


def _codes(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    items = raw.split(LIST_SEP) if isinstance(raw, str) else list(raw)
    return [c for c in (str(i).strip() for i in items) if c]


def parse(raw: Mapping[str, Any]) -> DischargeRecord:
    """A checked record from a dict (CSV row or JSON); InvalidCode/InvalidRecord with the reason."""
    sex = _int(raw.get("sex"), "sex", required=True, low=1, high=2)
    age = _int(raw.get("age"), "age", required=True, high=150)
    age_days = _int(raw.get("age_days"), "age_days", required=age == 0, high=366)
    weight = _int(raw.get("birth_weight_g"), "birth_weight_g", required=False, high=10_000)
    if age_days is not None and age_days <= NEWBORN_DAYS and weight is None:
        raise InvalidRecord(
            f"a newborn ({age_days} days) needs birth_weight_g", field="birth_weight_g"
        )
    principal = raw.get("principal_dx")
    if not principal:
        raise InvalidRecord("principal_dx (主要诊断) is required", field="principal_dx")
    level = raw.get("hospital_level") or None
    if level is not None and level not in LEVELS:
        raise InvalidRecord(f"hospital_level: {level!r} is not one of {', '.join(LEVELS)}")
    others = _codes(raw.get("other_dx"))
    procs = _codes(raw.get("procedures"))
    assert sex is not None and age is not None
    return DischargeRecord(
        id=str(raw.get("id") or ""),
        hospital=str(raw.get("hospital") or ""),
        sex=sex,
        age=age,
        principal_dx=icd.diagnosis(principal, field="principal_dx"),
        other_dx=tuple(icd.diagnosis(c, field=f"other_dx[{i}]") for i, c in enumerate(others)),
        procedures=tuple(icd.procedure(c, field=f"procedures[{i}]") for i, c in enumerate(procs)),
        age_days=age_days,
        birth_weight_g=weight,
        vent_hours=_int(raw.get("vent_hours"), "vent_hours", required=False) or 0,
        los_days=_int(raw.get("los_days"), "los_days", required=False, high=3650) or 1,
        cost_fen=_int(raw.get("cost_fen"), "cost_fen", required=False) or 0,
        hospital_level=level,
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A row that could not be read, where it was and why."""

    where: str
    id: str
    code: str
    reason: str


def read_csv(path: Path) -> tuple[list[DischargeRecord], list[Refusal]]:
    """Every readable record of a CSV file (``CSV_FIELDS``) and a refusal per bad row."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return parse_rows(csv.DictReader(f), source=path.name)


def parse_rows(
    rows: Iterable[Mapping[str, Any]], *, source: str
) -> tuple[list[DischargeRecord], list[Refusal]]:
    good: list[DischargeRecord] = []
    bad: list[Refusal] = []
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            good.append(parse(row))
        except CityOpsError as exc:
            bad.append(Refusal(f"{source}:{n}", str(row.get("id") or ""), exc.code, exc.message))
    return good, bad


def as_row(r: DischargeRecord) -> dict[str, Any]:
    """A record as a CSV row (lists joined by ';')."""
    return {
        "id": r.id, "hospital": r.hospital, "hospital_level": r.hospital_level or "",
        "sex": r.sex, "age": r.age, "age_days": "" if r.age_days is None else r.age_days,
        "birth_weight_g": "" if r.birth_weight_g is None else r.birth_weight_g,
        "principal_dx": r.principal_dx, "other_dx": LIST_SEP.join(r.other_dx),
        "procedures": LIST_SEP.join(r.procedures), "vent_hours": r.vent_hours,
        "los_days": r.los_days, "cost_fen": r.cost_fen,
    }  # fmt: skip


def write_csv(records: Iterable[DischargeRecord], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    n = 0
    for r in records:
        writer.writerow(as_row(r))
        n += 1
    return n
