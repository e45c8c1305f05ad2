"""Hand-made station samples and a way to feed them to the shipped river plans (no database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import Clock, FakeClock
from cityops.rules.evaluate import Compiled, Outcome, Reading, initial, on_reading
from cityops.rules.plans import load_plans
from cityops.scenarios.river import seeding
from cityops.scenarios.river.models import Section
from cityops.sensing import entities
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing
from tests import citykit
from tests.scenarios.river.test_river_api import MAIN, TRIB

T0 = 1_790_000_000.0
HOUR = 3600.0
FACTS = {"section": "TT-001", "target": "III", "water_body": "river"}
# Class II by GB 3838 (DO ≥ 6, CODMn ≤ 4, NH3-N ≤ 0.5, TP ≤ 0.1; the rest class I); not
# black-odorous (every indicator better than its light bound); no rain.
CLEAN: dict[str, float] = {
    "ph": 7.5, "do": 7.0, "codmn": 3.0, "cod": 14.0, "bod5": 2.5, "nh3n": 0.3, "tp": 0.08,
    "conductivity": 400.0, "turbidity": 10.0, "transparency": 60.0, "orp": 150.0,
    "rainfall": 0.0,
}  # fmt: skip
# NH3-N alone sets the class: ≤ 0.5 II, ≤ 1.0 III, ≤ 1.5 IV, ≤ 2.0 V, above 劣V.
NH3N_FOR = {"II": 0.3, "III": 0.8, "IV": 1.3, "V": 1.8, "劣V": 2.5}


def sample(**changes: float) -> dict[str, float]:
    return {**CLEAN, **changes}


def of_class(label: str, **changes: float) -> dict[str, float]:
    return sample(nh3n=NH3N_FOR[label], **changes)


def plan(plan_id: str, **overrides: object) -> Compiled:
    ps = load_plans(overrides={plan_id: overrides} if overrides else None)
    (found,) = [p for p in ps.plans if p.id == plan_id]
    return Compiled(found)


def feed(
    cp: Compiled,
    samples: Sequence[Mapping[str, float]],
    *,
    step: float = HOUR,
    facts: Mapping[str, Any] = FACTS,
    state: dict[str, Any] | None = None,
    start: float = T0,
) -> list[Outcome]:
    """Each sample's values (the inputs the plan reads, by name) at one time; per sample, one
    outcome: the state after it, its timers, and its firing's trace if any."""
    names = sorted({*cp.by_input, *cp.det_by_input})
    st = state if state is not None else initial(cp, "thing:1")
    outs: list[Outcome] = []
    for i, values in enumerate(samples):
        t = start + i * step
        merged = Outcome(st)
        for name in names:
            out = on_reading(cp, st, name, t, values[name], t, facts)
            st = out.state
            merged.timers += out.timers
            merged.trace = out.trace or merged.trace
        merged.state = st
        outs.append(merged)
    return outs


def events(outs: Sequence[Outcome]) -> list[str | None]:
    return [o.trace["event"] if o.trace else None for o in outs]


# ------------------------------------------------------------------------ stations in a database
UNITS = {"ph": "1", "conductivity": "uS/cm", "turbidity": "NTU", "transparency": "cm", "orp": "mV",
         "rainfall": "mm/h"}  # fmt: skip
PROPERTIES = tuple(CLEAN)


def add_station(
    session: Session,
    clock: Clock,
    *,
    code: str,
    section: str | None,
    lat: float,
    lng: float,
    properties: Sequence[str] = PROPERTIES,
) -> dict[str, int]:
    """A station Thing at (lat, lng) with one datastream per observed property (the shared
    names), as H1's stations will make them; returns property → datastream id."""
    sensor = entities.create(session=session, model=Sensor, values={"name": f"{code} sensors"})
    props = {
        p.name: p.id
        for p in session.execute(select(ObservedProperty)).scalars()
        if p.name in properties
    }
    for name in properties:
        if name not in props:
            props[name] = entities.create(
                session=session, model=ObservedProperty, values={"name": name}
            ).id
    where = {"river_station": code, **({"section": section} if section else {})}
    thing = entities.create(
        session=session, model=Thing, values={"name": f"水质站 {code}", "properties": where}
    )
    loc = entities.create(
        session=session,
        model=Location,
        values={"name": code, "location": {"type": "Point", "coordinates": [lng, lat]}},
    )
    entities.set_thing_locations(
        session=session, thing_id=thing.id, location_ids=[loc.id], clock=clock
    )
    out: dict[str, int] = {}
    for name in properties:
        unit = UNITS.get(name, "mg/L")
        out[name] = entities.create(
            session=session,
            model=Datastream,
            values={
                "name": f"{code} {name}",
                "unit_of_measurement": {"name": unit, "symbol": unit, "definition": ""},
                "thing_id": thing.id,
                "sensor_id": sensor.id,
                "observed_property_id": props[name],
            },
        ).id
    return out


def readings(
    streams: Mapping[str, int], values: Mapping[str, float], at: datetime
) -> list[Reading]:
    """One sample of a station as engine readings."""
    return [Reading(ds, at, values[name]) for name, ds in streams.items()]


@dataclass
class RiverCity:
    """SmallCity with the two test rivers (测试江 TM, its tributary 测试河 TT) and case rules."""

    sessions: sessionmaker[Session]
    clock: FakeClock
    city: citykit.SmallCity
    rules: Any

    def section(self, code: str) -> Section:
        with self.sessions() as s:
            found = s.execute(select(Section).where(Section.code == code)).scalar_one()
            s.expunge(found)
            return found


def river_city(sessions: sessionmaker[Session], clock: FakeClock) -> RiverCity:
    with sessions.begin() as s:
        city = citykit.build(s)
        seeding.ensure_network(session=s, seed=7, rivers=[MAIN, TRIB], tributaries=())
    with sessions() as s:
        rules = citykit.rules_for(s, clock)
    return RiverCity(sessions, clock, city, rules)
