"""Case operations: every change is one transaction with its ledger entry.

Service functions flush, never commit; the caller (an API route, the scheduler, the simulator)
owns the transaction. Bus events are queued in ``session.info`` and published after commit.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import policy
from cityops.auth.scope import Principal, machine
from cityops.bus.memory import queue_event
from cityops.cases import assign as dispatching
from cityops.cases import notify, understand, verification
from cityops.cases.categories import TimeLimit
from cityops.cases.lifecycle import ACTION_NAMES_ZH, Action, allowed_actions, next_status
from cityops.cases.masking import mask_text
from cityops.cases.models import Case, CaseStatus, ClosingType
from cityops.cases.rules import CaseRules
from cityops.cases.schedule import schedule_next_check
from cityops.cases.schemas import TransitionCreate
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.ledger import service as ledger
from cityops.photos import service as photos


def get_case(*, session: Session, case_id: int, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.execute(stmt).scalar_one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    return case


def case_fact(
    case: Case,
    *,
    actor: str,
    action: str,
    at: datetime,
    payload: dict[str, Any],
    status: CaseStatus | None = None,
) -> tuple[ledger.Fact, dict[str, Any]]:
    """The ledger fact and the bus event body for one change of ``case``."""
    body = {
        "case_id": case.id,
        "status": (status or case.status).value,
        "version": case.version,
        **payload,
    }
    event = {
        **body,
        "case_no": case.case_no,
        "district_code": case.district_code,
        "street_code": case.street_code,
        "community_code": case.community_code,
        "category_code": case.category_code,
        "title": case.title,
        "worker_id": case.worker_id,
        "lat": case.lat,
        "lng": case.lng,
        "at": at.isoformat(),
    }
    return ledger.Fact(actor, action, f"case:{case.id}", body), event


def case_steps(
    case: Case, *, at: datetime, steps: list[tuple[str, str, CaseStatus, dict[str, Any]]]
) -> list[tuple[ledger.Fact, dict[str, Any]]]:
    """``case_fact`` for several steps of one new case (actor, action, status, payload each):
    the case's own fields are read once, not once a step (intake writes four steps a case)."""
    d = case.__dict__  # a case being inserted: every column is in its dict, no loading
    cid, version, subject = d["id"], d["version"], f"case:{d['id']}"
    shared = {
        "case_no": f"{d['district_code']}-{d['reported_at'].year}-{cid:08d}",
        "district_code": d["district_code"],
        "street_code": d["street_code"],
        "community_code": d["community_code"],
        "category_code": d["category_code"],
        "title": d["title"],
        "worker_id": d["worker_id"],
        "lat": d["lat"],
        "lng": d["lng"],
        "at": at.isoformat(),
    }
    out = []
    for actor, action, status, payload in steps:
        body = {"case_id": cid, "status": status.value, "version": version, **payload}
        out.append((ledger.Fact(actor, action, subject, body), {**body, **shared}))
    return out


def record(
    *,
    session: Session,
    case: Case,
    actor: str,
    action: str,
    at: datetime,
    payload: dict[str, Any],
    actor_user_id: int | None = None,
) -> None:
    """Ledger entry, followers' notifications and bus event for one change of ``case`` (already
    flushed); the notifications are rows of the same transaction, so none is lost."""
    fact, event = case_fact(case, actor=actor, action=action, at=at, payload=payload)
    ledger.append_many(session=session, at=at, facts=[fact])
    notify.step(
        session=session, case=case, action=action, at=at, payload=payload, actor=actor_user_id
    )
    queue_event(session.info, f"cases.{action}", event)


def _require(value: Any, what: str, action: Action) -> Any:
    if value is None or value == "":
        raise ValidationFailed(
            f"{action.value} ({ACTION_NAMES_ZH[action]}) needs {what}", code="missing_field"
        )
    return value


def _add_photos(case: Case, photos: list[str], facts: dict[str, Any]) -> None:
    """Append to the case's photos; the step's ledger facts say which it added, so a timeline
    can show the report's photos apart from the after-photos (处置前/处置后)."""
    if photos:
        case.photos = json.dumps([*(json.loads(case.photos) if case.photos else []), *photos])
        facts["photos"] = list(photos)


