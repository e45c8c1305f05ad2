"""Patrols (巡河): start, upload fixes, report issues as cases, finish.

Only the staff member who started a patrol writes to it; the caller's account must be linked to
a staff member (``User.staff_id``). Every write is in the caller's transaction; a batch of fixes
locks its patrol row, so concurrent batches of one patrol are taken one after the other. Reading
lives in ``patrol_read``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.bus.memory import queue_event
from cityops.cases import intake
from cityops.cases.models import Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point
from cityops.clock import as_utc
from cityops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cityops.ledger import service as ledger
from cityops.scenarios.river import patrol_track as trk
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
    FinishIn,
    IssueCreate,
    PatrolCreate,
    PointsIn,
    PointsRead,
)
from cityops.settings import Settings


@dataclass(frozen=True, slots=True)
class PatrolSettings:
    """The track rules, the coverage buffer and the clock-skew allowance, from settings."""

    track: trk.TrackRules
    buffer_m: float
    clock_skew: timedelta

    @classmethod
    def of(cls, settings: Settings) -> PatrolSettings:
        return cls(
            track=trk.TrackRules(
                max_speed_mps=settings.river_patrol_max_speed_mps,
                max_accuracy_m=settings.river_patrol_max_accuracy_m,
                jitter_m=settings.river_patrol_jitter_m,
                confirm_points=settings.river_patrol_confirm_points,
            ),
            buffer_m=settings.river_patrol_buffer_m,
            clock_skew=timedelta(seconds=settings.river_patrol_clock_skew_s),
        )


def _staff_id(user: Principal) -> int:
    if user.staff_id is None:
        raise Forbidden(
            "patrols are recorded by staff: your account is not linked to a staff member",
            code="no_staff_id",
        )
    return user.staff_id


def _subject(patrol: Patrol) -> str:
    return f"river_patrol:{patrol.id}"


def _own(session: Session, user: Principal, patrol_id: int, *, lock: bool) -> Patrol:
    """The caller's own patrol (404 ``patrol_not_found``, 403 ``not_your_patrol``)."""
    stmt = select(Patrol).where(Patrol.id == patrol_id)
    patrol = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if patrol is None:
        raise NotFound(f"no patrol {patrol_id}", code="patrol_not_found")
    if patrol.staff_id != _staff_id(user):
        raise Forbidden(f"patrol {patrol_id} is someone else's", code="not_your_patrol")
    return patrol


def _active(patrol: Patrol) -> None:
    if patrol.status != PatrolStatus.active:
        raise Conflict(f"patrol {patrol.id} is finished", code="patrol_finished")


def _not_future(at: datetime, now: datetime, cfg: PatrolSettings, what: str) -> None:
    if at > now + cfg.clock_skew:
        raise ValidationFailed(f"{what} {at.isoformat()} is in the future", code="time_in_future")


