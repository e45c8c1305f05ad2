"""Reading patrols: a page of them, one with its track, flagged fixes, coverage and issues.

Who sees a patrol: the staff member who made it, the city admin, and staff whose jurisdiction
covers the patrol's (its section's street; for a river patrol, the scope it was started in).
Anyone else gets 404, as for cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.models import Case
from cityops.errors import NotFound
from cityops.registry.models import Staff
from cityops.scenarios.river.models import (
    Patrol,
    PatrolCoverage,
    PatrolIssue,
    PatrolPoint,
    PatrolStatus,
    River,
    Section,
)
from cityops.scenarios.river.patrol_schemas import (
    IssueRead,
    PatrolDetail,
    PatrolPage,
    PatrolRead,
    SectionCoverage,
)


def visible(user: Principal) -> ColumnElement[bool]:
    """Patrols the user may read."""
    if user.is_city_wide:
        return true()
    own = Patrol.staff_id == user.staff_id if user.staff_id is not None else false()
    if not user.scope_code or user.role == Role.resident:
        return own
    return own | Patrol.jurisdiction_code.startswith(user.scope_code, autoescape=True)


def reads(session: Session, patrols: Sequence[Patrol]) -> list[PatrolRead]:
    """The patrols with their staff, river and section names and issue counts."""
    if not patrols:
        return []
    ids = [p.id for p in patrols]
    staff = dict(
        session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_({p.staff_id for p in patrols}))
        ).all()
    )
    rivers = {
        r.id: r
        for r in session.execute(
            select(River).where(River.id.in_({p.river_id for p in patrols}))
        ).scalars()
    }
    section_ids = {p.section_id for p in patrols if p.section_id is not None}
    sections = {
        s.id: s
        for s in session.execute(select(Section).where(Section.id.in_(section_ids))).scalars()
    }
    issues = dict(
        session.execute(
            select(PatrolIssue.patrol_id, func.count())
            .where(PatrolIssue.patrol_id.in_(ids))
            .group_by(PatrolIssue.patrol_id)
        ).all()
    )
    out = []
    for p in patrols:
        sec = sections.get(p.section_id) if p.section_id is not None else None
        river = rivers[p.river_id]
        out.append(
            PatrolRead(
                id=p.id, staff_id=p.staff_id, staff_name=staff.get(p.staff_id, ""),
                river_code=river.code, river_name=river.name,
                section_code=sec.code if sec else None, section_name=sec.name if sec else None,
                client_id=p.client_id, status=p.status.value, started_at=p.started_at,
                ended_at=p.ended_at, mileage_m=p.mileage_m, duration_s=p.duration_s,
                coverage=p.coverage, point_count=p.point_count, flagged_count=p.flagged_count,
                issue_count=int(issues.get(p.id, 0)),
            )
        )  # fmt: skip
    return out


def get_visible(session: Session, user: Principal, patrol_id: int) -> Patrol:
    patrol = session.execute(
        select(Patrol).where(Patrol.id == patrol_id, visible(user))
    ).scalar_one_or_none()
    if patrol is None:
        raise NotFound(f"no patrol {patrol_id}", code="patrol_not_found")
    return patrol


def issue_reads(session: Session, patrol_ids: Sequence[int]) -> list[IssueRead]:
    rows = session.execute(
        select(PatrolIssue, Case, Section.code)
        .join(Case, PatrolIssue.case_id == Case.id)
        .outerjoin(Section, PatrolIssue.section_id == Section.id)
        .where(PatrolIssue.patrol_id.in_(patrol_ids))
        .order_by(PatrolIssue.id)
    ).all()
    return [
        IssueRead(
            id=link.id, patrol_id=link.patrol_id, case_id=case.id, case_no=case.case_no,
            category_code=case.category_code, title=case.title, status=case.status.value,
            reported_at=case.reported_at, handled_at=case.handled_at, closed_at=case.closed_at,
            lat=case.lat, lng=case.lng, section_code=code,
        )
        for link, case, code in rows
    ]  # fmt: skip


def _track(session: Session, patrol: Patrol) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = session.execute(
        select(PatrolPoint)
        .where(PatrolPoint.patrol_id == patrol.id)
        .order_by(PatrolPoint.t, PatrolPoint.seq)
    ).scalars()
    lines: dict[int, list[list[float]]] = {}
    flagged: list[dict[str, Any]] = []
    for p in rows:
        if p.stretch is not None:
            lines.setdefault(p.stretch, []).append([p.lng, p.lat])
        if p.flag is not None:
            flagged.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [p.lng, p.lat]},
                    "properties": {
                        "seq": p.seq, "t": p.t.isoformat(), "flag": p.flag.value,
                        "accuracy_m": p.accuracy_m, "in_track": p.stretch is not None,
                    },
                }
            )  # fmt: skip
    stretches = [lines[k] for k in sorted(lines)]
    track = {
        "type": "Feature",
        "geometry": {"type": "MultiLineString", "coordinates": stretches},
        "properties": {"patrol_id": patrol.id, "stretches": len(stretches)},
    }
    return track, {"type": "FeatureCollection", "features": flagged}


def detail(*, session: Session, user: Principal, patrol_id: int) -> PatrolDetail:
    """One patrol with its cleaned track, flagged fixes, sections covered and issues."""
    patrol = get_visible(session, user, patrol_id)
    track, flagged = _track(session, patrol)
    covered = session.execute(
        select(PatrolCoverage, Section)
        .join(Section, PatrolCoverage.section_id == Section.id)
        .where(PatrolCoverage.patrol_id == patrol.id)
        .order_by(Section.code)
    ).all()
    sections = [
        SectionCoverage(
            code=s.code, name=s.name, length_km=s.length_km, share=c.share,
            intervals=[tuple(iv) for iv in json.loads(c.intervals)],
        )
        for c, s in covered
    ]  # fmt: skip
    base = reads(session, [patrol])[0]
    return PatrolDetail(
        **base.model_dump(),
        track=track,
        flagged_points=flagged,
        sections=sections,
        issues=issue_reads(session, [patrol.id]),
    )


def list_patrols(
    *,
    session: Session,
    user: Principal,
    staff_id: int | None,
    river_code: str | None,
    section_code: str | None,
    status: PatrolStatus | None,
    since: datetime | None,
    until: datetime | None,
    page: int,
    page_size: int,
) -> PatrolPage:
    """Visible patrols, newest first, filtered; ``since``/``until`` bound the start time."""
    conds: list[ColumnElement[bool]] = [visible(user)]
    if staff_id is not None:
        conds.append(Patrol.staff_id == staff_id)
    if river_code is not None:
        conds.append(Patrol.river_id.in_(select(River.id).where(River.code == river_code)))
    if section_code is not None:
        conds.append(Patrol.section_id.in_(select(Section.id).where(Section.code == section_code)))
    if status is not None:
        conds.append(Patrol.status == status)
    if since is not None:
        conds.append(Patrol.started_at >= since)
    if until is not None:
        conds.append(Patrol.started_at < until)
    total = session.execute(select(func.count()).select_from(Patrol).where(*conds)).scalar_one()
    patrols = list(
        session.execute(
            select(Patrol)
            .where(*conds)
            .order_by(Patrol.started_at.desc(), Patrol.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).scalars()
    )
    return PatrolPage(
        items=reads(session, patrols), total=int(total), page=page, page_size=page_size
    )
