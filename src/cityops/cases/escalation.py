"""The escalation run: warn near-overdue cases (临期预警) and escalate overdue ones (超期督办)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cityops.cases.rules import CaseRules
from cityops.cases.schedule import due_cases, schedule_next_check
from cityops.cases.service import record

ACTOR = "system:scheduler"


def run_escalations(
    *, session: Session, rules: CaseRules, now: datetime, limit: int = 500
) -> list[int]:
    """One pass: act on every due case, each with its ledger entry; returns the case ids."""
    acted: list[int] = []
    for due in due_cases(session=session, rules=rules, now=now, limit=limit):
        case, step = due.case, due.step
        if step.at < 1.0:
            case.near_overdue_warned = True
            action = "warn_near_overdue"
        else:
            case.escalation_level = step.level
            action = "escalate"
        schedule_next_check(rules=rules, case=case)
        case.updated_at = now
        session.flush()
        record(
            session=session,
            case=case,
            actor=ACTOR,
            action=action,
            at=now,
            payload={
                "level": case.escalation_level,
                "to": step.to,
                "notify": list(step.notify),
                "deadline_at": case.deadline_at.isoformat() if case.deadline_at else None,
                "at_fraction": step.at,
            },
        )
        acted.append(case.id)
    return acted