def _place(session: Session, user: Principal, body: PatrolCreate) -> tuple[River, Section | None]:
    if body.section_code is not None:
        row = session.execute(
            select(Section, River)
            .join(River, Section.river_id == River.id)
            .where(Section.code == body.section_code)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no section {body.section_code}", code="section_not_found")
        user.require_covers(row[0].street_code, f"section {body.section_code}")
        return row[1], row[0]
    river = session.execute(select(River).where(River.code == body.river_code)).scalar_one_or_none()
    if river is None:
        raise NotFound(f"no river {body.river_code}", code="river_not_found")
    if not user.is_city_wide:
        mine = select(Section.id).where(
            Section.river_id == river.id,
            Section.street_code.startswith(user.scope_code or "\x00", autoescape=True),
        )
        if session.execute(mine.limit(1)).first() is None:
            user.require_covers(None, f"river {river.code}")
    return river, None


def start(
    *, session: Session, user: Principal, body: PatrolCreate, now: datetime, cfg: PatrolSettings
) -> tuple[Patrol, bool]:
    """Start a patrol, or return the one this ``client_id`` already started (``False``)."""
    staff_id = _staff_id(user)
    found = session.execute(
        select(Patrol).where(Patrol.staff_id == staff_id, Patrol.client_id == body.client_id)
    ).scalar_one_or_none()
    river, section = _place(session, user, body)
    if found is not None:
        if (found.river_id, found.section_id) != (river.id, section.id if section else None):
            raise Conflict(
                f"client_id {body.client_id} already started patrol {found.id} elsewhere",
                code="client_id_reused",
                patrol_id=found.id,
            )
        return found, False
    busy = session.execute(
        select(Patrol.id)
        .where(Patrol.staff_id == staff_id, Patrol.status == PatrolStatus.active)
        .limit(1)
    ).scalar()
    if busy is not None:
        raise Conflict(
            f"patrol {busy} is still going: finish it first", code="patrol_active", patrol_id=busy
        )
    started = as_utc(body.started_at) if body.started_at else now
    _not_future(started, now, cfg, "started_at")
    patrol = Patrol(
        staff_id=staff_id, user_id=user.user_id or None, river_id=river.id,
        section_id=section.id if section else None,
        jurisdiction_code=section.street_code if section else user.scope_code,
        client_id=body.client_id, status=PatrolStatus.active, started_at=started,
        mileage_m=0.0, duration_s=0.0, point_count=0, flagged_count=0,
    )  # fmt: skip
    session.add(patrol)
    session.flush()
    facts = {"river": river.code, "section": section.code if section else None, "staff": staff_id}
    _record(session, patrol, user.actor, "river.patrol_start", now, facts)
    return patrol, True


def _audience(patrol: Patrol) -> dict[str, Any]:
    return {"jurisdiction_code": patrol.jurisdiction_code, "worker_id": patrol.staff_id}


def _record(
    session: Session, patrol: Patrol, actor: str, action: str, at: datetime, facts: dict[str, Any]
) -> None:
    """The ledger entry and, after the commit, the bus event of one patrol step."""
    ledger.append(
        session=session, at=at, actor=actor, action=action, subject=_subject(patrol), payload=facts
    )
    queue_event(
        session.info,
        action.replace("river.patrol_", "river.patrol."),
        # with who may see it live (api.stream.may_see): the patrol's area, and its walker
        {**facts, **_audience(patrol), "patrol_id": patrol.id, "at": at.isoformat()},
    )


def _fixes(session: Session, patrol: Patrol) -> list[Any]:
    return list(
        session.execute(
            select(
                PatrolPoint.seq, PatrolPoint.t.label("at"), PatrolPoint.lat, PatrolPoint.lng,
                PatrolPoint.accuracy_m, PatrolPoint.flag, PatrolPoint.stretch,
            ).where(PatrolPoint.patrol_id == patrol.id)
        ).all()
    )  # fmt: skip


def _retrack(
    session: Session,
    patrol: Patrol,
    rows: Sequence[Any],
    fresh: Sequence[trk.Fix],
    cfg: PatrolSettings,
) -> trk.Track:
    """Clean the whole track with the fresh fixes, store them and every changed verdict."""
    old = [trk.Fix(r.seq, r.at, r.lat, r.lng, r.accuracy_m) for r in rows]
    track = trk.clean([*old, *fresh], cfg.track)
    stretch = track.stretch_of()
    changed = [
        {
            "patrol_id": patrol.id,
            "seq": r.seq,
            "flag": track.flags[r.seq],
            "stretch": stretch.get(r.seq),
        }
        for r in rows
        if (r.flag, r.stretch) != (track.flags[r.seq], stretch.get(r.seq))
    ]
    if changed:
        session.execute(update(PatrolPoint), changed)
    if fresh:
        session.execute(
            insert(PatrolPoint),
            [
                {
                    "patrol_id": patrol.id, "seq": f.seq, "t": f.t, "lat": f.lat, "lng": f.lng,
                    "accuracy_m": f.accuracy_m, "flag": track.flags[f.seq],
                    "stretch": stretch.get(f.seq),
                }
                for f in fresh
            ],
        )  # fmt: skip
    patrol.point_count = len(rows) + len(fresh)
    patrol.flagged_count = track.flagged
    patrol.mileage_m = round(track.mileage_m, 1)
    patrol.duration_s = track.duration_s
    return track


def add_points(
    *,
    session: Session,
    user: Principal,
    patrol_id: int,
    body: PointsIn,
    now: datetime,
    cfg: PatrolSettings,
) -> PointsRead:
    """Store a batch of fixes (GCJ-02 converted); a fix already stored is counted, not stored."""
    patrol = _own(session, user, patrol_id, lock=True)
    _active(patrol)
    for p in body.points:
        _not_future(as_utc(p.t), now, cfg, "a fix's time")
    coords = trk.to_wgs84(body.crs, [p.lat for p in body.points], [p.lng for p in body.points])
    rows = _fixes(session, patrol)
    seen = {(r.at, r.lat, r.lng) for r in rows}
    fresh: list[trk.Fix] = []
    for p, (lng, lat) in zip(body.points, coords, strict=True):
        key = (as_utc(p.t), lat, lng)
        if key in seen:
            continue
        seen.add(key)
        fresh.append(trk.Fix(patrol.point_count + len(fresh) + 1, key[0], lat, lng, p.accuracy_m))
    track = _retrack(session, patrol, rows, fresh, cfg)
    flags: dict[str, int] = {}
    for f in fresh:
        flag = track.flags[f.seq]
        if flag is not None:
            flags[flag.value] = flags.get(flag.value, 0) + 1
    flagged = sum(flags.values())
    return PointsRead(
        patrol_id=patrol.id, received=len(body.points), stored=len(fresh),
        accepted=len(fresh) - flagged, flagged=flagged, repeated=len(body.points) - len(fresh),
        flags=flags, point_count=patrol.point_count, flagged_count=patrol.flagged_count,
        mileage_m=patrol.mileage_m, duration_s=patrol.duration_s,
    )  # fmt: skip


def river_lines(session: Session, river_id: int) -> dict[int, tuple[Section, list[trk.LngLat]]]:
    """The river's sections with their lines as (lng, lat) pairs, by id."""
    sections = session.execute(select(Section).where(Section.river_id == river_id)).scalars()
    return {s.id: (s, trk.line_coords(json.loads(s.geometry))) for s in sections}


def report_issue(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    patrol_id: int,
    body: IssueCreate,
    now: datetime,
) -> tuple[PatrolIssue, bool]:
    """File the problem through the case engine (channel ``patrol``) and link it to the patrol.

    Returns the link and whether the report joined an open case it repeats (重复上报).
    """
    patrol = _own(session, user, patrol_id, lock=False)
    _active(patrol)
    crs: Literal["WGS84", "GCJ-02"] = "GCJ-02" if body.crs == "gcj02" else "WGS84"
    data = CaseCreate(
        category=body.category, channel=Channel.patrol, title=body.title, address=body.address,
        location=Point(lat=body.lat, lng=body.lng, crs=crs), description=body.description,
        photos=body.photos,
    )  # fmt: skip
    result = intake.report(session=session, rules=rules, data=data, actor=user, at=now)
    case = result.case
    section_id = patrol.section_id
    if section_id is None:
        lines = river_lines(session, patrol.river_id)
        section_id = trk.nearest({k: v[1] for k, v in lines.items()}, (case.lng, case.lat))
    link = session.execute(
        select(PatrolIssue).where(
            PatrolIssue.patrol_id == patrol.id, PatrolIssue.case_id == case.id
        )
    ).scalar_one_or_none()
    if link is None:
        link = PatrolIssue(
            patrol_id=patrol.id, case_id=case.id, section_id=section_id, created_at=now
        )
        session.add(link)
        session.flush()
        facts = {"case_id": case.id, "section_id": section_id, "duplicate": result.duplicate}
        _record(session, patrol, user.actor, "river.patrol_issue", now, facts)
    return link, result.duplicate


def finish(
    *,
    session: Session,
    user: Principal,
    patrol_id: int,
    body: FinishIn,
    now: datetime,
    cfg: PatrolSettings,
) -> Patrol:
    """Finish: mileage, duration, the sections' coverage; finishing again changes nothing."""
    patrol = _own(session, user, patrol_id, lock=True)
    if patrol.status == PatrolStatus.finished:
        return patrol
    ended = as_utc(body.ended_at) if body.ended_at else now
    _not_future(ended, now, cfg, "ended_at")
    if ended < patrol.started_at:
        raise ValidationFailed("ended_at is before the patrol started", code="ended_before_start")
    track = _retrack(session, patrol, _fixes(session, patrol), (), cfg)
    lines = river_lines(session, patrol.river_id)
    stretches = [[(f.lng, f.lat) for f in s] for s in track.stretches]
    covered = trk.coverage(
        sections={k: v[1] for k, v in lines.items()}, stretches=stretches, buffer_m=cfg.buffer_m
    )
    if covered:
        session.execute(
            insert(PatrolCoverage),
            [
                {
                    "patrol_id": patrol.id, "section_id": sid, "intervals": json.dumps(ivs),
                    "share": round(trk.covered_share(ivs), 6),
                }
                for sid, ivs in covered.items()
            ],
        )  # fmt: skip
    targets = [
        s
        for s, _ in lines.values()
        if s.id == patrol.section_id
        or (patrol.section_id is None and s.street_code.startswith(patrol.jurisdiction_code or ""))
    ]
    total = sum(s.length_km for s in targets)
    patrol.coverage = (
        round(
            sum(trk.covered_share(covered.get(s.id, ())) * s.length_km for s in targets) / total, 4
        )
        if total > 0
        else None
    )
    patrol.status, patrol.ended_at = PatrolStatus.finished, ended
    facts = {
        "mileage_m": patrol.mileage_m, "duration_s": patrol.duration_s,
        "coverage": patrol.coverage, "points": patrol.point_count,
        "flagged": patrol.flagged_count, "sections": sorted(covered),
    }  # fmt: skip
    _record(session, patrol, user.actor, "river.patrol_finish", now, facts)
    return patrol
