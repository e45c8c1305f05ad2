"""The case port over the case engine: sensor cases go in through intake (channel ``sensor``).

智能核查/结案: ``verify`` passes the machine check and closes a case the worker reported handled;
a case not yet handled waits (the engine asks again later). ``recurrence``: a handled case fails
its check and goes back for rework (返工); a closed one cannot be reopened by the lifecycle, so the
problem is filed again as a new case that names the old one, and the ledger links the two.

Scenarios may listen for the cases that plans open (``on_case_opened``, keyed by a plan id
prefix): the river records a pollution event and sends the case to the section's department and
chief. A listener runs in the same transaction; if it refuses, the case is not opened either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.auth.scope import machine
from cityops.cases import intake
from cityops.cases import service as cases
from cityops.cases.lifecycle import Action
from cityops.cases.models import CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point, TransitionCreate
from cityops.errors import ValidationFailed
from cityops.ledger import service as ledger
from cityops.rules.ports import CaseRef, SourceInfo

DONE = frozenset({CaseStatus.closed, CaseStatus.evaluated, CaseStatus.void})


@dataclass(frozen=True, slots=True)
class CaseOpened:
    """A case a plan opened (or, ``duplicate``, the open case the report joined)."""

    session: Session
    rules: CaseRules
    at: datetime
    plan: str
    source: SourceInfo
    case_id: int
    duplicate: bool
    evidence: list[dict[str, Any]]


CaseListener = Callable[[CaseOpened], None]
_LISTENERS: list[tuple[str, CaseListener]] = []


def on_case_opened(prefix: str, listener: CaseListener) -> None:
    """Call ``listener`` for every case opened by a plan whose id starts with ``prefix``."""
    if (prefix, listener) not in _LISTENERS:
        _LISTENERS.append((prefix, listener))


def summary(evidence: list[Any], limit: int = 1500) -> str:
    """Readings as a short line of text for a case description or a verification comment."""
    parts = [f"{e['time'][:19]} {e['input']}={e['value']:g}" for e in evidence]
    return ("; ".join(parts))[:limit]


class IntakeCasePort:
    """Opens, verifies and reopens cases through ``cases.intake`` and ``cases.service``."""

    def __init__(self, rules: CaseRules) -> None:
        self.rules = rules

    def open_case(
        self,
        *,
        session: Session,
        at: datetime,
        plan: str,
        source: SourceInfo,
        category: str,
        title: str | None,
        description: str,
        evidence: list[dict[str, Any]],
        previous: int | None = None,
    ) -> CaseRef:
        if source.lat is None or source.lng is None:
            raise ValidationFailed(
                f"datastream {source.datastream_id} has no location; cannot file a case",
                code="source_unlocated",
            )
        text = description or f"{source.name} 传感器告警"
        if previous is not None:
            text = f"复发(原案件 {previous}): {text}"
        data = CaseCreate(
            category=category,
            channel=Channel.sensor,
            location=Point(lat=source.lat, lng=source.lng),
            title=title,
            description=f"{text}\n读数: {summary(evidence)}"[:4000],
            component_ident=source.component_ident,
            external_ref=f"rule:{plan}:{source.datastream_id}"[:64],
        )
        result = intake.report(
            session=session, rules=self.rules, data=data, actor=machine(f"rule:{plan}"), at=at
        )
        cid = result.case.id
        ledger.append(
            session=session,
            at=at,
            actor=f"rule:{plan}",
            action="rules.case_evidence",
            subject=f"case:{cid}",
            payload={"plan": plan, "readings": evidence, "previous_case": previous},
        )
        opened = CaseOpened(session, self.rules, at, plan, source, cid, result.duplicate, evidence)
        for prefix, listener in _LISTENERS:
            if plan.startswith(prefix):
                listener(opened)
        return CaseRef(cid, result.case.status in DONE)

    def add_evidence(
        self, *, session: Session, at: datetime, plan: str, case_id: int, evidence: list[Any]
    ) -> CaseRef:
        case = cases.get_case(session=session, case_id=case_id)
        ledger.append(
            session=session,
            at=at,
            actor=f"rule:{plan}",
            action="rules.case_evidence",
            subject=f"case:{case_id}",
            payload={"plan": plan, "readings": evidence},
        )
        return CaseRef(case_id, case.status in DONE)

    def verify(
        self, *, session: Session, at: datetime, plan: str, case_id: int, evidence: list[Any]
    ) -> CaseRef:
        case = cases.get_case(session=session, case_id=case_id)
        if case.status in DONE:
            return CaseRef(case_id, True)
        if case.status is not CaseStatus.handled:
            return CaseRef(case_id, False)  # 待处置反馈: ask again later
        text = f"读数恢复正常: {summary(evidence, 450)}"
        cases.verify_by_machine(
            session=session,
            rules=self.rules,
            case_id=case_id,
            passed=True,
            evidence=text,
            rule=plan,
            at=at,
        )
        cases.transition(
            session=session,
            rules=self.rules,
            case_id=case_id,
            command=TransitionCreate(action=Action.close, comment="智能结案"),
            actor=machine(f"rule:{plan}"),
            at=at,
        )
        return CaseRef(case_id, True)

    def recurrence(
        self,
        *,
        session: Session,
        at: datetime,
        plan: str,
        case_id: int,
        source: SourceInfo,
        evidence: list[Any],
    ) -> CaseRef:
        case = cases.get_case(session=session, case_id=case_id)
        if case.status is CaseStatus.handled:
            cases.verify_by_machine(
                session=session,
                rules=self.rules,
                case_id=case_id,
                passed=False,
                evidence=f"读数再次超限: {summary(evidence, 450)}",
                rule=plan,
                at=at,
            )
            return CaseRef(case_id, False)
        if case.status not in DONE:
            return self.add_evidence(
                session=session, at=at, plan=plan, case_id=case_id, evidence=evidence
            )
        new = self.open_case(
            session=session,
            at=at,
            plan=plan,
            source=source,
            category=case.category_code,
            title=case.title,
            description=case.description.split("\n读数:")[0],
            evidence=evidence,
            previous=case_id,
        )
        ledger.append(
            session=session,
            at=at,
            actor=f"rule:{plan}",
            action="rules.case_reopened",
            subject=f"case:{case_id}",
            payload={"plan": plan, "reopened_as": new.case_id},
        )
        return new
