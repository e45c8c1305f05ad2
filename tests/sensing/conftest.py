"""Sensing fixtures: a small network of things and datastreams on each backend."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.sensing import entities
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservationType,
    ObservedProperty,
    Sensor,
    Thing,
)


@dataclass
class Network:
    thing_ids: list[int]
    ds_ids: list[int]  # numeric datastreams, one per thing
    truth_id: int  # a non-numeric (truth) datastream on the first thing


def build_network(session: Session, clock: FakeClock, n: int = 3) -> Network:
    sensor = entities.create(session=session, model=Sensor, values={"name": "gas sensor"})
    prop = entities.create(
        session=session, model=ObservedProperty, values={"name": "CH4", "definition": "ch4"}
    )
    things: list[int] = []
    streams: list[int] = []
    for i in range(n):
        thing = entities.create(session=session, model=Thing, values={"name": f"tank {i}"})
        loc = entities.create(
            session=session,
            model=Location,
            values={
                "name": f"tank {i}",
                "location": {"type": "Point", "coordinates": [106.5 + i * 0.1, 29.5 + i * 0.1]},
            },
        )
        entities.set_thing_locations(
            session=session, thing_id=thing.id, location_ids=[loc.id], clock=clock
        )
        ds = entities.create(
            session=session,
            model=Datastream,
            values={
                "name": f"CH4 {i}",
                "unit_of_measurement": {"name": "percent LEL", "symbol": "%LEL", "definition": ""},
                "thing_id": thing.id,
                "sensor_id": sensor.id,
                "observed_property_id": prop.id,
            },
        )
        things.append(thing.id)
        streams.append(ds.id)
    truth = entities.create(
        session=session,
        model=Datastream,
        values={
            "name": "fan running",
            "unit_of_measurement": {"name": "", "symbol": "", "definition": ""},
            "observation_type": ObservationType.truth.value,
            "thing_id": things[0],
            "sensor_id": sensor.id,
            "observed_property_id": prop.id,
        },
    )
    return Network(things, streams, truth.id)


@pytest.fixture
def network(session_factory: sessionmaker[Session], clock: FakeClock) -> Network:
    with session_factory() as s, s.begin():
        return build_network(s, clock)
