"""River pollution events (河湖事件): a 水域不洁 (06025) case sent to the section's department and
its accountable chief, with the evidence; one event per case.

``open_event`` files the case itself (an imported drone, boat, satellite or video detection);
``record_event`` takes a case already filed (the rules engine's river plans: ``on_rule_case`` is
the case listener ``detect.py`` registers for plans named ``river-…``). Both run in the caller's
transaction and leave a ledger entry for each step: the case's own steps (受理, 立案, 派遣) and
``river.event_opened`` naming the section, the chief and the department. A detection that joins
a case which already carries an event adds its evidence to that event.

The accountable chief is the lowest-level chief with a staff (village, street, district, city).
A section whose posts are all vacant still gets its event, with no chief and ``no_chief`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal, machine
from cityops.bus.memory import queue_event
from cityops.cases import intake
from cityops.cases import service as cases
from cityops.cases.lifecycle import OPEN_STATES, Action
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point, TransitionCreate
from cityops.errors import ValidationFailed
from cityops.ledger import service as ledger
from cityops.registry.models import Department, Staff
from cityops.rules.caseport import CaseOpened
from cityops.scenarios.river.models import (
    ChiefAssignment,
    ChiefLevel,
    EventSource,
    River,
    RiverEvent,
    Section,
    Station,
)
from cityops.scenarios.river.registry import visible
from cityops.scenarios.river.schemas import DepartmentRef, EventChief, EventPage, EventRead
from cityops.sensing.models import Thing

RIVER_CATEGORY = "06025"  # 水域不洁 (shuiwu, district level)
ACTOR = "system:river"
LOWEST_FIRST = (ChiefLevel.village, ChiefLevel.street, ChiefLevel.district, ChiefLevel.city)
_CHANNEL = {EventSource.video: Channel.video}  # drones, boats, satellites and stations: sensor
SOURCE_ZH = {
    EventSource.station: "水质自动站",
    EventSource.drone: "无人机",
    EventSource.boat: "无人船",
    EventSource.satellite: "卫星遥感",
    EventSource.video: "AI视频",
}


@dataclass(frozen=True, slots=True)
class StationSite:
    """The section a station watches, and the station (its id once stations are stored)."""

    section: Section
    station_id: int | None
    code: str | None


def section_of_thing(*, session: Session, thing_id: int) -> StationSite | None:
    """The river section a station Thing watches; None for a Thing that is no river station.

    A registered station (``river_station``) answers first; a Thing only tagged as one (its
    properties ``{"river_station": code, "section": section code}``, as an external system may
    create it through SensorThings) is still placed on its section, with no station id.
    """
    row = session.execute(
        select(Station, Section).join(Section, Station.section_id == Section.id)
        .where(Station.thing_id == thing_id)
    ).first()  # fmt: skip
    if row is not None:
        return StationSite(row.Section, row.Station.id, row.Station.code)
    props = session.execute(select(Thing.properties).where(Thing.id == thing_id)).scalar()
    code = (props or {}).get("section")
    if not code:
        return None
    section = session.execute(select(Section).where(Section.code == str(code))).scalar()
    if section is None:
        return None
    station = (props or {}).get("river_station")
    return StationSite(section, None, str(station) if station else None)


@dataclass(frozen=True, kw_only=True)
class Detection:
    """What was seen, where and when, by what; ``evidence`` is kept with the event."""

    source: EventSource
    detector: str
    detected_at: datetime
    lat: float
    lng: float
    evidence: dict[str, Any]
    confidence: float | None = None
    image_ref: str | None = None
    station_id: int | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source.value,
            "detector": self.detector,
            "detected_at": self.detected_at.isoformat(),
            "lat": self.lat,
            "lng": self.lng,
            **self.evidence,
        }
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.image_ref:
            out["image_ref"] = self.image_ref
        return out


def accountable_chief(*, session: Session, section_id: int) -> tuple[int, ChiefLevel] | None:
    """The lowest-level chief with a staff: (staff id, level), or None when all are vacant."""
    rows = session.execute(
        select(ChiefAssignment.level, ChiefAssignment.staff_id).where(
            ChiefAssignment.section_id == section_id, ChiefAssignment.staff_id.is_not(None)
        )
    ).all()
    held: dict[ChiefLevel, int] = {level: staff for level, staff in rows if staff is not None}
    for level in LOWEST_FIRST:
        if level in held:
            return held[level], level
    return None


def open_event(
    *,
    session: Session,
    rules: CaseRules,
    section: Section,
    detection: Detection,
    title: str,
    description: str,
    external_ref: str | None,
    actor: str,
    at: datetime,
) -> RiverEvent:
    """File a 水域不洁 case at the detection's point and record the event (see the module)."""
    data = CaseCreate(
        category=RIVER_CATEGORY,
        channel=_CHANNEL.get(detection.source, Channel.sensor),
        location=Point(lat=detection.lat, lng=detection.lng),
        title=title[:120],
        description=description[:4000],
        photos=[],
        external_ref=external_ref[:64] if external_ref else None,
    )
    result = intake.report(session=session, rules=rules, data=data, actor=machine(actor), at=at)
    return record_event(
        session=session,
        rules=rules,
        case_id=result.case.id,
        section=section,
        detection=detection,
        fresh=not result.duplicate,
        actor=actor,
        at=at,
    )


