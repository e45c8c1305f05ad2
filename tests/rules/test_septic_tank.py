"""The seed's septic-tank chain end to end on a simulated clock, on both databases.

Gas over the set-point → fan command in the same evaluation → still over after 1 h → red alarm and
a case filed at the district centre and dispatched → worker reports it handled → readings normal
for the hold period → machine-verified and closed; the ledger shows every step.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases import service as cases
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseStatus, Channel, ClosingType
from cityops.cases.schemas import TransitionCreate
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry
from cityops.rules.models import Alarm, RuleFiring
from tests.rules.conftest import CH4, FAN, TANK, Rig


def _alarms(s: Session) -> list[Alarm]:
    return list(s.execute(select(Alarm).where(Alarm.plan_id == "septic-ch4")).scalars())


def _worker_handles(rig: Rig, case_id: int) -> None:
    with rig.sessions.begin() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.worker_id is not None
        for action in (Action.start, Action.feedback):
            cases.transition(
                session=s,
                rules=rig.rules,
                case_id=case_id,
                command=TransitionCreate(action=action),
                actor=rig.city.users["admin"],
                at=rig.clock.now(),
            )


def test_septic_tank_chain_from_gas_to_closed_case(rig: Rig) -> None:
    engine = rig.engine()
    assert not engine.disabled and not engine.problems
    engine.process([rig.reading(CH4, 8.0)])
    assert rig.actuator.sent == []

    rig.advance(minutes=1)
    result = engine.process([rig.reading(CH4, 31.0)])
    # The fan command went out in the same evaluation as the reading that crossed 25 %LEL.
    assert [(c["thing_id"], c["command"]) for c in rig.actuator.sent] == [(FAN, "on")]
    assert result.fired == 1
    with rig.sessions() as s:
        (alarm,) = _alarms(s)
        assert (alarm.state, alarm.severity) == ("active", "orange")

    rig.advance(minutes=30)
    engine.process([rig.reading(CH4, 29.0)])
    del engine  # the process restarts in the middle of "wait 1 hour"
    engine = rig.engine()

    rig.advance(minutes=30)
    assert engine.tick().timers_fired >= 1
    with rig.sessions() as s:
        (alarm,) = _alarms(s)
        assert (alarm.state, alarm.severity) == ("active", "red")
        case = s.execute(select(Case)).scalar_one()
        assert alarm.case_id == case.id
        assert case.channel is Channel.sensor and case.category_code == "01901"
        assert case.component_ident == TANK
        assert (case.district_code, case.street_code) == ("500107", "500107001")
        assert case.filed_at is not None and case.status is CaseStatus.dispatched
        assert case.department_id is not None and case.worker_id is not None
        assert "31" in case.description  # the readings are the evidence
        case_id = case.id
    assert any(e.subject == "alarms.notify" for e in rig.events)

    _worker_handles(rig, case_id)
    rig.advance(minutes=5)
    engine.process([rig.reading(CH4, 12.0)])  # below the clear level: fan off, alarm cleared
    assert rig.actuator.sent[-1]["command"] == "off"
    rig.advance(minutes=10)
    engine.process([rig.reading(CH4, 11.0)])
    rig.advance(minutes=20)  # 30 min hold since the clear
    engine.tick()

    with rig.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert case.status is CaseStatus.closed and case.closing_type is ClosingType.normal
        (alarm,) = _alarms(s)
        assert alarm.state == "cleared"
        history = ledger.history(session=s, subject=f"case:{case_id}")
        steps = [e.action for e in history]
        assert steps[:4] == ["report", "accept", "file", "dispatch"]
        assert steps[-2:] == ["verify_pass", "close"]
        assert "rules.case_evidence" in steps
        verify = history[-2]
        assert verify.actor == "rule:septic-ch4"
        assert json.loads(verify.payload)["method"] == "machine"
        rules_steps = [
            e.action
            for e in s.execute(
                select(LedgerEntry).where(LedgerEntry.actor == "rule:septic-ch4")
            ).scalars()
        ]
        for expected in (
            "rules.actuate",
            "alarm.raised",
            "alarm.escalated",
            "rules.case_opened",
            "alarm.cleared",
            "rules.case_verified",
        ):
            assert expected in rules_steps, expected
        assert rules_steps.index("rules.actuate") < rules_steps.index("rules.case_opened")
        assert ledger.verify(session=s).ok
        events = [
            f.event
            for f in s.execute(
                select(RuleFiring).where(RuleFiring.plan_id == "septic-ch4").order_by(RuleFiring.id)
            ).scalars()
        ]
        assert events[:2] == ["fire", "recheck"] and "verify" in events


def test_the_problem_returning_after_closing_reopens_the_case(rig: Rig) -> None:
    engine = rig.engine()
    engine.process([rig.reading(CH4, 30.0)])
    rig.advance(hours=1)
    engine.tick()
    with rig.sessions() as s:
        first = s.execute(select(Case)).scalar_one().id
    _worker_handles(rig, first)
    engine.process([rig.reading(CH4, 5.0)])
    rig.advance(minutes=30)
    engine.tick()
    rig.advance(hours=2)  # inside the 24 h reopen window
    engine.process([rig.reading(CH4, 33.0)])
    with rig.sessions() as s:
        rows = list(s.execute(select(Case).order_by(Case.id)).scalars())
        assert rows[0].status is CaseStatus.closed
        assert len(rows) == 2 and rows[1].status is CaseStatus.dispatched
        assert f"原案件 {first}" in rows[1].description
        link = ledger.history(session=s, subject=f"case:{first}")[-1]
        assert link.action == "rules.case_reopened"
        assert json.loads(link.payload)["reopened_as"] == rows[1].id


def test_the_problem_returning_before_verification_sends_the_case_back_for_rework(
    rig: Rig,
) -> None:
    engine = rig.engine()
    engine.process([rig.reading(CH4, 30.0)])
    rig.advance(hours=1)
    engine.tick()
    with rig.sessions() as s:
        cid = s.execute(select(Case)).scalar_one().id
    _worker_handles(rig, cid)
    engine.process([rig.reading(CH4, 5.0)])
    rig.advance(minutes=10)  # inside the hold: not verified yet
    engine.process([rig.reading(CH4, 28.0)])
    rig.advance(minutes=30)
    engine.tick()
    with rig.sessions() as s:
        case = s.get(Case, cid)
        assert case is not None
        assert case.status is CaseStatus.in_progress and case.rework_count == 1


def test_a_case_not_yet_handled_waits_for_the_worker_before_machine_verification(
    rig: Rig,
) -> None:
    engine = rig.engine()
    engine.process([rig.reading(CH4, 30.0)])
    rig.advance(hours=1)
    engine.tick()
    engine.process([rig.reading(CH4, 5.0)])
    rig.advance(minutes=30)
    engine.tick()
    with rig.sessions() as s:
        case = s.execute(select(Case)).scalar_one()
        assert case.status is CaseStatus.dispatched
    _worker_handles(rig, case.id)
    rig.advance(minutes=10)  # the verification asks again every 10 minutes
    engine.tick()
    with rig.sessions() as s:
        assert s.get(Case, case.id).status is CaseStatus.closed  # type: ignore[union-attr]
