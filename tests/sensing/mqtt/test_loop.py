"""The seed's loop through MQTT: a gas reading on the broker starts the fan over the broker.

Device → ``v1.1/Datastreams(<id>)/Observations`` → sensing store → bus → rules engine →
``record_command`` → ``cityops/v1/things/<fan>/commands`` → the fan's ack → ``ActuatorCommand``
acked; the alarm is published on ``cityops/v1/events/alarms/...``. Real Mosquitto, the shipped
septic plans, both databases.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import Engine, select

from cityops.api.context import AppContext
from cityops.automation import start_automation
from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.sensing.models import (
    ActuatorCommand,
    CommandStatus,
    Thing,
)
from cityops.sensing.mqtt_runtime import start_mqtt
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests import citykit
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import listen, observation, publisher, topic_of, wait_until
from tests.tanks import tank_with_fan


def _tank(ctx: AppContext) -> tuple[int, int]:
    """A septic tank 部件 with a methane detector and an exhaust fan: (datastream, fan)."""
    with ctx.sessions.begin() as s:
        citykit.build(s)
        ds, fan_id = tank_with_fan(s)
        fan = s.get(Thing, fan_id)
        assert fan is not None
        fan.command_topic = f"cityops/v1/things/{fan.id}/commands"
        return ds, fan_id


def test_gas_over_mqtt_starts_the_fan_over_mqtt_and_its_ack_is_recorded(
    broker: Broker | str, engine: Engine, clock: FakeClock
) -> None:
    url = url_of(broker)
    settings = Settings(secret_key="test-secret-key-0123456789abcdef", mqtt_url=url)
    ctx = AppContext(settings, engine, make_session_factory(engine), MemoryBus(), clock)
    ds, fan = _tank(ctx)
    auto = start_automation(ctx, tick_seconds=0.05)
    door = start_mqtt(ctx)
    try:
        assert door.wait_connected()

        async def scenario() -> None:
            device = await listen(url, f"cityops/v1/things/{fan}/commands", "fan")
            alarms = await listen(url, "cityops/v1/events/alarms/#", "duty-officer")
            detector = await publisher(url, "detector")
            now = clock.now()
            await detector.publish(topic_of(ds), observation(6.0, now - timedelta(minutes=1)))
            await detector.publish(topic_of(ds), observation(31.0, now))  # over 25 %LEL
            await wait_until(lambda: len(device.messages) == 1, "the fan to be told to start")
            command = device.json()[0]
            assert command["command"] == "on"
            ack = {"id": command["id"], "status": "done", "detail": "fan running"}
            await device.client.publish(command["replyTo"], json.dumps(ack).encode())
            await wait_until(lambda: len(alarms.messages) >= 1, "the alarm for subscribers")
            raised = alarms.json()[0]
            assert alarms.messages[0].topic == b"cityops/v1/events/alarms/raised"
            assert (raised["plan"], raised["severity"]) == ("septic-ch4", "orange")

            def acked() -> bool:
                with ctx.sessions() as s:
                    return s.scalar(select(ActuatorCommand.status)) is CommandStatus.acked

            await wait_until(acked, "the fan's ack recorded")
            for client in (device.client, alarms.client, detector):
                await client.disconnect()

        asyncio.run(scenario())
    finally:
        door.stop()
        auto.stop()
    with ctx.sessions() as s:
        (row,) = s.execute(select(ActuatorCommand)).scalars()
    assert (row.thing_id, row.command, row.status) == (fan, "on", CommandStatus.acked)
    assert row.ack_payload == {"status": "done", "detail": "fan running"}
