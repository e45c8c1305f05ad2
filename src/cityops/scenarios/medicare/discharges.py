"""Importing discharge records (出院病例) into ``medicare_discharge``: from a CSV file (the CLI) or
a JSON batch (the route), each row checked the way the grouper checks it plus what storing needs.

The layout is ``records.CSV_FIELDS`` (``id`` is the 就诊ID ``mdtrt_id``, ``hospital`` the
``fixmedins_code``) plus ``psn_no``, ``adm_time``, ``dscg_time`` (ISO 8601; without an offset a
time is local) and an optional ``emergency`` (1/true: 急诊入院). An empty ``los_days`` is the
number of calendar days between admission and discharge (at least 1). Every bad row is reported
with its row and reason and the good ones are stored; a ``mdtrt_id`` already stored is skipped,
so importing the same file again stores nothing new. One ledger entry per batch with the counts.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cityops.errors import CityOpsError
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import records
from cityops.scenarios.medicare.discharge_models import Discharge
from cityops.scenarios.medicare.models import Fixmedins, FixmedinsType
from cityops.scenarios.medicare.records import InvalidRecord

IMPORT_FIELDS = (*records.CSV_FIELDS, "psn_no", "adm_time", "dscg_time", "emergency")
BATCH_MAX = 1000  # records a request (the route); a file is imported in chunks of this size
_TRUE = {"1", "true", "yes", "y", "是"}
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A row not stored: its number (file line, or batch index), id, a code and the reason."""

    row: int
    id: str
    code: str
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    imported: int = 0
    skipped: list[RowIssue] = field(default_factory=list)  # already imported
    refused: list[RowIssue] = field(default_factory=list)  # unreadable

    def add(self, other: ImportResult) -> None:
        self.rows += other.rows
        self.imported += other.imported
        self.skipped += other.skipped
        self.refused += other.refused


def _time(raw: Any, name: str, tz: ZoneInfo) -> datetime:
    text = str(raw or "").strip()
    if not text:
        raise InvalidRecord(f"{name} is required", field=name)
    try:
        at = datetime.fromisoformat(text) if len(text) > 10 else None
        if at is None:
            at = datetime.combine(date.fromisoformat(text), time())
    except ValueError:
        raise InvalidRecord(f"{name}: {text!r} is not an ISO date or time", field=name) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _text(raw: Any, name: str, limit: int) -> str:
    value = str(raw or "").strip()
    if not value:
        raise InvalidRecord(f"{name} is required", field=name)
    if len(value) > limit:
        raise InvalidRecord(f"{name}: longer than {limit} characters", field=name)
    return value


def check_row(
    raw: Mapping[str, Any], *, tz: ZoneInfo, hospitals: Mapping[str, int | None], at: datetime
) -> dict[str, Any]:
    """A ``medicare_discharge`` row from an import row, or InvalidRecord/InvalidCode with the
    reason. ``hospitals`` (code → hosp_lv) are the known ones; empty: any code is taken."""
    r = records.parse(raw)
    mdtrt_id = _text(r.id, "id (mdtrt_id 就诊ID)", 32)
    psn_no = _text(raw.get("psn_no"), "psn_no", 30)
    code = _text(r.hospital, "hospital (fixmedins_code)", 20)
    adm, dscg = _time(raw.get("adm_time"), "adm_time", tz), _time(raw.get("dscg_time"), "dscg_time",
                                                                    tz)  # fmt: skip
    if dscg < adm:
        raise InvalidRecord(f"discharged ({dscg.isoformat()}) before admission "
                            f"({adm.isoformat()})", code="discharge_before_admission")  # fmt: skip
    if hospitals and code not in hospitals:
        raise InvalidRecord(f"hospital {code} is not a known hospital", code="unknown_hospital")
    level = records.LEVELS.index(r.hospital_level) + 1 if r.hospital_level else hospitals.get(code)
    stay = r.los_days
    if raw.get("los_days") in (None, ""):
        stay = max(1, (dscg.astimezone(tz).date() - adm.astimezone(tz).date()).days)
    return {
        "mdtrt_id": mdtrt_id, "psn_no": psn_no, "fixmedins_code": code, "hosp_lv": level,
        "adm_time": adm, "dscg_time": dscg, "gend": str(r.sex), "age": r.age,
        "age_days": r.age_days, "birth_weight_g": r.birth_weight_g,
        "dscg_maindiag_code": r.principal_dx, "other_dx": list(r.other_dx),
        "procedures": list(r.procedures), "vent_hours": r.vent_hours, "ipt_days": stay,
        "medfee_sumamt": r.cost_fen,
        "emergency": str(raw.get("emergency") or "").strip().lower() in _TRUE,
        "imported_at": at,
    }  # fmt: skip


