"""MQTT into the real sensing store (SQLite and PostgreSQL): stored once, refused with reasons."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.sensing.mqtt_ingest import SensingIngest
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from tests.sensing.conftest import Network
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import (
    listen,
    observation,
    publisher,
    start_consumer,
    topic_of,
    wait_until,
)


def test_mqtt_readings_land_in_the_sensing_store_once(
    broker: Broker | str,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    network: Network,
) -> None:
    bus = MemoryBus()
    batches: list[Event] = []
    bus.subscribe("observations.batch", batches.append)
    handler = SensingIngest(factory=session_factory, clock=clock, settings=Settings(), bus=bus)
    gas, other = network.ds_ids[0], network.ds_ids[1]
    now = clock.now()
    ms = round(now.timestamp() * 1000)

    def count() -> int:
        with session_factory() as s:
            return int(s.scalar(select(func.count()).select_from(Stored)) or 0)

    async def scenario() -> None:
        letters = await listen(url_of(broker), "cityops/v1/deadletter")
        running = await start_consumer(url_of(broker), handler, clock=clock)
        pub = await publisher(url_of(broker))
        await pub.publish(topic_of(gas), observation(12.5, now - timedelta(minutes=1)))
        await pub.publish(topic_of(gas), observation(12.5, now - timedelta(minutes=1)))  # again
        rows = [[other, ms - 2000, 3.0], [other, ms - 1000, 4.0], [999_999, ms, 1.0]]
        await pub.publish("cityops/v1/bulk", json.dumps({"id": "gw-1/7", "rows": rows}).encode())
        await pub.publish(topic_of(gas), observation("high", now))  # text on a numeric stream
        await wait_until(lambda: len(letters.messages) == 2, "two dead letters")
        await wait_until(lambda: count() == 3, "three readings stored")
        await pub.disconnect()
        await letters.client.disconnect()
        await running.close()
        assert running.consumer.stats.duplicates == 1
        bulk_letter, text_letter = letters.json()
        assert [(r["row"], r["reason"]) for r in bulk_letter["rejected"]] == [
            (2, "unknown_datastream")
        ]
        assert bulk_letter["accepted"] == 2
        assert text_letter["reason"] == "wrong_type"

    asyncio.run(scenario())
    with session_factory() as s:
        stored = s.execute(
            select(Stored.datastream_id, Stored.result).order_by(
                Stored.datastream_id, Stored.phenomenon_time
            )
        ).all()
    assert [tuple(r) for r in stored] == [(gas, 12.5), (other, 3.0), (other, 4.0)]
    assert batches  # the store's observations.batch event, published after each commit