def record_event(
    *,
    session: Session,
    rules: CaseRules,
    case_id: int,
    section: Section,
    detection: Detection,
    fresh: bool,
    actor: str,
    at: datetime,
) -> RiverEvent:
    """The event of a filed case: sent to the section's department (a ``fresh`` case only, not
    one a report joined), with its accountable chief; or more evidence for the case's event."""
    existing = session.execute(select(RiverEvent).where(RiverEvent.case_id == case_id)).scalar()
    if existing is not None:
        seen = list(existing.evidence.get("detections", []))
        existing.evidence = {**existing.evidence, "detections": [*seen, detection.record()]}
        ledger.append(
            session=session, at=at, actor=actor, action="river.event_evidence",
            subject=f"case:{case_id}",
            payload={"event_id": existing.id, "source": detection.source.value,
                     "detector": detection.detector},
        )  # fmt: skip
        return existing
    case = cases.get_case(session=session, case_id=case_id)
    if fresh:
        _send(session, rules, case, section, actor, at)
    chief = accountable_chief(session=session, section_id=section.id)
    event = RiverEvent(
        case_id=case_id,
        section_id=section.id,
        station_id=detection.station_id,
        source=detection.source,
        detector=detection.detector,
        detected_at=detection.detected_at,
        lat=detection.lat,
        lng=detection.lng,
        confidence=detection.confidence,
        image_ref=detection.image_ref,
        evidence={"detections": [detection.record()]},
        chief_staff_id=chief[0] if chief else None,
        chief_level=chief[1].value if chief else None,
        no_chief=chief is None,
        department_id=case.department_id,
        created_at=at,
    )
    session.add(event)
    session.flush()
    facts = {
        "event_id": event.id,
        "section": section.code,
        "source": detection.source.value,
        "detector": detection.detector,
        "chief_staff_id": event.chief_staff_id,
        "chief_level": event.chief_level,
        "no_chief": event.no_chief,
        "department_id": event.department_id,
    }
    ledger.append(
        session=session, at=at, actor=actor, action="river.event_opened",
        subject=f"case:{case_id}", payload=facts,
    )  # fmt: skip
    queue_event(  # the chief's notice (河长通知) and the river page's live layer
        session.info,
        "river.event_opened",
        {
            **facts,
            "case_id": case_id,
            "district_code": section.district_code,
            "street_code": section.street_code,
            "lat": event.lat,
            "lng": event.lng,
            "at": at.isoformat(),
        },
    )
    return event