def known_hospitals(session: Session) -> dict[str, int | None]:
    """Registered hospitals (code → hosp_lv); none registered: codes are not checked."""
    q = select(Fixmedins.fixmedins_code, Fixmedins.hosp_lv).where(
        Fixmedins.fixmedins_type == FixmedinsType.hospital
    )
    return {c: lv for c, lv in session.execute(q)}


def _stored(session: Session, ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i : i + _IN_CHUNK]
        out.update(session.scalars(select(Discharge.mdtrt_id).where(Discharge.mdtrt_id.in_(chunk))))
    return out


def store_rows(
    *,
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    tz: ZoneInfo,
    at: datetime,
    first_row: int = 0,
    hospitals: Mapping[str, int | None] | None = None,
) -> ImportResult:
    """Check ``rows`` (numbered from ``first_row``), store the good new ones; no ledger entry."""
    known = known_hospitals(session) if hospitals is None else hospitals
    out = ImportResult(rows=len(rows))
    good: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for n, raw in enumerate(rows, start=first_row):
        rid = str(raw.get("id") or "")
        try:
            values = check_row(raw, tz=tz, hospitals=known, at=at)
        except CityOpsError as exc:
            out.refused.append(RowIssue(n, rid, exc.code, exc.message))
            continue
        if values["mdtrt_id"] in seen:
            out.refused.append(RowIssue(n, rid, "duplicate_mdtrt_id",
                                        f"mdtrt_id {rid} appears twice in the batch"))  # fmt: skip
            continue
        seen.add(values["mdtrt_id"])
        good.append((n, values))
    stored = _stored(session, [v["mdtrt_id"] for _, v in good])
    fresh = [v for _, v in good if v["mdtrt_id"] not in stored]
    out.skipped += [
        RowIssue(n, v["mdtrt_id"], "already_imported", f"mdtrt_id {v['mdtrt_id']} is already "
                 "stored: skipped")
        for n, v in good if v["mdtrt_id"] in stored
    ]  # fmt: skip
    for i in range(0, len(fresh), BATCH_MAX):
        session.execute(insert(Discharge), fresh[i : i + BATCH_MAX])
    out.imported = len(fresh)
    return out


def record_import(
    *, session: Session, result: ImportResult, source: str, actor: str, at: datetime
) -> None:
    """The batch's one ledger entry: where it came from and what happened to its rows."""
    payload = {"source": source, "rows": result.rows, "imported": result.imported,
               "skipped": len(result.skipped), "refused": len(result.refused)}  # fmt: skip
    fact = ledger.Fact(actor=actor, action="medicare_discharges_imported",
                       subject="medicare_discharge", payload=payload)  # fmt: skip
    ledger.append_many(session=session, at=at, facts=[fact])


def import_batch(
    *, session: Session, rows: Sequence[Mapping[str, Any]], tz: ZoneInfo, at: datetime,
    actor: str, source: str, first_row: int = 0,
) -> ImportResult:  # fmt: skip
    """Store a batch's good new rows and ledger the batch (the caller commits)."""
    result = store_rows(session=session, rows=rows, tz=tz, at=at, first_row=first_row)
    record_import(session=session, result=result, source=source, actor=actor, at=at)
    return result


def import_csv(
    *, session: Session, path: Path, tz: ZoneInfo, at: datetime, actor: str
) -> ImportResult:
    """A whole file, ``BATCH_MAX`` rows at a time; rows numbered by file line (header = 1)."""
    out = ImportResult()
    known = known_hospitals(session)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        chunk: list[dict[str, Any]] = []
        line = 2
        for row in reader:
            chunk.append(row)
            if len(chunk) == BATCH_MAX:
                out.add(store_rows(session=session, rows=chunk, tz=tz, at=at, first_row=line,
                                   hospitals=known))  # fmt: skip
                line, chunk = line + len(chunk), []
        out.add(store_rows(session=session, rows=chunk, tz=tz, at=at, first_row=line,
                           hospitals=known))  # fmt: skip
    record_import(session=session, result=out, source=path.name, actor=actor, at=at)
    return out
