"""12345 hotline import (热线工单导入): a CSV/Excel export becomes reports through intake.

Every row goes through :func:`cityops.cases.intake.report_batch` on the ``hotline`` channel, in
batches of one transaction each, with the external reference ``<ref_prefix>:<工单编号>`` on its
report: a row whose reference is already stored is skipped, so importing the same file twice
imports nothing new. Hotline reports carry no photo, so intake never auto-files them: they wait
as ``reported`` for a 受理员, the engine's path for reports that do not meet the filing criteria.

Times: the case's ``reported_at`` is when it entered the engine (the import; its KPI clock and
the ledger's order start there); the report row keeps the call time (来电时间) as its
``reported_at``.

Places: a row with coordinates (WGS84 or GCJ-02 as the mapping says) is placed by them. A row
with only an address is placed by intake's gazetteer (``cases/gazetteer.py``: the most specific
district, street, community, road or landmark the address names), refused as
``ambiguous_address`` when that name is several places and the address does not say which, and
refused as ``location_required`` when neither the address nor the description names a place.
A row whose category is empty or not in the mapping is classified from its 诉求内容 by intake
(``cases/classify.py``); an unsure guess waits in the 受理员 queue like every hotline report.

Caller name, phone and (if mapped) ID number are stored as any channel's reporter data:
encrypted, masked on reads for those without the right, erased after the retention period
(docs/privacy.md); they are never printed or written to the error file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from cityops.api.context import AppContext, unit_of_work
from cityops.auth.scope import machine
from cityops.cases import intake, understand
from cityops.cases.gazetteer import Place
from cityops.cases.hotline_sheet import (
    Cell,
    HotlineMapping,
    HotlineRow,
    RowError,
    column_index,
    parse_row,
)
from cityops.cases.models import CaseReport, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point
from cityops.errors import CityOpsError, ValidationFailed

ACTOR = "cli:hotline-import"
BATCH = 200
_REPORTS = cast(Table, CaseReport.__table__)
_CALL_TIME = (
    update(_REPORTS)
    .where(_REPORTS.c.external_ref == bindparam("ref"))
    .values(reported_at=bindparam("called"))
)


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0  # new reports: new cases and repeats linked to an open case
    linked: int = 0  # of those, repeats of an open case
    already: int = 0  # imported before: skipped
    errors: list[RowError] = field(default_factory=list)


def _check_mapping(mapping: HotlineMapping, rules: CaseRules) -> dict[str, str]:
    known = {c.code for c in rules.catalogue.all()}
    bad = sorted({f"{n} → {c}" for n, c in mapping.categories.items() if c not in known})
    if bad:
        raise ValidationFailed(
            f"mapping categories not in the catalogue: {'; '.join(bad)}", code="bad_mapping"
        )
    return {c.name: c.code for c in rules.catalogue.all()}


def _where(place: Place) -> str:
    return place.community_code or place.street_code or place.district_code or place.name


def _located(
    mapping: HotlineMapping, rules: CaseRules, session: Session, row: HotlineRow
) -> CaseCreate | RowError:
    cols = mapping.columns
    if row.point is not None:
        crs = "GCJ-02" if mapping.crs == "gcj02" else "WGS84"
        point: Point | None = Point(lat=row.point[0], lng=row.point[1], crs=crs)
    else:
        assert row.address is not None
        match = understand.place_of(rules, session, row.address)
        point = None  # nothing named in the address: intake still reads the description
        if match is not None and match.candidates:
            names = ", ".join(sorted({_where(p) for p in (match.place, *match.candidates)}))
            message = f"{match.matched} is several places ({names})"
            return RowError(row.row, cols.address, "ambiguous_address", message)
        if match is not None:
            point = Point(lat=match.place.lat, lng=match.place.lng)
    try:
        return CaseCreate(
            category=row.category,
            channel=Channel.hotline,
            location=point,
            description=row.description,
            address=row.address,
            reporter_name=row.caller_name,
            reporter_phone=row.caller_phone,
            reporter_id_number=row.caller_id_number,
            external_ref=row.external_ref,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else ""
        column = {
            "description": cols.description,
            "address": cols.address,
            "reporter_name": cols.caller_name,
            "reporter_phone": cols.caller_phone,
            "reporter_id_number": cols.caller_id_number,
        }.get(where)
        code = "text_too_long" if first["type"] == "string_too_long" else "bad_value"
        return RowError(row.row, column, code, f"{where}: {first['msg']}")


def _column_of(mapping: HotlineMapping, row: HotlineRow, code: str) -> str | None:
    cols = mapping.columns
    if code == "outside_city":
        return cols.lat if row.point is not None else cols.address
    if code == "location_required":
        return cols.address
    return {"unknown_category": cols.category, "text_too_long": cols.description}.get(code)


def import_rows(
    *,
    ctx: AppContext,
    rules: CaseRules,
    mapping: HotlineMapping,
    header: list[str],
    rows: Sequence[Sequence[Cell]],
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Import the good rows; report every bad one. A bad mapping raises before anything is
    written (ValidationFailed, code ``bad_mapping``)."""
    index = column_index(mapping, header)
    names = _check_mapping(mapping, rules)
    now = rules.clock.now()
    out = ImportReport()
    seen: set[str] = set()
    ready: list[tuple[HotlineRow, CaseCreate]] = []
    with ctx.sessions() as session:
        for i, values in enumerate(rows):
            if all(v is None or str(v).strip() == "" for v in values):
                continue  # a blank line at the end of an export
            out.rows += 1
            parsed = parse_row(mapping, index, names, i + 2, list(values), now)
            if isinstance(parsed, list):
                out.errors += parsed
                continue
            if parsed.external_ref in seen:
                out.errors.append(
                    RowError(
                        parsed.row,
                        mapping.columns.external_id,
                        "duplicate_id",
                        f"工单编号 {parsed.external_ref.split(':', 1)[1]} is repeated in the file",
                    )
                )
                continue
            seen.add(parsed.external_ref)
            data = _located(mapping, rules, session, parsed)
            if isinstance(data, RowError):
                out.errors.append(data)
            else:
                ready.append((parsed, data))
    if progress is not None:
        progress(len(rows) - len(ready))  # refused and blank rows are done
    for start in range(0, len(ready), batch):
        chunk = ready[start : start + batch]
        _import_batch(ctx, rules, mapping, chunk, out)
        if progress is not None:
            progress(len(chunk))
    out.errors.sort(key=lambda e: (e.row, e.column or ""))
    return out


