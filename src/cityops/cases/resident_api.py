"""Resident routes: nearby open cases before filing, following, my cases with their real steps,
confirming, rating and reopening, and my notifications. Thin over ``resident``, ``follow``,
``duplicates`` and ``notify``; the request's session is the transaction."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import select

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.cases import duplicates, follow, notify, resident
from cityops.cases.lifecycle import STATUS_ZH
from cityops.cases.masking import mask_text
from cityops.cases.models import CaseFollower
from cityops.cases.resident_schemas import (
    ConfirmCreate,
    MyCasePage,
    MyCaseRead,
    NearbyPage,
    NearbyRead,
    NotificationPage,
    NotificationRead,
    RatingCreate,
    ReopenCreate,
)
from cityops.cases.rules import CaseRules
from cityops.cases.runtime import get_rules
from cityops.errors import ValidationFailed
from cityops.geo.coords import gcj02_to_wgs84

router = APIRouter(tags=["residents"])
SUMMARY_CHARS = 120


def _rules(ctx: Ctx, session: SessionDep) -> CaseRules:
    return get_rules(ctx, session)


RulesDep = Annotated[CaseRules, Depends(_rules)]


@router.get("/cases/nearby", response_model=NearbyPage)
def nearby(
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    category: Annotated[str, Query(pattern=r"^\d{5}$")],
    crs: Literal["WGS84", "GCJ-02"] = "WGS84",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> NearbyPage:
    """是同一个问题吗？ Open cases of the category within its duplicate radius and window of the
    point, nearest first; no personal data (descriptions masked, no numbers, no names)."""
    if category not in rules.catalogue:
        raise ValidationFailed(f"category {category} is not known", code="unknown_category")
    if crs == "GCJ-02":
        lng, lat = gcj02_to_wgs84(lng, lat)
    found = duplicates.nearby(
        session=session,
        rules=rules,
        category_code=category,
        lat=lat,
        lng=lng,
        at=rules.clock.now(),
        limit=limit,
    )
    followed = set(
        session.execute(
            select(CaseFollower.case_id).where(
                CaseFollower.user_id == user.user_id,
                CaseFollower.case_id.in_([c.id for c, _ in found]),
            )
        ).scalars()
    )
    radius, hours = duplicates.limits(rules, category)
    name = rules.catalogue.get(category).name
    items = [
        NearbyRead(
            id=c.id,
            category_code=c.category_code,
            category_name=name,
            status=c.status,
            status_zh=STATUS_ZH[c.status],
            distance_m=round(d, 1),
            summary=mask_text(c.description, names=[c.reporter_name])[:SUMMARY_CHARS],
            reported_at=c.reported_at,
            report_count=c.report_count,
            photos=resident.photos_of(c)[:3],
            following=c.id in followed
            or (c.reporter_user_id is not None and c.reporter_user_id == user.user_id),
        )
        for c, d in found
    ]
    return NearbyPage(category=category, radius_m=radius, window_hours=hours, items=items)


class FollowRead(BaseModel):
    case_id: int
    following: bool


@router.post("/cases/{case_id}/follow", response_model=FollowRead)
def follow_case(
    case_id: int, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> FollowRead:
    """关注 a public case: its steps are notified to me like to its reporter."""
    user.require_role(Role.resident)
    follow.follow(session=session, case_id=case_id, user_id=user.user_id, at=rules.clock.now())
    return FollowRead(case_id=case_id, following=True)


@router.delete("/cases/{case_id}/follow", status_code=status.HTTP_204_NO_CONTENT)
def unfollow_case(case_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """取消关注."""
    user.require_role(Role.resident)
    follow.unfollow(session=session, case_id=case_id, user_id=user.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/cases", response_model=MyCasePage)
def my_cases(
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> MyCasePage:
    """我的上报和关注: each with its status in Chinese and every real step with its time."""
    cases, total = resident.my_cases(session=session, user=user, limit=limit, offset=offset)
    items = resident.read(
        session=session, rules=rules, user=user, cases=cases, at=rules.clock.now()
    )
    return MyCasePage(items=items, total=total, limit=limit, offset=offset)


def _one(session: SessionDep, rules: CaseRules, user: CurrentUser, case_id: int) -> MyCaseRead:
    case = resident.my_case(session=session, user=user, case_id=case_id)
    (out,) = resident.read(
        session=session, rules=rules, user=user, cases=[case], at=rules.clock.now()
    )
    return out


@router.get("/me/cases/{case_id}", response_model=MyCaseRead)
def my_case(case_id: int, session: SessionDep, rules: RulesDep, user: CurrentUser) -> MyCaseRead:
    """办理进度 of a case I reported or follow: the steps (受理, 立案, 派遣, 处置, 核查, 结案, …)
    with their actual times; handling photos shown, staff names and internal notes not."""
    return _one(session, rules, user, case_id)


@router.post("/me/cases/{case_id}/confirm", response_model=MyCaseRead)
def confirm(
    case_id: int, body: ConfirmCreate, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> MyCaseRead:
    """群众确认: I, the reporter, say it is fixed (lets a resident's case be closed)."""
    resident.confirm(
        session=session,
        rules=rules,
        user=user,
        case_id=case_id,
        comment=body.comment,
        at=rules.clock.now(),
    )
    return _one(session, rules, user, case_id)


@router.post("/me/cases/{case_id}/rating", response_model=MyCaseRead)
def rate(
    case_id: int, body: RatingCreate, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> MyCaseRead:
    """评价 (1–5, comment) once the case is closed; once per closing."""
    resident.rate(
        session=session,
        rules=rules,
        user=user,
        case_id=case_id,
        satisfaction=body.satisfaction,
        comment=body.comment,
        at=rules.clock.now(),
    )
    return _one(session, rules, user, case_id)


@router.post("/me/cases/{case_id}/reopen", response_model=MyCaseRead)
def reopen(
    case_id: int, body: ReopenCreate, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> MyCaseRead:
    """群众重开: closed as fixed but not fixed, within ``CITYOPS_REOPEN_DAYS`` of closing."""
    resident.reopen(
        session=session,
        rules=rules,
        user=user,
        case_id=case_id,
        reason=body.reason,
        photos=body.photos,
        at=rules.clock.now(),
    )
    return _one(session, rules, user, case_id)


@router.get("/me/notifications", response_model=NotificationPage)
def notifications(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> NotificationPage:
    """消息: the steps of my cases, unread first, then newest first."""
    found = notify.page(session=session, user_id=user.user_id, limit=limit, offset=offset)
    return NotificationPage(
        items=[NotificationRead.model_validate(n) for n in found.items],
        total=found.total,
        unread=found.unread,
        limit=limit,
        offset=offset,
    )


class ReadAllRead(BaseModel):
    marked: int


@router.post("/me/notifications/read-all", response_model=ReadAllRead)
def read_all(session: SessionDep, rules: RulesDep, user: CurrentUser) -> ReadAllRead:
    marked = notify.mark_all_read(session=session, user_id=user.user_id, at=rules.clock.now())
    return ReadAllRead(marked=marked)


@router.post("/me/notifications/{notification_id}/read", status_code=204)
def read_one(
    notification_id: int, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> Response:
    notify.mark_read(
        session=session,
        user_id=user.user_id,
        notification_id=notification_id,
        at=rules.clock.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
