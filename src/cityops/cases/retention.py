"""Personal data retention (个人信息保存期限): erase reporters' data once a case has long ended.

A case closed (结案; an evaluated case counts from its close) or voided (作废; from its last
change) more than ``CITYOPS_PERSONAL_DATA_RETENTION_DAYS`` ago loses
the reporter's name, phone and ID number (on the case and on each of its reports: NULL), and its
description, report texts and evaluation comment keep their words with phone numbers, ID numbers,
e-mail addresses and the reporter's names masked (``cases.masking``). The case keeps everything
the KPIs and the public record need: category, place, times, outcome.

Each case erased is one change with its own ledger entry (``erase_personal_data``, payload: how
many reports were cleaned; never the data), in transactions of ``batch`` cases. The job runs as a
background pass (``PersonalDataPurge``, started with the other jobs) and as
``cityops privacy purge [--dry-run]``. Several processes may run it on PostgreSQL (SKIP LOCKED).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from cityops.api.context import AppContext, unit_of_work
from cityops.cases import masking
from cityops.cases.models import Case, CaseReport, CaseStatus
from cityops.cases.service import case_fact
from cityops.ledger import service as ledger
from cityops.periodic import Periodic

log = logging.getLogger(__name__)

ACTOR = "system:retention"
ACTION = "erase_personal_data"
CLOSED = (CaseStatus.closed, CaseStatus.evaluated)
BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cases: int  # cases whose personal data was erased (one ledger entry each)
    reports: int  # their reports cleaned
    checked: int  # due cases looked at (those with nothing to erase are only stamped)
    cutoff: datetime
    more: bool  # a full batch: there may be more to erase


def _due_filter(cutoff: datetime) -> list[ColumnElement[bool]]:
    """Ended before the cutoff: closed (an evaluated case counts from its close) or voided
    (its last change), and not erased yet. ``ix_case_retention`` serves it."""
    return [
        Case.personal_data_erased_at.is_(None),
        or_(
            and_(Case.status.in_(CLOSED), Case.closed_at < cutoff),
            and_(Case.status == CaseStatus.void, Case.updated_at < cutoff),
        ),
    ]


def _has_reporter_data(model: type[Case] | type[CaseReport]) -> ColumnElement[bool]:
    return or_(
        model.reporter_name.is_not(None),
        model.reporter_phone.is_not(None),
        model.reporter_id_number.is_not(None),
    )


def count_due(*, session: Session, cutoff: datetime) -> PurgeReport:
    """What a purge would look at now, and how many cases and reports carry reporter data
    (free text with a phone number in it is found only when a purge reads it)."""
    due_cases = select(Case.id).where(*_due_filter(cutoff))
    checked = session.execute(select(func.count()).select_from(due_cases.subquery())).scalar_one()
    cases = session.execute(
        select(func.count()).select_from(due_cases.where(_has_reporter_data(Case)).subquery())
    ).scalar_one()
    reports = session.execute(
        select(func.count(CaseReport.id)).where(
            CaseReport.case_id.in_(due_cases), _has_reporter_data(CaseReport)
        )
    ).scalar_one()
    return PurgeReport(int(cases), int(reports), int(checked), cutoff, more=False)


def due(*, session: Session, cutoff: datetime, limit: int) -> list[Case]:
    """Up to ``limit`` ended cases past the cutoff not yet erased (no order: any will do)."""
    stmt = select(Case).where(*_due_filter(cutoff)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def _clean(text: str | None, names: list[str | None]) -> str | None:
    return masking.mask_text(text, names=names) if text else text


def _erase(case: Case, reports: list[CaseReport], now: datetime) -> bool:
    """Erase in place; False (nothing touched) if there was nothing personal to erase."""
    names = [case.reporter_name] + [r.reporter_name for r in reports]
    description = _clean(case.description, names) or ""
    comment = _clean(case.evaluation_comment, names)
    texts = [_clean(r.text, names) or "" for r in reports]
    personal = [case.reporter_name, case.reporter_phone, case.reporter_id_number]
    for r in reports:
        personal += [r.reporter_name, r.reporter_phone, r.reporter_id_number]
    if (
        all(v is None for v in personal)
        and description == case.description
        and comment == case.evaluation_comment
        and texts == [r.text for r in reports]
    ):
        return False
    case.description, case.evaluation_comment = description, comment
    case.reporter_name = case.reporter_phone = case.reporter_id_number = None
    case.personal_data_erased_at = case.updated_at = now
    for r, t in zip(reports, texts, strict=True):
        r.text = t
        r.reporter_name = r.reporter_phone = r.reporter_id_number = None
    return True


def purge(
    *,
    session: Session,
    now: datetime,
    retention_days: int,
    batch: int = BATCH,
    dry_run: bool = False,
) -> PurgeReport:
    """Erase one batch in the caller's transaction (``dry_run``: count all that is due).

    A due case with nothing personal in it (a sensor's, an inspector's) is only stamped
    ``personal_data_erased_at`` so it is not read again: no change to the case, no ledger entry.
    """
    cutoff = now - timedelta(days=retention_days)
    if dry_run:
        return count_due(session=session, cutoff=cutoff)
    cases = due(session=session, cutoff=cutoff, limit=batch)
    if not cases:
        return PurgeReport(0, 0, 0, cutoff, more=False)
    per_case: dict[int, list[CaseReport]] = {c.id: [] for c in cases}
    stmt = select(CaseReport).where(CaseReport.case_id.in_(list(per_case)))
    for r in session.execute(stmt).scalars():
        per_case[r.case_id].append(r)
    erased = [c for c in cases if _erase(c, per_case[c.id], now)]
    quiet = [c.id for c in cases if c.personal_data_erased_at is None]
    session.flush()  # the new versions go into the ledger entries
    if quiet:
        session.execute(
            update(Case).where(Case.id.in_(quiet)).values(personal_data_erased_at=now),
            execution_options={"synchronize_session": False},
        )
    facts = [
        case_fact(
            case,
            actor=ACTOR,
            action=ACTION,
            at=now,
            payload={"reports": len(per_case[case.id]), "retention_days": retention_days},
        )[0]
        for case in erased
    ]
    ledger.append_many(session=session, at=now, facts=facts)
    n_reports = sum(len(per_case[c.id]) for c in erased)
    return PurgeReport(len(erased), n_reports, len(cases), cutoff, more=len(cases) == batch)


def run_once(ctx: AppContext, *, dry_run: bool = False, max_batches: int = 1000) -> PurgeReport:
    """Batches until nothing is due (each its own transaction); the totals."""
    days = ctx.settings.personal_data_retention_days
    total_cases = total_reports = total_checked = 0
    report: PurgeReport | None = None
    for _ in range(max_batches):
        with unit_of_work(ctx) as session:
            report = purge(
                session=session, now=ctx.clock.now(), retention_days=days, dry_run=dry_run
            )
        total_cases += report.cases
        total_reports += report.reports
        total_checked += report.checked
        if dry_run or not report.more:
            break
    assert report is not None
    return PurgeReport(total_cases, total_reports, total_checked, report.cutoff, more=report.more)


class PersonalDataPurge(Periodic):
    """``run_once`` every ``CITYOPS_PERSONAL_DATA_PURGE_MINUTES``."""

    def __init__(self, ctx: AppContext, *, interval: float | None = None) -> None:
        minutes = ctx.settings.personal_data_purge_minutes
        super().__init__("personal-data-purge", interval or minutes * 60)
        self.ctx = ctx

    def step(self) -> PurgeReport:
        done = run_once(self.ctx)
        if done.cases:
            log.info("personal data erased from %d cases (%d reports)", done.cases, done.reports)
        return done
