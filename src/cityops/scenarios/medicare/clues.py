"""基金监管线索 (clues): rule and peer hits stored once per rule + subject + window, listed for the
bureau with filters, dismissed, or turned into a supervision case through the core case engine
(``cases.intake``) in the caller's transaction, with the clue's own ledger entry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.cases import intake
from cityops.cases.models import Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.ledger import service as ledger
from cityops.scenarios.medicare.models import Clue, ClueStatus, Fixmedins
from cityops.scenarios.medicare.peers import peer_outliers
from cityops.scenarios.medicare.supervise import Discharges, Hit, Transactions, evaluate
from cityops.scenarios.medicare.supervision_rules import RuleSet

CASE_CATEGORY = "10902"  # 医保基金违规线索 (local extension in categories.yaml)
OPEN = (ClueStatus.new, ClueStatus.confirmed)


def dedup_key(hit: Hit) -> str:
    return f"{hit.rule_id}|{hit.subject_kind}|{hit.subject}|{hit.window}"


@dataclass(frozen=True)
class RunSummary:
    hits: int
    created: int
    refreshed: int
    rule_errors: tuple[str, ...]
    by_rule: dict[str, int] = field(default_factory=dict)  # hits per rule id


def store_hits(*, session: Session, hits: Sequence[Hit], at: datetime) -> tuple[int, int]:
    """Insert new clues; refresh the evidence of ones still ``new``. Returns (created, refreshed).
    A clue already confirmed, dismissed or made a case keeps what the analyst saw."""
    by_key = {dedup_key(h): h for h in hits}
    known: dict[str, Clue] = {}
    keys = list(by_key)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        known.update(
            (c.dedup_key, c) for c in session.scalars(select(Clue).where(Clue.dedup_key.in_(chunk)))
        )
    created = refreshed = 0
    for key, h in by_key.items():
        clue = known.get(key)
        if clue is None:
            session.add(
                Clue(
                    dedup_key=key, rule_id=h.rule_id, rule_type=h.rule_type, severity=h.severity,
                    subject_kind=h.subject_kind, subject=h.subject, district=h.district,
                    window=h.window, evidence=h.evidence, status=ClueStatus.new, case_id=None,
                    note="", created_at=at, updated_at=at,
                )
            )  # fmt: skip
            created += 1
        elif clue.status == ClueStatus.new and clue.evidence != h.evidence:
            clue.evidence, clue.severity, clue.updated_at = h.evidence, h.severity, at
            refreshed += 1
    session.flush()
    return created, refreshed


def run_supervision(
    *,
    session: Session,
    at: datetime,
    rules: RuleSet,
    transactions: Transactions,
    discharges: Discharges | None = None,
    fence_k: float = 1.5,
    far_k: float = 3.0,
    min_peers: int = 5,
) -> RunSummary:
    """Evaluate the rule base and the peer layer and store the hits as clues (idempotent)."""
    hits = evaluate(rules, transactions, discharges)
    hits += peer_outliers(transactions, k=fence_k, k_far=far_k, min_peers=min_peers)
    created, refreshed = store_hits(session=session, hits=hits, at=at)
    return RunSummary(
        len(hits), created, refreshed, rules.errors, dict(Counter(h.rule_id for h in hits))
    )


def list_clues(
    *,
    session: Session,
    rule: str | None = None,
    severity: str | None = None,
    status: ClueStatus | None = None,
    district: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[int, list[Clue]]:
    """Filtered clues, newest first, and the total matching."""
    q = select(Clue)
    for column, value in ((Clue.rule_id, rule), (Clue.severity, severity),
                          (Clue.status, status), (Clue.district, district)):  # fmt: skip
        if value is not None:
            q = q.where(column == value)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Clue.id.desc()).offset((page - 1) * size).limit(size))
    return total, list(rows)


def _clue(session: Session, clue_id: int) -> Clue:
    clue = session.get(Clue, clue_id, with_for_update=True)
    if clue is None:
        raise NotFound(f"clue {clue_id} not found", code="clue_not_found")
    if clue.status not in OPEN:
        raise Conflict(f"clue {clue_id} is {clue.status}", code="clue_closed", status=clue.status)
    return clue


def dismiss(*, session: Session, clue_id: int, reason: str, actor: Principal, at: datetime) -> Clue:
    """An analyst's 排除: kept with the reason, never offered again for the same window."""
    clue = _clue(session, clue_id)
    clue.status, clue.note, clue.updated_at = ClueStatus.dismissed, reason[:500], at
    ledger.append(session=session, at=at, actor=actor.username, action="clue_dismissed",
                  subject=f"medicare_clue:{clue.id}", payload={"reason": reason[:500]})  # fmt: skip
    return clue


def open_case_from_clue(
    *, session: Session, rules: CaseRules, clue_id: int, actor: Principal, at: datetime
) -> Clue:
    """立案: a supervision case at the institution's location; a clue on an institution that
    already has an open supervision case joins that case (the engine's duplicate link)."""
    clue = _clue(session, clue_id)
    code = clue.evidence.get("institution") or clue.subject
    place = session.scalar(select(Fixmedins).where(Fixmedins.fixmedins_code == code))
    if place is None:
        raise ValidationFailed(f"institution {code} is not registered", code="clue_no_location")
    ev: dict[str, Any] = clue.evidence
    data = CaseCreate(
        category=CASE_CATEGORY,
        channel=Channel.leader,
        location=Point(lat=place.lat, lng=place.lng),
        title=f"基金监管线索 {clue.rule_id}: {place.fixmedins_name}"[:120],
        description=(
            f"{ev.get('rule_name', clue.rule_type)}; 对象 {clue.subject_kind} "
            f"{clue.subject}; 期间 {clue.window}; 依据 {ev.get('legal_basis', '')}; "
            f"线索 #{clue.id}"
        )[:4000],
        external_ref=f"medicare_clue:{clue.id}",
    )
    result = intake.report(session=session, rules=rules, data=data, actor=actor, at=at)
    clue.status, clue.case_id, clue.updated_at = ClueStatus.case_opened, result.case.id, at
    ledger.append(
        session=session, at=at, actor=actor.username, action="clue_case_opened",
        subject=f"medicare_clue:{clue.id}",
        payload={"case_id": result.case.id, "joined_open_case": result.duplicate},
    )  # fmt: skip
    return clue
