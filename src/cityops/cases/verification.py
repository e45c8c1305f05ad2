"""Honest closing (核查结案) for residents' cases, as pure rules over the case row.

A case a resident reported (公众上报: the resident and hotline channels) closes only with
evidence that it was fixed: a photo taken at the verification (核查照片), or the reporter's own
word (群众确认: the reporter's ``confirm``, or the reporter's own ``verify_pass``). The evidence
belongs to one round of handling: a failed check (返工) or a reopening clears it.

特殊结案 (``close_special``) needs no such evidence: it closes what cannot be fixed (not ours to
handle, no longer there), with a reason the reporter is told; such a case cannot be reopened as
"not fixed" either. A case closed as fixed may be reopened by its reporter within
``CITYOPS_REOPEN_DAYS`` (7) of closing; the reopening counts as rework (返工) in the KPIs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cityops.cases.lifecycle import Action
from cityops.cases.models import PUBLIC_CHANNELS, Case, ClosingType
from cityops.errors import Conflict

PHOTO = "photo"
REPORTER = "reporter"
FIXED = frozenset({ClosingType.normal, ClosingType.overdue})


def needs_evidence(case: Case) -> bool:
    """Residents' cases (公众上报) need closing evidence."""
    return case.channel in PUBLIC_CHANNELS


def evidence_after(
    action: Action, *, current: str | None, photos: bool, by_reporter: bool
) -> str | None:
    """The case's closing evidence after ``action``."""
    if action in (Action.verify_fail, Action.reopen):
        return None
    if action is Action.verify_pass:
        if photos:
            return PHOTO
        return REPORTER if by_reporter else current
    if action is Action.confirm:
        return current or REPORTER
    return current


def require_closing_evidence(case: Case) -> None:
    """Refuse ``close`` of a resident's case that has no evidence of the fix."""
    if needs_evidence(case) and not case.closing_evidence:
        raise Conflict(
            f"case {case.id} was reported by a resident: closing needs a verification photo "
            "(verify_pass with photos) or the reporter's confirmation (confirm)",
            code="closing_evidence_required",
        )


def reopen_until(case: Case, *, days: float) -> datetime | None:
    """Until when the reporter may reopen the case; None if it was not closed as fixed."""
    if case.closed_at is None or case.closing_type not in FIXED:
        return None
    return case.closed_at + timedelta(days=days)


def require_reopenable(case: Case, *, at: datetime, days: float) -> None:
    """Refuse a reopening of a case not closed as fixed, or closed too long ago."""
    until = reopen_until(case, days=days)
    if until is None:
        raise Conflict(
            f"case {case.id} was not closed as fixed (结案类型 {case.closing_type}); "
            "report the problem again instead",
            code="not_closed_as_fixed",
        )
    if at > until:
        raise Conflict(
            f"case {case.id} was closed more than {days:g} days ago; report it again instead",
            code="reopen_window_passed",
            until=until.isoformat(),
        )
