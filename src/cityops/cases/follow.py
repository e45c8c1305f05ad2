"""Following a case (关注): a resident who reported the same problem, or who chose to, is told
of every step of the case as its reporter is (``notify``).

A resident follows a case when they say "same problem" before filing (``duplicate_of``), when
their report is linked to an open case at intake, or by pressing 关注 on a public case (one the
board shows: taken up, not voided). The reporter is not a follower: the case names them already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.board import NOT_SHOWN
from cityops.cases.dispatch import haversine_m
from cityops.cases.duplicates import limits
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case, CaseFollower, FollowVia
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate
from cityops.errors import CityOpsError, Conflict, NotFound, ValidationFailed


class Report(Protocol):
    """What linking needs of an intake item (``intake._Item``)."""

    data: CaseCreate
    lat: float
    lng: float
    link_to: int | None

    @property
    def category_code(self) -> str: ...


def add(*, session: Session, follows: Iterable[tuple[int, int, FollowVia]], at: datetime) -> None:
    """(case id, user id, via) rows; one already there, or the case's own reporter, is skipped."""
    wanted = {(cid, uid): via for cid, uid, via in follows}
    if not wanted:
        return
    reporters = dict(
        session.execute(
            select(Case.id, Case.reporter_user_id).where(
                Case.id.in_(sorted({cid for cid, _ in wanted}))
            )
        ).all()
    )
    rows = [
        {"case_id": cid, "user_id": uid, "since": at, "via": via}
        for (cid, uid), via in sorted(wanted.items())
        if reporters.get(cid) != uid
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CaseFollower)
    session.execute(stmt.on_conflict_do_nothing(), rows)


def follow(*, session: Session, case_id: int, user_id: int, at: datetime) -> Case:
    """关注 a public case."""
    case = session.get(Case, case_id)
    if case is None or case.status in NOT_SHOWN:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    if case.reporter_user_id == user_id:
        raise Conflict("you reported this case: you follow it already", code="own_case")
    add(session=session, follows=[(case_id, user_id, FollowVia.follow)], at=at)
    return case


def unfollow(*, session: Session, case_id: int, user_id: int) -> None:
    """取消关注; the reporter cannot stop following their own report."""
    gone = session.execute(
        delete(CaseFollower).where(CaseFollower.case_id == case_id, CaseFollower.user_id == user_id)
    )
    if not getattr(gone, "rowcount", 0):
        raise NotFound(f"you do not follow case {case_id}", code="not_following")


def is_following(*, session: Session, case_id: int, user_id: int) -> bool:
    return (
        session.execute(
            select(CaseFollower.id).where(
                CaseFollower.case_id == case_id, CaseFollower.user_id == user_id
            )
        ).first()
        is not None
    )


def check_chosen(
    *, session: Session, rules: CaseRules, case_id: int, category: str, lat: float, lng: float
) -> None:
    """The case a resident chose as "same problem" (``duplicate_of``) must be one they could
    have been offered: open, of the same category, within the category's radius."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found", code="duplicate_not_found")
    if case.status not in OPEN_STATES:
        raise Conflict(
            f"case {case_id} is {case.status.value}: report the problem as new",
            code="duplicate_not_open",
        )
    if case.category_code != category:
        raise ValidationFailed(
            f"case {case_id} is of category {case.category_code}, not {category}",
            code="duplicate_category_mismatch",
        )
    radius, _ = limits(rules, category)
    distance = haversine_m(lat, lng, case.lat, case.lng)
    if distance > radius:
        raise ValidationFailed(
            f"case {case_id} is {distance:.0f} m away, more than {radius:g} m",
            code="duplicate_too_far",
        )


def link_chosen(
    *, session: Session, rules: CaseRules, items: Sequence[Report | CityOpsError]
) -> None:
    """A report its reporter said repeats an open case (``duplicate_of``) is linked to that case;
    a choice that does not hold becomes the report's error (in ``items``' place)."""
    for i, it in enumerate(items):
        if isinstance(it, CityOpsError) or it.data.duplicate_of is None:
            continue
        try:
            check_chosen(
                session=session,
                rules=rules,
                case_id=it.data.duplicate_of,
                category=it.category_code,
                lat=it.lat,
                lng=it.lng,
            )
        except CityOpsError as exc:
            items[i] = exc  # type: ignore[index]
            continue
        it.link_to = it.data.duplicate_of


def of_linked(items: Sequence[Report], actor: Principal) -> list[tuple[int, int, FollowVia]]:
    """A resident whose report joined an open case follows that case."""
    if actor.role != Role.resident or not actor.user_id:
        return []
    return [
        (
            it.link_to,
            actor.user_id,
            FollowVia.duplicate if it.data.duplicate_of else FollowVia.auto_duplicate,
        )
        for it in items
        if it.link_to is not None
    ]
