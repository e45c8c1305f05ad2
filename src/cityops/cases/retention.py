"""Personal data retention (个人信息保存期限): erase reporters' data once a case has long ended.

A case ended (结案, 已评价, 作废) more than ``CITYOPS_PERSONAL_DATA_RETENTION_DAYS`` ago loses
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

from sqlalchemy import ColumnElement, func, select
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
ENDED = (CaseStatus.closed, CaseStatus.evaluated, CaseStatus.void)
BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cases: int
    reports: int
    cutoff: datetime
    more: bool  # a full batch: there may be more to erase


def _ended_at() -> ColumnElement[datetime]:
    """When the case ended: evaluated, else closed, else its last change (作废 has no own time)."""
    return func.coalesce(Case.evaluated_at, Case.closed_at, Case.updated_at)


def _due_filter(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [
        Case.status.in_(ENDED),
        Case.personal_data_erased_at.is_(None),
        _ended_at() < cutoff,
    ]


def count_due(*, session: Session, cutoff: datetime) -> tuple[int, int]:
    """How many cases, and reports of them, the purge would erase now."""
    cases = session.execute(select(func.count(Case.id)).where(*_due_filter(cutoff))).scalar_one()
    reports = session.execute(
        select(func.count(CaseReport.id))
        .join(Case, Case.id == CaseReport.case_id)
        .where(*_due_filter(cutoff))
    ).scalar_one()
    return int(cases), int(reports)


def due(*, session: Session, cutoff: datetime, limit: int) -> list[Case]:
    """Ended cases past the cutoff whose personal data is still there, oldest id first."""
    stmt = select(Case).where(*_due_filter(cutoff)).order_by(Case.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def _clean(text: str | None, names: list[str | None]) -> str | None:
    return masking.mask_text(text, names=names) if text else text


def purge(
    *,
    session: Session,
    now: datetime,
    retention_days: int,
    batch: int = BATCH,
    dry_run: bool = False,
) -> PurgeReport:
    """Erase one batch in the caller's transaction (``dry_run``: count all that is due)."""
    cutoff = now - timedelta(days=retention_days)
    if dry_run:
        n_cases, n_reports = count_due(session=session, cutoff=cutoff)
        return PurgeReport(n_cases, n_reports, cutoff, more=False)
    cases = due(session=session, cutoff=cutoff, limit=batch)
    ids = [c.id for c in cases]
    reports = (
        list(session.execute(select(CaseReport).where(CaseReport.case_id.in_(ids))).scalars())
        if ids
        else []
    )
    if not cases:
        return PurgeReport(len(cases), len(reports), cutoff, more=len(cases) == batch)
    per_case: dict[int, list[CaseReport]] = {}
    for r in reports:
        per_case.setdefault(r.case_id, []).append(r)
    for case in cases:
        names = [case.reporter_name] + [r.reporter_name for r in per_case.get(case.id, [])]
        case.description = _clean(case.description, names) or ""
        case.evaluation_comment = _clean(case.evaluation_comment, names)
        case.reporter_name = case.reporter_phone = case.reporter_id_number = None
        case.personal_data_erased_at = now
        case.updated_at = now
        for r in per_case.get(case.id, []):
            r.text = _clean(r.text, names) or ""
            r.reporter_name = r.reporter_phone = r.reporter_id_number = None
    session.flush()  # the new versions go into the ledger entries
    facts = [
        case_fact(
            case,
            actor=ACTOR,
            action=ACTION,
            at=now,
            payload={"reports": len(per_case.get(case.id, [])), "retention_days": retention_days},
        )[0]
        for case in cases
    ]
    ledger.append_many(session=session, at=now, facts=facts)
    return PurgeReport(len(cases), len(reports), cutoff, more=len(cases) == batch)


def run_once(ctx: AppContext, *, dry_run: bool = False, max_batches: int = 1000) -> PurgeReport:
    """Batches until nothing is due (each its own transaction); the totals."""
    days = ctx.settings.personal_data_retention_days
    total_cases = total_reports = 0
    report: PurgeReport | None = None
    for _ in range(max_batches):
        with unit_of_work(ctx) as session:
            report = purge(
                session=session, now=ctx.clock.now(), retention_days=days, dry_run=dry_run
            )
        total_cases += report.cases
        total_reports += report.reports
        if dry_run or not report.more:
            break
    assert report is not None
    return PurgeReport(total_cases, total_reports, report.cutoff, more=report.more)


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
