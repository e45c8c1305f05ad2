"""Intake (上报 → 受理 → 立案 → 派遣): a report becomes a case, or joins the open case it repeats.

智能立案: a report whose category allows auto-filing, that falls in a unit grid and carries
evidence (a photo, or a description for trusted channels) is accepted, filed and dispatched in
the same transaction, each step with its own ledger entry.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.categories import Category
from cityops.cases.dispatch import haversine_m
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import PUBLIC_CHANNELS, Case, CaseKind, CaseReport, CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate
from cityops.cases.service import dispatch, record
from cityops.errors import Forbidden, NotFound, ValidationFailed
from cityops.geo.coords import gcj02_to_wgs84

AUTO_ACTOR = "system:auto-filing"
# Channels whose reports are trusted without a photo (staff, machines, leaders).
TRUSTED = frozenset(
    {Channel.inspector, Channel.video, Channel.sensor, Channel.patrol, Channel.leader}
)
STAFF_CHANNELS = frozenset(
    {
        Channel.inspector,
        Channel.patrol,
        Channel.leader,
        Channel.hotline,
        Channel.video,
        Channel.sensor,
    }
)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case: Case
    duplicate: bool
    auto_filed: bool
    dispatched: bool


def _checked_channel(actor: Principal, channel: Channel) -> None:
    if actor.role == Role.resident and channel is not Channel.resident:
        raise Forbidden("residents report through the resident channel", code="channel_forbidden")
    if actor.role != Role.resident and channel is Channel.resident and not actor.is_city_wide:
        raise Forbidden("staff report through a staff channel", code="channel_forbidden")


def find_duplicate(
    *, session: Session, rules: CaseRules, category: str, lat: float, lng: float, at: datetime
) -> Case | None:
    """An open case of the same category within the radius and time window (重复案件)."""
    radius = rules.settings.duplicate_radius_m
    dlat = radius / 111_320.0
    dlng = radius / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    since = at - timedelta(hours=rules.settings.duplicate_window_hours)
    rows = session.execute(
        select(Case)
        .where(
            Case.category_code == category,
            Case.status.in_(OPEN_STATES),
            Case.reported_at >= since,
            Case.lat.between(lat - dlat, lat + dlat),
            Case.lng.between(lng - dlng, lng + dlng),
        )
        .order_by(Case.reported_at)
    ).scalars()
    for case in rows:
        if haversine_m(lat, lng, case.lat, case.lng) <= radius:
            return case
    return None


def _meets_filing_criteria(category: Category, report: CaseCreate, grid: str | None) -> bool:
    if not category.auto_file or grid is None:
        return False
    if report.channel in TRUSTED:
        return bool(report.photos or report.description.strip())
    return bool(report.photos) and len(report.description.strip()) >= 4


def report(
    *, session: Session, rules: CaseRules, data: CaseCreate, actor: Principal, at: datetime
) -> IntakeResult:
    """Take one report in the caller's transaction."""
    _checked_channel(actor, data.channel)
    try:
        category = rules.catalogue.get(data.category)
    except NotFound as exc:
        raise ValidationFailed(exc.message, code="unknown_category") from exc
    if len(data.description) > rules.settings.max_text_length:
        raise ValidationFailed(
            f"description is longer than {rules.settings.max_text_length} characters",
            code="text_too_long",
        )
    lat, lng = data.location.lat, data.location.lng
    if data.location.crs == "GCJ-02":
        lng, lat = gcj02_to_wgs84(lng, lat)
    place = rules.index.locate(lng, lat)
    if place is None or place.district_code is None or place.street_code is None:
        raise ValidationFailed(f"({lat:.6f}, {lng:.6f}) is outside the city", code="outside_city")
    if (
        category.kind is CaseKind.component
        and data.component_ident is None
        and data.channel is Channel.sensor
    ):
        raise ValidationFailed(
            "a sensor report on a component needs component_ident", code="missing_field"
        )

    existing = find_duplicate(
        session=session, rules=rules, category=category.code, lat=lat, lng=lng, at=at
    )
    reporter_user = actor.user_id or None
    if existing is not None:
        _insert_report(session, existing.id, data, lat, lng, at, reporter_user, duplicate=True)
        existing.report_count += 1
        existing.updated_at = at
        session.flush()
        record(
            session=session,
            case=existing,
            actor=actor.actor,
            action="link_duplicate",
            at=at,
            payload={"channel": data.channel.value, "count": existing.report_count},
        )
        return IntakeResult(existing, duplicate=True, auto_filed=False, dispatched=False)

    case = Case(
        kind=category.kind,
        category_code=category.code,
        major_code=category.code[:2],
        catalogue_version=rules.catalogue.version,
        title=(data.title or category.name)[:120],
        description=data.description,
        channel=data.channel,
        status=CaseStatus.reported,
        lat=lat,
        lng=lng,
        address=data.address,
        district_code=place.district_code,
        street_code=place.street_code,
        community_code=place.community_code,
        grid_code=place.grid_code,
        component_ident=data.component_ident,
        reporter_user_id=reporter_user,
        reporter_staff_id=actor.staff_id if data.channel in STAFF_CHANNELS else None,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        reported_at=at,
        updated_at=at,
        photos=json.dumps(data.photos) if data.photos else None,
    )
    session.add(case)
    session.flush()
    _insert_report(session, case.id, data, lat, lng, at, reporter_user, duplicate=False)
    record(
        session=session,
        case=case,
        actor=actor.actor,
        action="report",
        at=at,
        payload={
            "channel": data.channel.value,
            "category": category.code,
            "grid": place.grid_code,
            "public": data.channel in PUBLIC_CHANNELS,
        },
    )
    if not _meets_filing_criteria(category, data, place.grid_code):
        return IntakeResult(case, duplicate=False, auto_filed=False, dispatched=False)
    return _auto_file(session=session, rules=rules, case=case, at=at)


def _auto_file(*, session: Session, rules: CaseRules, case: Case, at: datetime) -> IntakeResult:
    case.status, case.accepted_at, case.auto_filed = CaseStatus.accepted, at, True
    session.flush()
    record(
        session=session,
        case=case,
        actor=AUTO_ACTOR,
        action="accept",
        at=at,
        payload={"from": "reported", "to": "accepted"},
    )
    case.status, case.filed_at = CaseStatus.filed, at
    session.flush()
    record(
        session=session,
        case=case,
        actor=AUTO_ACTOR,
        action="file",
        at=at,
        payload={"from": "accepted", "to": "filed", "criteria": "auto"},
    )
    case.status = CaseStatus.dispatched  # before dispatch(): the handling clock runs from here
    facts = dispatch(session=session, rules=rules, case=case, at=at)
    case.updated_at = at
    session.flush()
    record(
        session=session,
        case=case,
        actor="system:auto-dispatch",
        action="dispatch",
        at=at,
        payload={"from": "filed", "to": "dispatched", **facts},
    )
    return IntakeResult(case, duplicate=False, auto_filed=True, dispatched=True)


def _insert_report(
    session: Session,
    case_id: int,
    data: CaseCreate,
    lat: float,
    lng: float,
    at: datetime,
    reporter_user: int | None,
    *,
    duplicate: bool,
) -> None:
    session.execute(
        insert(CaseReport).values(
            case_id=case_id,
            channel=data.channel,
            reported_at=at,
            text=data.description,
            lat=lat,
            lng=lng,
            reporter_user_id=reporter_user,
            external_ref=data.external_ref,
            duplicate=duplicate,
        )
    )