def transition(
    *,
    session: Session,
    rules: CaseRules,
    case_id: int,
    command: TransitionCreate,
    actor: Principal,
    at: datetime,
) -> Case:
    """Apply one action to a case, or refuse it with a clear error and change nothing."""
    case = get_case(session=session, case_id=case_id, for_update=True)
    if command.expected_version is not None and command.expected_version != case.version:
        raise Conflict(
            f"case {case_id} is at version {case.version}, "
            f"you saw {command.expected_version}; reload",
            code="stale_update",
        )
    relation = _policy_facts(case, actor)
    policy.require_action(actor, command.action, **relation)
    if command.category is not None and command.action is not Action.accept:
        raise ValidationFailed(
            "a category is corrected on accept (受理) only", code="category_on_accept_only"
        )
    photos.require_known(command.photos, directory=rules.settings.photo_dir)
    before = case.status
    case.status = next_status(before, command.action)
    payload = apply_effects(
        session=session, rules=rules, case=case, command=command, at=at, before=before
    )
    case.closing_evidence = verification.evidence_after(
        command.action,
        current=case.closing_evidence,
        photos=bool(command.photos),
        by_reporter=relation["is_reporter"],
    )
    case.updated_at = at
    if command.reason:  # the ledger is forever: no phone or ID numbers in it (docs/privacy.md)
        payload["reason"] = mask_text(command.reason, names=[case.reporter_name])
    session.flush()
    record(
        session=session,
        case=case,
        actor=actor.actor,
        action=command.action.value,
        at=at,
        payload={"from": before.value, "to": case.status.value, **payload},
        actor_user_id=actor.user_id or None,
    )
    return case


def apply_effects(
    *,
    session: Session,
    rules: CaseRules,
    case: Case,
    command: TransitionCreate,
    at: datetime,
    before: CaseStatus,
) -> dict[str, Any]:
    """What each action does beyond the status; returns the facts for the ledger."""
    a = command.action
    facts: dict[str, Any] = {}
    if a is Action.accept:
        case.accepted_at = at
        if command.category is not None and command.category != case.category_code:
            understand.recategorise(rules, case, command.category, facts)
        case.needs_review = False
    elif a is Action.file:
        case.filed_at = at
    elif a in (Action.void, Action.return_, Action.shelve, Action.close_special, Action.escalate):
        _require(command.reason, "a reason", a)
        if a is Action.return_:
            dispatching.release_worker(session=session, case=case)
            case.worker_id = None
            case.return_count += 1
            schedule_next_check(rules=rules, case=case)
        elif a is Action.shelve:
            dispatching.release_worker(session=session, case=case)
            case.next_check_at = None  # 挂账 stops the clock
        elif a is Action.close_special:
            if before in (CaseStatus.dispatched, CaseStatus.in_progress):
                dispatching.release_worker(session=session, case=case)
            case.closed_at = at
            case.closing_type = ClosingType.special
            case.next_check_at = None
        elif a is Action.escalate:
            case.escalation_level += 1
            facts["level"] = case.escalation_level
    elif a is Action.dispatch:
        facts |= dispatch(
            session=session,
            rules=rules,
            case=case,
            at=at,
            department_id=command.department_id,
            worker_id=command.worker_id,
        )
    elif a is Action.start:
        case.started_at = at
    elif a is Action.feedback:
        case.handled_at = at
        case.handled_on_time = case.deadline_at is None or at <= case.deadline_at
        if case.dispatched_at is not None:
            case.handling_seconds = rules.calendar.working_seconds(case.dispatched_at, at)
        _add_photos(case, command.photos, facts)
        dispatching.release_worker(session=session, case=case)
        case.next_check_at = None
        facts["on_time"] = case.handled_on_time
    elif a is Action.verify_pass:
        case.verified_at = at
        facts["method"] = command.verification_method or "inspector"
        if command.comment:
            facts["evidence"] = mask_text(command.comment, names=[case.reporter_name])
        _add_photos(case, command.photos, facts)
    elif a is Action.verify_fail:
        _require(command.reason, "a reason", a)
        case.rework_count += 1
        case.handled_on_time = None
        facts["method"] = command.verification_method or "inspector"
        _add_photos(case, command.photos, facts)
        dispatching.hold_worker(session=session, case=case)
        schedule_next_check(rules=rules, case=case)
    elif a is Action.close:
        verification.require_closing_evidence(case)
        case.closed_at = at
        late = case.handled_on_time is False or (
            case.deadline_at is not None
            and case.handled_at is not None
            and case.handled_at > case.deadline_at
        )
        case.closing_type = ClosingType.overdue if late else ClosingType.normal
        facts["closing_type"] = case.closing_type.value
    elif a is Action.evaluate:
        case.satisfaction = _require(command.satisfaction, "a satisfaction rating 1–5", a)
        case.evaluation_comment = command.comment
        case.evaluated_at = at
        facts["satisfaction"] = case.satisfaction
    elif a is Action.request_extension:
        if case.pending_extension_hours is not None:
            raise Conflict("an extension request is already pending", code="extension_pending")
        case.pending_extension_hours = _require(command.extension_hours, "extension_hours", a)
        facts["hours"] = case.pending_extension_hours
    elif a in (Action.approve_extension, Action.reject_extension):
        hours = case.pending_extension_hours
        if hours is None:
            raise Conflict("no extension request is pending", code="no_extension_pending")
        case.pending_extension_hours = None
        facts["hours"] = hours
        if a is Action.approve_extension:
            base = case.deadline_at or at
            case.deadline_at = rules.calendar.deadline(base, TimeLimit(hours, "hour"))
            case.extension_count += 1
            case.near_overdue_warned = False
            schedule_next_check(rules=rules, case=case)
            facts["deadline_at"] = case.deadline_at.isoformat()
    elif a is Action.restore:
        limit = (
            TimeLimit.parse(case.time_limit)
            if case.time_limit
            else rules.catalogue.get(case.category_code).time_limit
        )
        case.deadline_at = rules.calendar.deadline(at, limit)
        case.near_overdue_warned = False
        dispatching.hold_worker(session=session, case=case)
        schedule_next_check(rules=rules, case=case)
        facts["deadline_at"] = case.deadline_at.isoformat()
    elif a is Action.confirm:
        if case.closing_evidence == verification.REPORTER:
            raise Conflict("the reporter has confirmed already", code="already_confirmed")
        facts["method"] = "reporter"
        if command.comment:
            facts["evidence"] = command.comment
    elif a is Action.reopen:
        facts |= reopen(session=session, rules=rules, case=case, command=command, at=at)
    elif a is Action.self_handle:
        case.accepted_at = case.filed_at = case.dispatched_at = case.handled_at = at
        case.self_handled = True
        case.handled_on_time = True
        case.worker_id = case.reporter_staff_id
        _add_photos(case, command.photos, facts)
    return facts


