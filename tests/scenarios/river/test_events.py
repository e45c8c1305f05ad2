"""River events on both databases: the accountable chief, a section with no chief, a case that
intake sent elsewhere, and a second detection joining the event of the same case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cityops.auth.scope import machine
from cityops.cases import intake
from cityops.cases import service as cases
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.cases.schemas import CaseCreate, Point, TransitionCreate
from cityops.clock import FakeClock
from cityops.ledger import service as ledger
from cityops.registry.models import DepartmentType
from cityops.scenarios.river import events
from cityops.scenarios.river.models import (
    ChiefAssignment,
    ChiefLevel,
    EventSource,
    RiverEvent,
    Section,
)
from tests.citykit import X0, Y0
from tests.scenarios.river.detect_kit import RiverCity, river_city

ON_TT = (Y0 + 0.015, X0 + 0.0046)


@pytest.fixture
def rc(session_factory: sessionmaker[Session], clock: FakeClock) -> RiverCity:
    return river_city(session_factory, clock)


def _detection(lat: float = ON_TT[0], lng: float = ON_TT[1], **kw: object) -> events.Detection:
    return events.Detection(
        source=kw.pop("source", EventSource.drone),  # type: ignore[arg-type]
        detector="floating_debris",
        detected_at=kw.pop("at"),  # type: ignore[arg-type]
        lat=lat,
        lng=lng,
        evidence={"external_id": "d-1"},
        confidence=0.9,
        image_ref="oss://drone/1.jpg",
    )


def _open(rc: RiverCity, s: Session, **kw: object) -> RiverEvent:
    section = s.execute(select(Section).where(Section.code == "TT-001")).scalar_one()
    return events.open_event(
        session=s, rules=rc.rules, section=section,
        detection=_detection(at=rc.clock.now(), **kw), title="水面漂浮物(无人机发现)",
        description="无人机发现水面漂浮物", external_ref="drone:d-1", actor="user:dispatcher",
        at=rc.clock.now(),
    )  # fmt: skip


def _chief(s: Session, section_id: int, level: ChiefLevel) -> int | None:
    return s.execute(
        select(ChiefAssignment.staff_id).where(
            ChiefAssignment.section_id == section_id, ChiefAssignment.level == level
        )
    ).scalar_one()


def test_an_event_files_a_case_for_the_section_department_and_names_the_street_chief(
    rc: RiverCity,
) -> None:
    section = rc.section("TT-001")
    with rc.sessions.begin() as s:
        event = _open(rc, s)
        street = _chief(s, section.id, ChiefLevel.street)
        assert (event.chief_staff_id, event.chief_level, event.no_chief) == (
            street,
            "street",
            False,
        )
        case = s.get(Case, event.case_id)
        assert case is not None and case.category_code == "06025"
        assert case.status is CaseStatus.dispatched and case.channel is Channel.sensor
        assert case.department_id == section.department_id == event.department_id
        opened = ledger.history(session=s, subject=f"case:{case.id}")[-1]
        assert (opened.actor, opened.action) == ("user:dispatcher", "river.event_opened")
        assert json.loads(opened.payload)["chief_staff_id"] == street


def test_with_the_street_post_vacant_the_district_chief_answers(rc: RiverCity) -> None:
    section = rc.section("TT-001")
    with rc.sessions.begin() as s:
        s.execute(
            update(ChiefAssignment)
            .where(ChiefAssignment.section_id == section.id, ChiefAssignment.level == "street")
            .values(staff_id=None)
        )
        event = _open(rc, s)
        assert event.chief_level == "district"
        assert event.chief_staff_id == _chief(s, section.id, ChiefLevel.district)


def test_a_section_without_any_chief_still_gets_its_event_flagged_no_chief(rc: RiverCity) -> None:
    section = rc.section("TT-001")
    with rc.sessions.begin() as s:
        s.execute(
            update(ChiefAssignment)
            .where(ChiefAssignment.section_id == section.id)
            .values(staff_id=None)
        )
        event = _open(rc, s)
        assert (event.chief_staff_id, event.chief_level, event.no_chief) == (None, None, True)
        assert s.get(Case, event.case_id).status is CaseStatus.dispatched  # type: ignore[union-attr]
        opened = ledger.history(session=s, subject=f"case:{event.case_id}")[-1]
        assert json.loads(opened.payload)["no_chief"] is True


def test_a_case_already_sent_to_another_department_is_sent_on_to_the_section_department(
    rc: RiverCity,
) -> None:
    section = rc.section("TT-001")
    other = rc.city.departments[("500107001", DepartmentType.street_office)]
    assert other != section.department_id
    now = rc.clock.now()
    with rc.sessions.begin() as s:
        data = CaseCreate(
            category="06025", channel=Channel.sensor, location=Point(lat=ON_TT[0], lng=ON_TT[1]),
            description="河面漂浮物",
        )  # fmt: skip
        case = intake.report(
            session=s, rules=rc.rules, data=data, actor=machine("system:test"), at=now
        ).case
        for cmd in (
            TransitionCreate(action=Action.accept),
            TransitionCreate(action=Action.file),
            TransitionCreate(action=Action.dispatch, department_id=other),
        ):
            cases.transition(
                session=s, rules=rc.rules, case_id=case.id, command=cmd,
                actor=machine("system:test"), at=now,
            )  # fmt: skip
        assert case.department_id == other
        event = events.record_event(
            session=s, rules=rc.rules, case_id=case.id, section=s.merge(section),
            detection=_detection(at=now), fresh=True, actor="rule:river-class-drop", at=now,
        )  # fmt: skip
        assert case.department_id == section.department_id == event.department_id
        assert case.status is CaseStatus.dispatched
        steps = ledger.history(session=s, subject=f"case:{case.id}")
        redispatch = [json.loads(e.payload) for e in steps if e.action == "dispatch"][-1]
        assert redispatch["redispatch_from_department"] == other
        assert redispatch["department_id"] == section.department_id


def test_a_second_detection_of_the_same_problem_joins_the_event_of_its_case(
    rc: RiverCity,
) -> None:
    with rc.sessions.begin() as s:
        first = _open(rc, s)
        again = _open(rc, s, lat=ON_TT[0] + 0.0002, source=EventSource.boat)  # 22 m away
        assert again.id == first.id
        detections = again.evidence["detections"]
        assert [d["source"] for d in detections] == ["drone", "boat"]
        assert s.execute(select(RiverEvent.id)).scalars().all() == [first.id]
        steps = [e.action for e in ledger.history(session=s, subject=f"case:{first.case_id}")]
        assert steps.count("river.event_opened") == 1 and "river.event_evidence" in steps
        assert steps.count("dispatch") == 1  # the case joined is not sent again
