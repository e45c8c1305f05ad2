"""The resident's side of a case (我的上报/我的关注): what they reported or follow, each real step
with its time from the ledger, and what they may do: confirm the fix, rate, reopen.

Steps are read from the ledger, never derived from the case row, so a step shows only if it
happened, with the time it happened. Internal steps (回退, 督办, 延期申请, 预警, rules' notes)
are left out, and so are staff names: who acted is said by role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cityops.auth import service as auth_service
from cityops.auth.scope import Principal
from cityops.cases import service, timeline, verification
from cityops.cases.lifecycle import STATUS_ZH, Action
from cityops.cases.masking import mask_text
from cityops.cases.models import Case, CaseFollower, CaseStatus, Notification
from cityops.cases.resident_schemas import MyCaseRead, StepRead
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import TransitionCreate
from cityops.errors import Conflict, Forbidden, NotFound
from cityops.ledger.models import LedgerEntry

# The steps a resident sees.
STEPS = frozenset(
    {
        "report", "link_duplicate", "accept", "file", "void", "dispatch", "start", "feedback",
        "verify_pass", "verify_fail", "confirm", "close", "close_special", "evaluate", "reopen",
        "shelve", "restore", "approve_extension", "self_handle",
    }
)  # fmt: skip
# Steps whose reason the resident is told (the others' reasons are staff notes).
REASONED = frozenset({"void", "close_special", "verify_fail", "reopen", "shelve"})
_STATUSES = frozenset(s.value for s in CaseStatus)
DETAIL = ("deadline_at", "on_time", "closing_type", "satisfaction", "method", "count")


def _subject(case_id: int) -> str:
    return f"case:{case_id}"


def relation(session: Session, case: Case, user: Principal) -> str | None:
    """How the user is tied to the case: reporter, a follow's ``via``, or None."""
    if case.reporter_user_id is not None and case.reporter_user_id == user.user_id:
        return "reporter"
    via = session.execute(
        select(CaseFollower.via).where(
            CaseFollower.case_id == case.id, CaseFollower.user_id == user.user_id
        )
    ).scalar_one_or_none()
    return via.value if via is not None else None


def _mine(user: Principal) -> ColumnElement[bool]:
    followed = select(CaseFollower.case_id).where(CaseFollower.user_id == user.user_id)
    return or_(Case.reporter_user_id == user.user_id, Case.id.in_(followed))