def _send(
    session: Session, rules: CaseRules, case: Case, section: Section, actor: str, at: datetime
) -> None:
    """受理 → 立案 → 派遣 to the section's department; a case intake already sent elsewhere is
    sent again (改派) to the section's department."""
    who = machine(actor)
    dept = section.department_id

    def step(action: Action, **kw: Any) -> None:
        cases.transition(
            session=session, rules=rules, case_id=case.id,
            command=TransitionCreate(action=action, **kw), actor=who, at=at,
        )  # fmt: skip

    if case.status is CaseStatus.reported:
        step(Action.accept)
    if case.status is CaseStatus.accepted:
        step(Action.file)
    if case.status in (CaseStatus.filed, CaseStatus.returned):
        step(Action.dispatch, department_id=dept)
    elif case.status is CaseStatus.dispatched and dept is not None and case.department_id != dept:
        before = case.department_id
        facts = cases.dispatch(session=session, rules=rules, case=case, at=at, department_id=dept)
        case.updated_at = at
        session.flush()
        cases.record(
            session=session, case=case, actor=who.actor, action=Action.dispatch.value, at=at,
            payload={"from": case.status.value, "to": case.status.value,
                     "redispatch_from_department": before, **facts},
        )  # fmt: skip


def on_rule_case(opened: CaseOpened) -> None:
    """The rules engine opened a case for a ``river-`` plan: record the station's event."""
    thing = opened.source.thing_id
    site = section_of_thing(session=opened.session, thing_id=thing) if thing is not None else None
    if site is None or opened.source.lat is None or opened.source.lng is None:
        return  # not a station on a section: the case stands as filed, without an event
    detection = Detection(
        source=EventSource.station,
        detector=opened.plan,
        detected_at=opened.at,
        lat=opened.source.lat,
        lng=opened.source.lng,
        evidence={"station": site.code, "thing_id": thing, "readings": opened.evidence},
        station_id=site.station_id,
    )
    record_event(
        session=opened.session,
        rules=opened.rules,
        case_id=opened.case_id,
        section=site.section,
        detection=detection,
        fresh=not opened.duplicate,
        actor=f"rule:{opened.plan}",
        at=opened.at,
    )


def list_events(
    *,
    session: Session,
    user: Principal,
    river: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> EventPage:
    """Events on the sections the caller sees, newest first, with their case's status, section,
    chief and department. ``status``: a case status, or ``open`` for any not yet closed."""
    stmt = (
        select(RiverEvent, Case.status, Case.title, Section, River, Staff.name, Department)
        .join(Case, Case.id == RiverEvent.case_id)
        .join(Section, Section.id == RiverEvent.section_id)
        .join(River, River.id == Section.river_id)
        .outerjoin(Staff, Staff.id == RiverEvent.chief_staff_id)
        .outerjoin(Department, Department.id == RiverEvent.department_id)
        .where(visible(user))
    )
    if river:
        stmt = stmt.where(River.code == river)
    if status == "open":
        stmt = stmt.where(Case.status.in_(sorted(OPEN_STATES)))
    elif status:
        try:
            stmt = stmt.where(Case.status == CaseStatus(status))
        except ValueError:
            known = ", ".join(["open", *(s.value for s in CaseStatus)])
            raise ValidationFailed(
                f"unknown status {status!r}; one of {known}", code="unknown_status"
            ) from None
    if since is not None:
        stmt = stmt.where(RiverEvent.detected_at >= since)
    rows = session.execute(
        stmt.order_by(RiverEvent.detected_at.desc(), RiverEvent.id.desc()).limit(limit)
    ).all()
    items = [_read(*row) for row in rows]
    return EventPage(items=items, total=len(items))


def _read(
    e: RiverEvent,
    status: CaseStatus,
    title: str,
    s: Section,
    r: River,
    chief: str | None,
    d: Department | None,
) -> EventRead:
    who = None
    if e.chief_staff_id is not None:
        who = EventChief(staff_id=e.chief_staff_id, name=chief, level=e.chief_level or "")
    dept = DepartmentRef(id=d.id, code=d.code, name=d.name, type=d.type.value) if d else None
    return EventRead(
        id=e.id, case_id=e.case_id, case_status=status.value, case_title=title,
        river_code=r.code, river_name=r.name, section=s.code, section_name=s.name,
        station_id=e.station_id, source=e.source.value, detector=e.detector,
        detected_at=e.detected_at, lat=e.lat, lng=e.lng, confidence=e.confidence,
        image_ref=e.image_ref, chief=who, no_chief=e.no_chief, department=dept,
        evidence=e.evidence,
    )  # fmt: skip
