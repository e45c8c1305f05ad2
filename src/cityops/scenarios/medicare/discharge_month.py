"""DRG grouping of a month of stored discharges: the rows discharged in the month (local time) are
read back as ``DischargeRecord``s, grouped and paid by the same code as ``/drg/batch``
(``service.summarise``), and each row's result is written back. Regrouping overwrites with the
same values (the grouper is deterministic for given tables), so a re-run is harmless and a new
table version simply replaces the old results.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from cityops.errors import ValidationFailed
from cityops.scenarios.medicare import grouper, records, service
from cityops.scenarios.medicare.discharge_models import Discharge
from cityops.scenarios.medicare.drg_schemas import MonthRead
from cityops.scenarios.medicare.supervision_load import Period, period
from cityops.settings import Settings

_WRITE_CHUNK = 1000
_COLS = (Discharge.id, Discharge.mdtrt_id, Discharge.fixmedins_code, Discharge.hosp_lv,
         Discharge.gend, Discharge.age, Discharge.age_days, Discharge.birth_weight_g,
         Discharge.dscg_maindiag_code, Discharge.other_dx, Discharge.procedures,
         Discharge.vent_hours, Discharge.ipt_days, Discharge.medfee_sumamt)  # fmt: skip


def month_period(month: str, tz: ZoneInfo) -> Period:
    """``YYYY-MM`` → its local calendar days; ValidationFailed ``bad_month`` otherwise."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValidationFailed(f"month {month!r} is not YYYY-MM", code="bad_month") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return period(first, date.fromordinal(following.toordinal() - 1), tz)


def as_record(row: Row[*tuple[Any, ...]]) -> records.DischargeRecord:
    """A stored row as the grouper's record (codes were checked on import)."""
    return records.DischargeRecord(
        id=row.mdtrt_id, hospital=row.fixmedins_code, sex=int(row.gend), age=row.age,
        principal_dx=row.dscg_maindiag_code, other_dx=tuple(row.other_dx),
        procedures=tuple(row.procedures), age_days=row.age_days,
        birth_weight_g=row.birth_weight_g, vent_hours=row.vent_hours, los_days=row.ipt_days,
        cost_fen=row.medfee_sumamt,
        hospital_level=records.LEVELS[row.hosp_lv - 1] if row.hosp_lv in (1, 2, 3) else None,
    )  # fmt: skip


def _write(
    session: Session,
    ids: Sequence[int],
    gs: Sequence[grouper.Grouping],
    pays: Sequence[Any],
    at: datetime,
) -> None:
    values = [
        {"id": i, "drg_code": g.drg, "drg_status": str(g.status), "adrg": g.adrg, "mdc": g.mdc,
         "weight_e4": g.weight_e4, "paid_fen": None if p is None else p.paid_fen,
         "grouped_at": at, "trace": [str(s) for s in g.trace]}
        for i, g, p in zip(ids, gs, pays, strict=True)
    ]  # fmt: skip
    for k in range(0, len(values), _WRITE_CHUNK):
        session.execute(update(Discharge), values[k : k + _WRITE_CHUNK])  # by primary key


def group_month(*, session: Session, settings: Settings, month: str, at: datetime) -> MonthRead:
    """Group the month's stored discharges, store each result, answer CMI by hospital."""
    p = month_period(month, settings.tz)
    m = service.medicare(settings)
    rows = session.execute(
        select(*_COLS)
        .where(Discharge.dscg_time >= p.start, Discharge.dscg_time < p.end)
        .order_by(Discharge.id)
    ).all()
    good = [as_record(r) for r in rows]
    gs = grouper.group_many(good, m.loaded.tables)
    pays = service.payments(m, good, gs)
    _write(session, [r.id for r in rows], gs, pays, at)
    summary = service.summarise(m, good, [], gs, pays)
    return MonthRead(**summary.model_dump(), month=month, stored=len(rows))
