"""The report simulator moves cases along like staff would, but leaves 智能核查 to the plans."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cityops.auth.scope import machine
from cityops.cases import intake
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.cases.schemas import CaseCreate, Point
from cityops.clock import FakeClock
from cityops.sim.reports import ReportSimulator
from tests import citykit
from tests.citykit import X0, Y0


def _sensor_case(s: Session, rules: Any, clock: FakeClock, ref: str | None, dx: float) -> int:
    data = CaseCreate(
        category="06010",
        channel=Channel.sensor,
        location=Point(lat=Y0 + 0.002, lng=X0 + dx),
        description="传感器告警",
        external_ref=ref,
    )
    result = intake.report(
        session=s, rules=rules, data=data, actor=machine("rule:test"), at=clock.now()
    )
    return result.case.id


def test_a_handled_case_a_plan_filed_waits_for_the_plan_and_others_are_checked(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
    with session_factory() as s:
        rules = citykit.rules_for(s, clock)
    with session_factory.begin() as s:
        ruled = _sensor_case(s, rules, clock, "rule:septic-ch4:17", 0.002)
        plain = _sensor_case(s, rules, clock, None, 0.006)
        s.execute(update(Case).values(status=CaseStatus.handled))
    sim = ReportSimulator(seed=3)
    with session_factory() as s:
        for _ in range(20):  # whatever the dice say
            command, _actor = sim.next_step(s.get_one(Case, ruled))
            assert command is None
        actions = {sim.next_step(s.get_one(Case, plain))[0].action for _ in range(40)}  # type: ignore[union-attr]
    assert actions == {Action.verify_pass, Action.verify_fail}
