from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.rules.caseport import IntakeCasePort
from cityops.rules.engine import RulesEngine
from cityops.rules.evaluate import Reading
from cityops.rules.plans import PlanSet, load_plans
from cityops.rules.ports import BusNotifier, RecordingActuator, SourceInfo, StaticDirectory
from tests import citykit
from tests.tanks import septic_tank

TANK = "50010701901000001"
CH4, H2S, FAN = 101, 102, 501


@dataclass
class Rig:
    """A small city, the shipped plans, and what it takes to build (and rebuild) an engine."""

    sessions: sessionmaker[Session]
    clock: FakeClock
    city: citykit.SmallCity
    rules: Any
    directory: StaticDirectory
    actuator: RecordingActuator = field(default_factory=RecordingActuator)
    bus: MemoryBus = field(default_factory=MemoryBus)
    events: list[Event] = field(default_factory=list)

    def engine(self, plans: PlanSet | None = None) -> RulesEngine:
        return RulesEngine(
            sessions=self.sessions,
            clock=self.clock,
            plans=plans if plans is not None else load_plans(),
            directory=self.directory,
            actuator=self.actuator,
            notifier=BusNotifier(),
            cases=IntakeCasePort(self.rules),
            bus=self.bus,
        )

    def reading(self, ds: int, value: float) -> Reading:
        return Reading(ds, self.clock.now(), value)

    def advance(self, **kw: float) -> None:
        self.clock.advance(timedelta(**kw))


@pytest.fixture
def rig(session_factory: sessionmaker[Session], clock: FakeClock) -> Rig:
    with session_factory.begin() as s:
        city = citykit.build(s)
        s.add(septic_tank(TANK))
    with session_factory() as s:
        rules = citykit.rules_for(s, clock)
    place = {
        "lat": citykit.Y0 + 0.003,
        "lng": citykit.X0 + 0.003,
        "component_ident": TANK,
        "jurisdiction_code": "500107001",
        "actuators": {"fan": FAN},
    }
    directory = StaticDirectory(
        [
            SourceInfo(CH4, "1号化粪池甲烷", 11, "CH4", "%LEL", **place),  # type: ignore[arg-type]
            SourceInfo(H2S, "1号化粪池硫化氢", 11, "H2S", "mg/m3", **place),  # type: ignore[arg-type]
        ]
    )
    r = Rig(session_factory, clock, city, rules, directory)
    r.bus.subscribe("*", r.events.append)
    return r
