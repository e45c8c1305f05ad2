"""Entity CRUD keeps derived data straight; actuator commands and acks are recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import Component
from cityops.sensing import entities, service
from cityops.sensing.models import (
    ActuatorCommand,
    CommandStatus,
    Datastream,
    HistoricalLocation,
    Location,
    Observation,
    Sensor,
    Thing,
)
from cityops.sensing.recent import READ_MODEL as Stored
from tests.sensing.conftest import Network


def test_datastreams_follow_their_things_location(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    thing, ds = network.thing_ids[0], network.ds_ids[0]
    with session_factory() as s, s.begin():
        moved = entities.create(
            session=s,
            model=Location,
            values={
                "name": "new pit",
                "location": {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [106.9, 29.9]},
                },
            },
        )
        assert (moved.lat, moved.lng) == (29.9, 106.9)
        clock.advance(timedelta(minutes=5))
        entities.set_thing_locations(
            session=s, thing_id=thing, location_ids=[moved.id], clock=clock
        )
    with session_factory() as s:
        row = s.get(Datastream, ds)
        assert row is not None and (row.lat, row.lng) == (29.9, 106.9)
        history = s.scalars(
            select(HistoricalLocation.time).where(HistoricalLocation.thing_id == thing)
        ).all()
        assert len(history) == 2 and max(history) == clock.now()
    with session_factory() as s, s.begin():
        entities.update_(
            session=s,
            model=Location,
            id=moved.id,
            values={"location": '{"type": "Point", "coordinates": [106.1, 29.1]}'},
        )
    with session_factory() as s:
        row = s.get(Datastream, ds)
        assert row is not None and (row.lat, row.lng) == (29.1, 106.1)


def test_a_thing_links_to_its_component(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        comp = Component(
            ident="50010700000000001",
            name="化粪池",
            category_code="010199",
            grid_code="500107001001",
            lat=29.5,
            lng=106.5,
        )
        s.add(comp)
        s.flush()
        thing = entities.create(
            session=s, model=Thing, values={"name": "tank gas", "component_id": comp.id}
        )
        assert thing.component_id == comp.id
        with pytest.raises(ValidationFailed):
            entities.create(session=s, model=Thing, values={"name": "x", "component_id": 10**6})
        with pytest.raises(ValidationFailed):
            entities.create(session=s, model=Thing, values={"name": "x", "colour": "red"})


def test_deleting_a_thing_takes_its_datastreams_and_readings(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    thing = network.thing_ids[0]
    with session_factory() as s, s.begin():
        service.ingest(
            session=s,
            readings=[
                [network.ds_ids[0], clock.now().isoformat(), 1.0],
                [network.ds_ids[1], clock.now().isoformat(), 1.0],
            ],
            clock=clock,
        )
    with session_factory() as s, s.begin():
        entities.delete_(session=s, model=Thing, id=thing)
    with session_factory() as s:
        assert s.get(Datastream, network.ds_ids[0]) is None
        assert s.get(Datastream, network.truth_id) is None
        left = s.scalars(select(Stored.datastream_id)).all()
        assert left == [network.ds_ids[1]]
    with session_factory() as s, s.begin(), pytest.raises(ValidationFailed):
        sensor_id = s.scalar(select(Datastream.sensor_id).limit(1))
        assert sensor_id is not None
        entities.delete_(session=s, model=Sensor, id=sensor_id)  # still used
    with session_factory() as s, pytest.raises(NotFound):
        entities.get(session=s, model=Thing, id=thing)


def test_commands_and_acks_are_recorded(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    with session_factory() as s, s.begin():
        fan = entities.create(
            session=s,
            model=Thing,
            values={"name": "exhaust fan", "is_actuator": True, "command_topic": "cmd/fan/1"},
        )
        cmd = service.record_command(
            session=s,
            thing_id=fan.id,
            command="start",
            payload={"speed": 2},
            issued_by="plan:septic-gas",
            clock=clock,
        )
        events = list(s.info["events"])
        with pytest.raises(ValidationFailed):
            service.record_command(
                session=s,
                thing_id=network.thing_ids[0],  # a gas sensor, not an actuator
                command="start",
                payload=None,
                issued_by="admin",
                clock=clock,
            )
    assert events[0].subject == "actuators.command"
    assert events[0].data["topic"] == "cmd/fan/1"
    clock.advance(timedelta(seconds=2))
    with session_factory() as s, s.begin():
        service.ack_command(
            session=s, command_id=cmd.id, ok=True, payload={"rpm": 900}, clock=clock
        )
    with session_factory() as s:
        row = s.get(ActuatorCommand, cmd.id)
        assert row is not None
        assert row.status == CommandStatus.acked and row.acked_at == clock.now()
        assert row.ack_payload == {"rpm": 900} and row.issued_by == "plan:septic-gas"
        assert s.scalar(select(func.count()).select_from(ActuatorCommand)) == 1
    first_ack = clock.now()
    clock.advance(timedelta(seconds=5))
    with session_factory() as s, s.begin():  # the same ack again: a QoS 1 redelivery
        service.ack_command(
            session=s, command_id=cmd.id, ok=True, payload={"rpm": 900}, clock=clock
        )
        assert "events" not in s.info or not s.info["events"]
    with session_factory() as s:
        row = s.get(ActuatorCommand, cmd.id)
        assert row is not None and row.acked_at == first_ack
    with session_factory() as s, s.begin():  # a different answer is recorded
        service.ack_command(session=s, command_id=cmd.id, ok=False, payload=None, clock=clock)
        assert [e.subject for e in s.info["events"]] == ["actuators.ack"]
    with session_factory() as s:
        row = s.get(ActuatorCommand, cmd.id)
        assert row is not None and row.status == CommandStatus.failed
        assert row.acked_at == clock.now() != first_ack
    with session_factory() as s, pytest.raises(NotFound):
        service.ack_command(session=s, command_id=999, ok=False, payload=None, clock=clock)


def test_a_single_observation_created_as_an_entity_dedupes_with_the_intake(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    when = clock.now() - timedelta(days=2)  # a day no batch has written yet
    with session_factory() as s, s.begin():
        obs = entities.create(
            session=s,
            model=Observation,
            values={"datastream_id": ds, "phenomenon_time": when, "result": 4.5},
        )
        assert obs.id
        with pytest.raises(ValidationFailed):
            entities.create(
                session=s,
                model=Observation,
                values={"datastream_id": 10**6, "phenomenon_time": when, "result": 1.0},
            )
    with session_factory() as s, s.begin():
        res = service.ingest(session=s, readings=[[ds, when.isoformat(), 9.9]], clock=clock)
    assert (res.stored, res.duplicates) == (0, 1)
    with session_factory() as s:
        got = entities.get(session=s, model=Observation, id=obs.id)
        assert got.result == 4.5 and got.phenomenon_time == when
