"""The consumer from settings, and several consumers splitting the topics."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from cityops.clock import FakeClock
from cityops.sensing.mqtt_runtime import consumer_from_settings
from cityops.sensing.mqtt_store import SqliteReadingStore
from cityops.settings import Settings
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import (
    T0,
    observation,
    publisher,
    start_consumer,
    topic_of,
    wait_until,
)


def test_settings_make_the_consumer(tmp_path: Path) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    with pytest.raises(ValueError, match="CITYOPS_MQTT_URL"):
        consumer_from_settings(Settings(), handler=store, clock=FakeClock(T0))
    settings = Settings(
        mqtt_url="mqtt://127.0.0.1:1883",
        mqtt_share_group="intake",
        mqtt_max_bulk_rows=50,
        sensing_max_future_seconds=60,
    )
    consumer = consumer_from_settings(settings, handler=store, clock=FakeClock(T0))
    assert [f for f, _ in consumer.filters] == [
        "$share/intake/v1.1/+/Observations",
        "$share/intake/cityops/v1/bulk",
    ]
    assert consumer.limits.max_rows == 50
    assert consumer.limits.max_lead == timedelta(seconds=60)


def test_two_consumers_in_a_share_group_split_the_stream_and_store_it_once(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    total = 400

    async def scenario() -> None:
        first = await start_consumer(url_of(broker), store, client_id="a", share_group="g")
        second = await start_consumer(url_of(broker), store, client_id="b", share_group="g")
        pub = await publisher(url_of(broker))
        for n in range(total):
            await pub.publish(topic_of(n % 4 + 1), observation(n, T0 - timedelta(seconds=n)))
        await wait_until(lambda: store.count() == total, "every reading")
        await pub.disconnect()
        for running in (first, second):
            await running.close()
        a, b = first.consumer.stats, second.consumer.stats
        assert a.received + b.received == total
        assert a.received > 0 and b.received > 0
        assert a.duplicates + b.duplicates == 0

    asyncio.run(scenario())