def _import_batch(
    ctx: AppContext,
    rules: CaseRules,
    mapping: HotlineMapping,
    chunk: list[tuple[HotlineRow, CaseCreate]],
    out: ImportReport,
) -> None:
    """One transaction: skip what is stored already, take the rest, keep their call times."""
    with unit_of_work(ctx) as session:
        refs = [row.external_ref for row, _ in chunk]
        stored = set(
            session.execute(
                select(CaseReport.external_ref).where(CaseReport.external_ref.in_(refs))
            ).scalars()
        )
        todo = [(row, data) for row, data in chunk if row.external_ref not in stored]
        out.already += len(chunk) - len(todo)
        if not todo:
            return
        results = intake.report_batch(
            session=session,
            rules=rules,
            items=[data for _, data in todo],
            actor=machine(ACTOR),
            at=rules.clock.now(),
        )
        called: list[dict[str, object]] = []
        for (row, _), result in zip(todo, results, strict=True):
            if isinstance(result, CityOpsError):
                column = _column_of(mapping, row, result.code)
                out.errors.append(RowError(row.row, column, result.code, result.message))
                continue
            out.imported += 1
            out.linked += int(result.duplicate)
            called.append({"ref": row.external_ref, "called": row.received_at})
        if called:
            session.execute(_CALL_TIME, called)


def write_errors(path: Path, errors: Sequence[RowError]) -> None:
    """The error rows as CSV (row, column, code, message), UTF-8 with a BOM so Excel reads it."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "column", "code", "message"])
        for e in errors:
            w.writerow([e.row, e.column or "", e.code, e.message])