def my_cases(
    *, session: Session, user: Principal, limit: int, offset: int
) -> tuple[list[Case], int]:
    """Cases I reported or follow, the most recently changed first."""
    where = _mine(user)
    items = session.execute(
        select(Case)
        .where(where)
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    total = session.execute(select(func.count()).select_from(Case).where(where)).scalar_one()
    return list(items), int(total)


def my_case(*, session: Session, user: Principal, case_id: int) -> Case:
    """One of my cases, or 404 (another's case is not mine to see)."""
    case = session.get(Case, case_id)
    if case is None or relation(session, case, user) is None:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    return case


def steps_of(session: Session, case_ids: Sequence[int]) -> dict[int, list[StepRead]]:
    """The resident's steps of each case, oldest first, in one ledger read."""
    if not case_ids:
        return {}
    entries = list(
        session.execute(
            select(LedgerEntry)
            .where(
                LedgerEntry.subject.in_([_subject(c) for c in case_ids]),
                LedgerEntry.action.in_(sorted(STEPS)),
            )
            .order_by(LedgerEntry.seq)
        ).scalars()
    )
    roles = auth_service.roles_of(session=session, usernames=timeline.usernames(entries))
    out: dict[int, list[StepRead]] = {c: [] for c in case_ids}
    for e in entries:
        payload = json.loads(e.payload)
        to = payload.get("to") or payload.get("status")
        out[int(e.subject.split(":", 1)[1])].append(
            StepRead(
                action=e.action,
                name=timeline.STEP_NAMES_ZH.get(e.action, e.action),
                at=e.at,
                by=timeline.role_of(e.actor, roles),
                status=CaseStatus(to) if to in _STATUSES else None,
                reason=payload.get("reason") if e.action in REASONED else None,
                photos=list(payload.get("photos") or []),
                detail={k: payload[k] for k in DETAIL if payload.get(k) is not None},
            )
        )
    return out


def unread_by_case(session: Session, user: Principal, case_ids: Sequence[int]) -> dict[int, int]:
    if not case_ids:
        return {}
    rows = session.execute(
        select(Notification.case_id, func.count())
        .where(
            Notification.user_id == user.user_id,
            Notification.read_at.is_(None),
            Notification.case_id.in_(list(case_ids)),
        )
        .group_by(Notification.case_id)
    ).all()
    return {cid: int(n) for cid, n in rows}


def read(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    cases: Sequence[Case],
    at: datetime,
) -> list[MyCaseRead]:
    """My cases as I may see them."""
    ids = [c.id for c in cases]
    steps, unread = steps_of(session, ids), unread_by_case(session, user, ids)
    vias = dict(
        session.execute(
            select(CaseFollower.case_id, CaseFollower.via).where(
                CaseFollower.user_id == user.user_id, CaseFollower.case_id.in_(ids)
            )
        ).all()
    )
    out = []
    for case in cases:
        mine = case.reporter_user_id is not None and case.reporter_user_id == user.user_id
        via = vias.get(case.id)
        how = "reporter" if mine else (via.value if via is not None else "follow")
        allowed = set(service.case_actions(case, user)) if mine else set()
        until = verification.reopen_until(case, days=rules.settings.reopen_days)
        out.append(
            MyCaseRead(
                id=case.id,
                case_no=case.case_no,
                category_code=case.category_code,
                category_name=_category_name(rules, case.category_code),
                title=mask_text(case.title, names=[case.reporter_name]),
                description=case.description
                if mine
                else mask_text(case.description, names=[case.reporter_name]),
                address=case.address if mine else None,
                status=case.status,
                status_zh=STATUS_ZH[case.status],
                relation=how,
                reported_at=case.reported_at,
                deadline_at=case.deadline_at,
                closed_at=case.closed_at,
                closing_type=case.closing_type,
                report_count=case.report_count,
                satisfaction=case.satisfaction if mine else None,
                rating_comment=case.evaluation_comment if mine else None,
                photos=photos_of(case),
                steps=steps.get(case.id, []),
                can_confirm="confirm" in allowed and case.closing_evidence != verification.REPORTER,
                can_rate="evaluate" in allowed,
                can_reopen="reopen" in allowed and until is not None and at <= until,
                reopen_until=until if mine else None,
                unread=unread.get(case.id, 0),
            )
        )
    return out


def photos_of(case: Case) -> list[str]:
    return list(json.loads(case.photos)) if case.photos else []


def _category_name(rules: CaseRules, code: str) -> str | None:
    try:
        return rules.catalogue.get(code).name
    except NotFound:
        return None


def _as_reporter(session: Session, user: Principal, case_id: int, what: str) -> Case:
    case = my_case(session=session, user=user, case_id=case_id)
    if case.reporter_user_id != user.user_id:
        raise Forbidden(f"only the resident who reported the case may {what}", code="not_reporter")
    return case


def confirm(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    case_id: int,
    comment: str | None,
    at: datetime,
) -> Case:
    """群众确认: the reporter says the problem is fixed (the closing evidence)."""
    case = _as_reporter(session, user, case_id, "confirm it is fixed")
    if case.status not in (CaseStatus.handled, CaseStatus.verified):
        raise Conflict(
            f"case {case_id} is {case.status.value}: there is no fix to confirm yet",
            code="nothing_to_confirm",
        )
    command = TransitionCreate(action=Action.confirm, comment=comment)
    return service.transition(
        session=session, rules=rules, case_id=case_id, command=command, actor=user, at=at
    )


def rate(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    case_id: int,
    satisfaction: int,
    comment: str | None,
    at: datetime,
) -> Case:
    """评价: one rating per closing, by the reporter, after the case is closed."""
    case = _as_reporter(session, user, case_id, "rate it")
    if case.status is CaseStatus.evaluated:
        raise Conflict(f"case {case_id} has been rated already", code="already_rated")
    if case.status is not CaseStatus.closed:
        raise Conflict(
            f"case {case_id} is {case.status.value}: rate it once it is closed", code="not_closed"
        )
    command = TransitionCreate(action=Action.evaluate, satisfaction=satisfaction, comment=comment)
    return service.transition(
        session=session, rules=rules, case_id=case_id, command=command, actor=user, at=at
    )


def reopen(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    case_id: int,
    reason: str,
    photos: list[str],
    at: datetime,
) -> Case:
    """群众重开: the reporter says a case closed as fixed is not fixed (within the window)."""
    case = _as_reporter(session, user, case_id, "reopen it")
    if case.status not in (CaseStatus.closed, CaseStatus.evaluated):
        raise Conflict(
            f"case {case_id} is {case.status.value}: only a closed case can be reopened",
            code="not_closed",
        )
    command = TransitionCreate(action=Action.reopen, reason=reason, photos=photos)
    return service.transition(
        session=session, rules=rules, case_id=case_id, command=command, actor=user, at=at
    )