def reopen(
    *, session: Session, rules: CaseRules, case: Case, command: TransitionCreate, at: datetime
) -> dict[str, Any]:
    """群众重开: back to the same department and worker with a new deadline; a rework (返工)."""
    _require(command.reason, "a reason", Action.reopen)
    verification.require_reopenable(case, at=at, days=rules.settings.reopen_days)
    facts: dict[str, Any] = {
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "department_id": case.department_id,
    }
    case.closed_at = case.closing_type = None
    case.handled_on_time = None
    case.rework_count += 1
    case.reopen_count += 1
    case.reopened_at = at
    limit = rules.catalogue.get(case.category_code).time_limit
    case.time_limit = str(limit)
    case.deadline_at = rules.calendar.deadline(at, limit)
    case.near_overdue_warned = False
    dispatching.hold_worker(session=session, case=case)
    schedule_next_check(rules=rules, case=case)
    _add_photos(case, command.photos, facts)
    facts |= {"deadline_at": case.deadline_at.isoformat(), "count": case.reopen_count}
    return facts


def dispatch(
    *,
    session: Session,
    rules: CaseRules,
    case: Case,
    at: datetime,
    department_id: int | None = None,
    worker_id: int | None = None,
) -> dict[str, Any]:
    """派遣: department, worker, and the deadline (the handling clock starts now)."""
    chosen = dispatching.assign(
        session=session,
        rules=rules,
        case=case,
        at=at,
        department_id=department_id,
        worker_id=worker_id,
    )
    dispatching.apply_assignment(session=session, case=case, assignment=chosen)
    limit = rules.catalogue.get(case.category_code).time_limit
    case.dispatched_at = at
    case.time_limit = str(limit)
    case.deadline_at = rules.calendar.deadline(at, limit)
    case.near_overdue_warned = False
    schedule_next_check(rules=rules, case=case)
    return {
        "department_id": chosen.department_id,
        "worker_id": chosen.worker_id,
        "handling_level": chosen.handling_level,
        "deadline_at": case.deadline_at.isoformat(),
        "reasons": chosen.reasons,
    }


def verify_by_machine(
    *,
    session: Session,
    rules: CaseRules,
    case_id: int,
    passed: bool,
    evidence: str,
    rule: str,
    at: datetime,
) -> Case:
    """核查 by a machine rule: the hook a sensor plan calls when readings show the fix held.

    A failed check sends the case back for rework (返工) like an inspector's would.
    """
    command = TransitionCreate(
        action=Action.verify_pass if passed else Action.verify_fail,
        verification_method="machine",
        reason=None if passed else evidence,
        comment=evidence[:500],
    )
    return transition(
        session=session,
        rules=rules,
        case_id=case_id,
        command=command,
        actor=machine(f"rule:{rule}"),
        at=at,
    )


def _policy_facts(case: Case, actor: Principal) -> dict[str, Any]:
    """What the action policy needs to know about the case and the actor."""
    return {
        "case_district": case.district_code,
        "case_street": case.street_code,
        "is_reporter": actor.user_id != 0 and case.reporter_user_id == actor.user_id,
        "is_assigned_worker": actor.staff_id is not None and case.worker_id == actor.staff_id,
    }


def case_actions(case: Case, actor: Principal) -> list[str]:
    """The actions this actor may take on the case now: the state machine's and the policy's."""
    mine = set(policy.permitted_actions(actor, **_policy_facts(case, actor)))
    return [a.value for a in allowed_actions(case.status) if a in mine]


__all__ = ["CaseStatus", "dispatch", "get_case", "record", "transition"]
