"""A discharge seen by a river station, end to end on the rules engine and both databases.

Station readings → the river plans bound to the station Thing (one instance per station) → a
two-class drop, confirmed on the next sample, fires → a 水域不洁 (06025) case dispatched to the
section's department, a river event naming the street chief, ledger entries → the worker reports it
handled → the water back at the target for the hold period → machine-verified and closed (智能核查).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import Event, MemoryBus
from cityops.cases import service as cases
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseStatus, Channel, ClosingType
from cityops.cases.schemas import TransitionCreate
from cityops.clock import FakeClock
from cityops.ledger import service as ledger
from cityops.rules.caseport import IntakeCasePort
from cityops.rules.engine import RulesEngine
from cityops.rules.plans import load_plans
from cityops.rules.ports import BusNotifier, RecordingActuator
from cityops.scenarios.river.models import ChiefAssignment, ChiefLevel, EventSource, RiverEvent
from cityops.sensing.directory import SensingDirectory
from tests.citykit import X0, Y0
from tests.scenarios.river.detect_kit import RiverCity, add_station, of_class, readings, river_city

RIVER_PLANS = {
    "river-class-drop", "river-cusum-nh3n-do", "river-cusum-conductivity-turbidity",
    "river-cusum-organic-do", "river-black-odorous", "river-target-breach",
}  # fmt: skip
ON_TT = {"lat": Y0 + 0.015, "lng": X0 + 0.0045}  # on 测试河 TT-001, in street 500107001


@pytest.fixture
def rc(session_factory: sessionmaker[Session], clock: FakeClock) -> RiverCity:
    return river_city(session_factory, clock)


def _engine(rc: RiverCity, bus: MemoryBus) -> RulesEngine:
    return RulesEngine(
        sessions=rc.sessions,
        clock=rc.clock,
        plans=load_plans(),
        directory=SensingDirectory(rc.sessions),
        actuator=RecordingActuator(),
        notifier=BusNotifier(),
        cases=IntakeCasePort(rc.rules),
        bus=bus,
    )


def test_a_discharge_becomes_a_case_for_the_section_and_closes_when_the_water_recovers(
    rc: RiverCity,
) -> None:
    with rc.sessions.begin() as s:
        streams = add_station(s, rc.clock, code="TT-001-S1", section="TT-001", **ON_TT)
    section = rc.section("TT-001")
    with rc.sessions() as s:
        street_chief = s.execute(
            select(ChiefAssignment.staff_id).where(
                ChiefAssignment.section_id == section.id,
                ChiefAssignment.level == ChiefLevel.street,
            )
        ).scalar_one()
    bus = MemoryBus()
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    engine = _engine(rc, bus)
    assert not engine.disabled and not engine.problems
    assert {pid for pid, key in engine.instances if key.startswith("thing:")} == RIVER_PLANS

    def sample(label: str) -> None:
        engine.process(readings(streams, of_class(label), rc.clock.now()))
        rc.clock.advance(timedelta(hours=1))

    sample("II")
    sample("II")
    sample("V")  # NH3-N 1.8 mg/L: class II → V in one sample …
    with rc.sessions() as s:
        assert s.execute(select(Case)).scalar() is None  # … a one-sample spike could be the probe
    sample("V")  # … and still V on the next: confirmed
    with rc.sessions() as s:
        case = s.execute(select(Case)).scalar_one()
        assert (case.category_code, case.channel) == ("06025", Channel.sensor)
        assert case.status is CaseStatus.dispatched
        assert case.department_id == section.department_id and case.worker_id is not None
        assert "nh3n=1.8" in case.description  # the readings are the evidence
        event = s.execute(select(RiverEvent)).scalar_one()
        assert (event.case_id, event.section_id) == (case.id, section.id)
        assert (event.source, event.detector) == (EventSource.station, "river-class-drop")
        assert (event.chief_staff_id, event.chief_level, event.no_chief) == (
            street_chief, "street", False,
        )  # fmt: skip
        assert event.department_id == section.department_id
        (found,) = event.evidence["detections"]
        assert found["station"] == "TT-001-S1"
        assert {"input": "nh3n", "value": 1.8} in [
            {k: r[k] for k in ("input", "value")} for r in found["readings"]
        ]
        steps = [e.action for e in ledger.history(session=s, subject=f"case:{case.id}")]
        assert steps == [
            "report", "rules.case_evidence", "accept", "file", "dispatch", "river.event_opened",
        ]  # fmt: skip
        case_id = case.id
    notice = [e.data for e in seen if e.subject == "river.event_opened"]
    assert notice and notice[0]["chief_staff_id"] == street_chief
    assert notice[0]["street_code"] == "500107001"

    with rc.sessions.begin() as s:  # the worker reports it handled
        for action in (Action.start, Action.feedback):
            cases.transition(
                session=s, rules=rc.rules, case_id=case_id,
                command=TransitionCreate(action=action), actor=rc.city.users["admin"],
                at=rc.clock.now(),
            )  # fmt: skip
    sample("V")
    sample("III")  # back at the section's target (III): the plan clears, the hold starts
    for _ in range(11):
        sample("II")
    with rc.sessions() as s:
        assert s.get(Case, case_id).status is CaseStatus.handled  # type: ignore[union-attr]
    engine.tick()  # 12 h after the clear

    with rc.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert case.status is CaseStatus.closed and case.closing_type is ClosingType.normal
        history = ledger.history(session=s, subject=f"case:{case_id}")
        assert [e.action for e in history][-2:] == ["verify_pass", "close"]
        verify = history[-2]
        assert verify.actor == "rule:river-class-drop"
        assert json.loads(verify.payload)["method"] == "machine"
        assert ledger.verify(session=s).ok
        assert s.execute(select(Case.id)).scalars().all() == [case_id]  # one case, one episode


def test_a_thing_on_no_section_is_reported_and_not_bound(rc: RiverCity) -> None:
    with rc.sessions.begin() as s:
        add_station(s, rc.clock, code="LOOSE-1", section=None, **ON_TT)
        add_station(s, rc.clock, code="NOWHERE-1", section="XX-999", **ON_TT)
    engine = _engine(rc, MemoryBus())
    assert not [k for _, k in engine.instances if k.startswith("thing:")]
    reasons = [p.reason for p in engine.problems if p.name == "river-class-drop"]
    assert len(reasons) == 2 and all("on no river section; not bound" in r for r in reasons)
