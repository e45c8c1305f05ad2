"""Commands to actuators and their acknowledgements; state changes for subscribers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cityops.bus.memory import Event, MemoryBus
from cityops.sensing.mqtt_commands import EventForwarder, send_command
from cityops.sensing.mqtt_store import SqliteReadingStore
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import T0, listen, publisher, start_consumer, wait_until


def test_a_command_reaches_the_device_and_its_ack_is_recorded(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    fan_on = store.record_command(
        thing_id=42, command="fan.start", parameters={"speed": "high"}, issued_at=T0
    )
    other = store.record_command(thing_id=43, command="fan.start", parameters={}, issued_at=T0)

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), store, commands=store)
        device = await listen(url_of(broker), "cityops/v1/things/42/commands", "fan-42")
        letters = await listen(url_of(broker), "cityops/v1/deadletter")
        hub = await publisher(url_of(broker), "hub")
        await send_command(hub, fan_on)

        await wait_until(lambda: len(device.messages) == 1, "the device to get the command")
        got = device.json()[0]
        assert (got["id"], got["command"], got["parameters"]) == (
            fan_on.id,
            "fan.start",
            {"speed": "high"},
        )
        reply = json.dumps({"id": got["id"], "status": "done", "detail": "running at 1450 rpm"})
        await device.client.publish(got["replyTo"], reply.encode())
        await device.client.publish(got["replyTo"], json.dumps({"id": fan_on.id + 99}).encode())
        await device.client.publish(got["replyTo"], json.dumps({"id": other.id}).encode())
        await wait_until(lambda: len(letters.messages) == 2, "the stray acks dead-lettered")
        for client in (device.client, letters.client, hub):
            await client.disconnect()
        await running.close()
        # no such command; a command, but not this thing's
        assert [x["reason"] for x in letters.json()] == ["unknown_command"] * 2
        assert running.consumer.stats.acks_recorded == 1

    asyncio.run(scenario())
    row = store.command(fan_on.id)
    assert row is not None
    assert (row["thing_id"], row["status"], json.loads(row["ack_payload"])) == (
        42,
        "acked",
        {"status": "done", "detail": "running at 1450 rpm"},
    )
    assert row["acked_at"] == T0.isoformat()
    unacked = store.command(other.id)
    assert unacked is not None and unacked["status"] == "sent"


def test_state_changes_on_the_bus_are_published_for_subscribers(broker: Broker | str) -> None:
    bus = MemoryBus()

    async def scenario() -> None:
        watcher = await listen(url_of(broker), "cityops/v1/events/#")
        hub = await publisher(url_of(broker), "hub")
        forwarder = EventForwarder(hub, asyncio.get_running_loop())
        detach = forwarder.attach(bus, ["alarms.*"])
        bus.publish(Event("alarms.raised", {"alarm": 7, "severity": "red", "source": "tank-3"}))
        bus.publish(Event("cases.filed", {"case": 1}))  # not forwarded
        bus.publish(Event("alarms.cleared", {"alarm": 7}))
        await wait_until(lambda: len(watcher.messages) == 2, "two alarm events")
        detach()
        for client in (watcher.client, hub):
            await client.disconnect()
        assert [m.topic for m in watcher.messages] == [
            b"cityops/v1/events/alarms/raised",
            b"cityops/v1/events/alarms/cleared",
        ]
        assert watcher.json()[0] == {"alarm": 7, "severity": "red", "source": "tank-3"}
        assert forwarder.forwarded == 2

    asyncio.run(scenario())
