"""The MQTT door as ``serve`` and ``demo`` run it: readings in, commands out, acks in, events out.

Real Mosquitto, the real sensing store on SQLite and PostgreSQL, ``start_mqtt`` in its own
thread exactly as the CLI starts it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.api.context import AppContext, unit_of_work
from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.sensing import entities, service
from cityops.sensing.models import ActuatorCommand, CommandStatus, Thing
from cityops.sensing.mqtt_runtime import MqttRuntime, start_mqtt
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from tests.sensing.conftest import Network
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import listen, observation, publisher, topic_of, wait_until


def _context(
    engine: Engine, factory: sessionmaker[Session], clock: FakeClock, url: str | None
) -> AppContext:
    return AppContext(Settings(mqtt_url=url), engine, factory, MemoryBus(), clock)


@pytest.fixture
def ctx(
    broker: Broker | str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> AppContext:
    return _context(engine, session_factory, clock, url_of(broker))


@pytest.fixture
def door(ctx: AppContext) -> Iterator[MqttRuntime]:
    runtime = start_mqtt(ctx)
    try:
        assert runtime.wait_connected(), "the MQTT door did not connect"
        yield runtime
    finally:
        runtime.stop()


def _fan(ctx: AppContext) -> int:
    with unit_of_work(ctx) as s:
        fan = entities.create(session=s, model=Thing, values={"name": "exhaust fan 3"})
        fan.is_actuator = True
        fan.command_topic = f"cityops/v1/things/{fan.id}/commands"
        return fan.id


def test_a_reading_on_the_observation_topic_is_stored_and_reaches_the_bus(
    ctx: AppContext, network: Network, door: MqttRuntime
) -> None:
    batches: list[Event] = []
    ctx.bus.subscribe(service.SUBJECT_BATCH, batches.append)
    gas = network.ds_ids[0]
    at = ctx.clock.now() - timedelta(minutes=1)

    async def scenario() -> None:
        pub = await publisher(ctx.settings.mqtt_url or "")
        await pub.publish(topic_of(gas), observation(41.5, at))
        await pub.publish(topic_of(gas), observation(41.5, at))  # a device's retry: stored once
        consumer = door.consumer
        assert consumer is not None
        await wait_until(lambda: consumer.stats.acked == 2, "both messages stored and acked")
        await pub.disconnect()

    asyncio.run(scenario())
    with ctx.sessions() as s:
        stored = s.execute(select(Stored.datastream_id, Stored.result)).all()
    assert [tuple(r) for r in stored] == [(gas, 41.5)]
    assert [(e.data["datastream_id"], e.data["result"]) for e in batches] == [([gas], [41.5])]


def test_a_recorded_command_is_published_and_the_devices_ack_is_recorded(
    ctx: AppContext, door: MqttRuntime
) -> None:
    fan = _fan(ctx)
    url = ctx.settings.mqtt_url or ""
    result: dict[str, int] = {}

    async def scenario() -> None:
        device = await listen(url, f"cityops/v1/things/{fan}/commands", "fan-3")
        events = await listen(url, "cityops/v1/events/actuators/#", "watcher")
        letters = await listen(url, "cityops/v1/deadletter", "operator")
        with unit_of_work(ctx) as s:
            row = service.record_command(
                session=s,
                thing_id=fan,
                command="start",
                payload={"speed": "high"},
                issued_by="plan:septic-h2s",
                clock=ctx.clock,
            )
            result["id"] = row.id
        await wait_until(lambda: len(device.messages) == 1, "the fan to get its command")
        got = device.json()[0]
        assert (got["id"], got["command"], got["parameters"]) == (
            result["id"],
            "start",
            {"speed": "high"},
        )
        assert got["replyTo"] == f"cityops/v1/things/{fan}/commands/ack"
        ack = {"id": got["id"], "status": "done", "detail": "running", "rpm": 1450}
        await device.client.publish(got["replyTo"], json.dumps(ack).encode())
        # an ack for this command from another thing is not taken
        await device.client.publish(
            f"cityops/v1/things/{fan + 1}/commands/ack", json.dumps({"id": got["id"]}).encode()
        )
        await wait_until(lambda: len(letters.messages) == 1, "the stray ack dead-lettered")
        await wait_until(lambda: len(events.messages) == 2, "command and ack as state changes")
        for client in (device.client, events.client, letters.client):
            await client.disconnect()
        assert letters.json()[0]["reason"] == "unknown_command"
        assert [m.topic for m in events.messages] == [
            b"cityops/v1/events/actuators/command",
            b"cityops/v1/events/actuators/ack",
        ]
        assert events.json()[1] == {"id": result["id"], "thing_id": fan, "status": "acked"}

    asyncio.run(scenario())
    with ctx.sessions() as s:
        row = s.get(ActuatorCommand, result["id"])
        assert row is not None
        assert row.status is CommandStatus.acked
        assert row.ack_payload == {"status": "done", "detail": "running", "rpm": 1450}
        assert row.acked_at == ctx.clock.now()
    assert door.stats.commands_sent == 1


def test_a_failed_ack_marks_the_command_failed(ctx: AppContext, door: MqttRuntime) -> None:
    fan = _fan(ctx)
    url = ctx.settings.mqtt_url or ""

    async def scenario() -> int:
        device = await listen(url, f"cityops/v1/things/{fan}/commands", "fan-3")
        with unit_of_work(ctx) as s:
            command_id = service.record_command(
                session=s,
                thing_id=fan,
                command="start",
                payload=None,
                issued_by="op",
                clock=ctx.clock,
            ).id
        await wait_until(lambda: len(device.messages) == 1, "the fan to get its command")
        reply = {"id": command_id, "status": "failed", "detail": "motor jammed"}
        await device.client.publish(device.json()[0]["replyTo"], json.dumps(reply).encode())

        def failed() -> bool:
            with ctx.sessions() as s:
                row = s.get(ActuatorCommand, command_id)
                return row is not None and row.status is CommandStatus.failed

        await wait_until(failed, "the command marked failed")
        await device.client.disconnect()
        return command_id

    command_id = asyncio.run(scenario())
    with ctx.sessions() as s:
        row = s.get(ActuatorCommand, command_id)
        assert row is not None and row.ack_payload == {"status": "failed", "detail": "motor jammed"}


def test_commands_recorded_while_the_broker_is_down_go_out_when_it_is_back(
    broker: Broker | str, ctx: AppContext, door: MqttRuntime
) -> None:
    if not isinstance(broker, Broker):
        pytest.skip("needs a broker this test can restart")
    fan = _fan(ctx)
    broker.stop()
    with unit_of_work(ctx) as s:
        ids = [
            service.record_command(
                session=s, thing_id=fan, command=c, payload=None, issued_by="op", clock=ctx.clock
            ).id
            for c in ("start", "stop")
        ]
    broker.start()

    async def scenario() -> list[object]:
        device = await listen(broker.url, f"cityops/v1/things/{fan}/commands", "fan-3")
        await wait_until(lambda: len(device.messages) == 2, "both commands after the restart")
        await device.client.disconnect()
        return [(m["id"], m["command"]) for m in device.json()]

    assert asyncio.run(scenario()) == [(ids[0], "start"), (ids[1], "stop")]


def test_unacknowledged_commands_of_a_stopped_process_go_out_when_the_door_starts_again(
    ctx: AppContext, clock: FakeClock
) -> None:
    """A command recorded just before a restart (never published) is not lost; an acknowledged
    one and one older than ``mqtt_command_resend_minutes`` are not sent again."""
    fan = _fan(ctx)

    def record(command: str) -> int:
        with unit_of_work(ctx) as s:
            return service.record_command(
                session=s, thing_id=fan, command=command, payload=None, issued_by="op", clock=clock
            ).id

    record("start")  # 20 minutes ago: the situation has moved on since
    clock.advance(timedelta(minutes=18))
    done = record("stop")
    with unit_of_work(ctx) as s:
        service.ack_command(session=s, command_id=done, ok=True, payload=None, clock=clock)
    waiting = record("start")  # the process stopped before its door published this one
    clock.advance(timedelta(minutes=2))
    url = ctx.settings.mqtt_url or ""

    async def listen_for_it() -> object:
        device = await listen(url, f"cityops/v1/things/{fan}/commands", "fan-3")
        runtime = start_mqtt(ctx)
        try:
            await wait_until(lambda: len(device.messages) >= 1, "the waiting command")
            await asyncio.sleep(0.3)  # anything else would have followed it by now
        finally:
            await asyncio.to_thread(runtime.stop)
            await device.client.disconnect()
        return [(m["id"], m["command"]) for m in device.json()]

    assert asyncio.run(listen_for_it()) == [(waiting, "start")]  # not the stale, not the acked


def test_alarm_and_case_changes_are_published_for_subscribers(
    ctx: AppContext, door: MqttRuntime
) -> None:
    url = ctx.settings.mqtt_url or ""

    async def scenario() -> None:
        watcher = await listen(url, "cityops/v1/events/#", "watcher")
        ctx.bus.publish(Event("alarms.raised", {"alarm": 7, "severity": "red", "plan": "h2s"}))
        ctx.bus.publish(Event("observations.batch", {"count": 1}))  # not a state change
        ctx.bus.publish(Event("cases.filed", {"case": "CQ-2026-000001"}))
        await wait_until(lambda: len(watcher.messages) == 2, "two state changes")
        await asyncio.sleep(0.2)  # and nothing else
        await watcher.client.disconnect()
        assert [(m.topic, json.loads(m.payload)) for m in watcher.messages] == [
            (b"cityops/v1/events/alarms/raised", {"alarm": 7, "severity": "red", "plan": "h2s"}),
            (b"cityops/v1/events/cases/filed", {"case": "CQ-2026-000001"}),
        ]

    asyncio.run(scenario())


def test_without_a_broker_url_start_mqtt_does_nothing(
    engine: Engine, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = _context(engine, session_factory, clock, None)
    before = threading.active_count()
    runtime = start_mqtt(ctx)
    assert not runtime.enabled and runtime.consumer is None
    assert threading.active_count() == before
    with unit_of_work(ctx) as s:  # a command is still recorded; nothing tries to send it
        fan = entities.create(
            session=s,
            model=Thing,
            values={"name": "fan", "is_actuator": True, "command_topic": "cmd/fan"},
        )
        service.record_command(
            session=s, thing_id=fan.id, command="start", payload=None, issued_by="op", clock=clock
        )
    runtime.stop()
    assert runtime.stats.commands_sent == 0


def test_a_broker_url_that_is_not_mqtt_fails_at_start(
    engine: Engine, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = _context(engine, session_factory, clock, "https://broker.example:8883")
    with pytest.raises(ValueError, match="mqtt://"):
        start_mqtt(ctx)
