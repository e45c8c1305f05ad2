"""Observations through a real Mosquitto: stored once, acknowledged only after the store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from cityops.clock import FakeClock
from cityops.sensing.mqtt import IngestOutcome, MqttConsumer
from cityops.sensing.mqtt_payload import Reading
from cityops.sensing.mqtt_store import SqliteReadingStore
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import (
    T0,
    Running,
    listen,
    observation,
    publisher,
    start_consumer,
    topic_of,
    wait_until,
)


def us(moment: object) -> int:
    from datetime import datetime

    assert isinstance(moment, datetime)
    return round(moment.timestamp() * 1e6)


def test_observations_on_a_datastream_topic_are_stored(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), store)
        pub = await publisher(url_of(broker))
        await pub.publish(topic_of(7), observation(21.5, T0 - timedelta(minutes=2)))
        await pub.publish(
            topic_of(7),
            observation(
                22,
                T0 - timedelta(minutes=1),
                resultTime=T0.isoformat(),
                parameters={"battery": 0.91},
            ),
        )
        span = f"{(T0 - timedelta(seconds=30)).isoformat()}/{T0.isoformat()}"
        await pub.publish(
            topic_of(8), json.dumps({"result": "open", "phenomenonTime": span}).encode()
        )
        await wait_until(lambda: store.count() == 3, "three observations stored")
        await pub.disconnect()
        await running.close()
        assert running.consumer.stats.acked == 3
        assert running.consumer.stats.dead_letters == 0

    asyncio.run(scenario())
    assert store.observations(7) == [
        (us(T0 - timedelta(minutes=2)), 21.5),
        (us(T0 - timedelta(minutes=1)), 22),
    ]
    assert store.observations(8) == [(us(T0 - timedelta(seconds=30)), "open")]


def test_bulk_rows_are_stored_and_a_repeated_message_stored_once(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    ms = round(T0.timestamp() * 1000)
    bare = [[1, ms - 1000 * k, 10.0 + k] for k in range(50)]
    wrapped = {"id": "gateway-9/000123", "rows": [[2, (T0 - timedelta(seconds=5)).isoformat(), 3]]}

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), store)
        pub = await publisher(url_of(broker))
        await pub.publish("cityops/v1/bulk", json.dumps(bare).encode())
        await pub.publish("cityops/v1/bulk", json.dumps(wrapped).encode())
        await wait_until(lambda: store.count() == 51, "51 readings stored")
        await pub.publish("cityops/v1/bulk", json.dumps(bare).encode())  # the sender retried
        await wait_until(lambda: running.consumer.stats.duplicates == 50, "the repeat deduped")
        await pub.disconnect()
        await running.close()

    asyncio.run(scenario())
    assert store.count() == 51
    assert store.observations(1)[-1] == (ms * 1000, 10.0)
    assert store.observations(2) == [(us(T0 - timedelta(seconds=5)), 3)]
    ids = [
        r[0]
        for r in store.conn.execute("SELECT message_id FROM observation WHERE datastream_id = 2")
    ]
    assert ids == ["gateway-9/000123:0"]


class CrashAfterCommit:
    """Stores the first batch, then kills the connection before the consumer can ack it."""

    def __init__(self, store: SqliteReadingStore) -> None:
        self.store = store
        self.crashes = 0
        self.kill: object = None

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        outcome = self.store(readings)
        if self.crashes == 0:
            self.crashes = 1
            assert callable(self.kill)
            self.kill()
        return outcome


def test_a_crash_after_the_commit_but_before_the_ack_loses_nothing_and_stores_once(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    total = 2000

    async def scenario() -> None:
        # The consumer's persistent session exists, then it is away while devices publish.
        first = await start_consumer(url_of(broker), store, client_id="intake-A")
        await first.close()
        pub = await publisher(url_of(broker))
        for n in range(total):
            at = T0 - timedelta(seconds=n)
            await pub.publish(topic_of(n % 10 + 1), observation(float(n), at), qos=1)
        await pub.disconnect()

        crashing = CrashAfterCommit(store)
        loop = asyncio.get_running_loop()
        consumer = MqttConsumer(
            url=url_of(broker),
            handler=crashing,
            clock=FakeClock(T0),
            client_id="intake-A",
            batch_size=500,  # the crash comes after the first of several batches
        )
        stop = asyncio.Event()

        def kill() -> None:  # from the store's thread: drop the socket, stop the process
            assert consumer.client is not None
            loop.call_soon_threadsafe(consumer.client.abort)
            loop.call_soon_threadsafe(stop.set)

        crashing.kill = kill
        running = Running(consumer, stop, asyncio.ensure_future(consumer.run(stop)))
        await wait_until(lambda: running.task.done(), "the crashed consumer to stop")
        crashed_with = store.count()
        assert 0 < crashed_with < total
        assert running.consumer.stats.acked == 0

        again = await start_consumer(url_of(broker), store, client_id="intake-A")
        await wait_until(lambda: store.count() == total, "every reading stored")
        await wait_until(lambda: again.consumer.stats.acked >= total, "all acknowledged")
        await again.close()
        # The broker delivered the unacknowledged batch again; the store kept one copy.
        assert again.consumer.stats.duplicates >= crashed_with

    asyncio.run(scenario())
    assert store.count() == total


class FailsTwice:
    def __init__(self, store: SqliteReadingStore) -> None:
        self.store, self.calls = store, 0

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        self.calls += 1
        if self.calls <= 2:
            raise RuntimeError("database is locked")
        return self.store(readings)


def test_a_failing_store_is_retried_and_nothing_is_lost(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    flaky = FailsTwice(store)

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), flaky, retry_delays=(0.01,))
        pub = await publisher(url_of(broker))
        for n in range(20):
            await pub.publish(topic_of(3), observation(n, T0 - timedelta(seconds=n)))
        await wait_until(lambda: store.count() == 20, "all 20 stored after the retries")
        await pub.disconnect()
        await running.close()
        assert running.consumer.stats.store_failures == 2
        assert running.consumer.stats.dead_letters == 0

    asyncio.run(scenario())


class TripsOn:
    """The real store, with a bug that fires on one datastream's readings (any batch with one)."""

    def __init__(self, store: SqliteReadingStore, datastream: int) -> None:
        self.store, self.datastream = store, datastream

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        if any(r.datastream_id == self.datastream for r in readings):
            raise ValueError("a bug that this one payload trips")
        return self.store(readings)


class DownFor:
    """A store that fails every call, empty ones too, ``calls`` times, then works."""

    def __init__(self, store: SqliteReadingStore, calls: int) -> None:
        self.store, self.left = store, calls

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        if self.left > 0:
            self.left -= 1
            raise RuntimeError("unable to open database file")
        return self.store(readings)


def test_one_message_that_always_fails_is_dead_lettered_and_the_rest_stored(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")

    async def scenario() -> None:
        letters = await listen(url_of(broker), "cityops/v1/deadletter")
        running = await start_consumer(
            url_of(broker), TripsOn(store, 13), retry_delays=(0.01,), linger=0.2
        )
        pub = await publisher(url_of(broker))
        for n in range(10):  # one batch (linger), ds 13 in the middle of it
            await pub.publish(
                topic_of(13 if n == 5 else 3), observation(n, T0 - timedelta(seconds=n))
            )
        await wait_until(lambda: store.count() == 9, "the nine good readings")
        await wait_until(lambda: len(letters.messages) == 1, "the bad one dead-lettered")
        await wait_until(lambda: running.consumer.stats.acked == 10, "all ten acknowledged")
        await pub.disconnect()
        await letters.client.disconnect()
        await running.close()
        (letter,) = letters.json()
        assert letter["topic"] == topic_of(13)
        assert letter["reason"] == "store_failed"
        assert "this one payload" in letter["detail"]
        assert running.consumer.stats.reasons["store_failed"] == 1

    asyncio.run(scenario())


def test_a_store_that_is_down_dead_letters_nothing(broker: Broker | str, tmp_path: Path) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")

    async def scenario() -> None:
        down = DownFor(store, 12)  # several rounds of retries and message-by-message tries
        running = await start_consumer(url_of(broker), down, retry_delays=(0.01,), linger=0.2)
        pub = await publisher(url_of(broker))
        for n in range(10):
            await pub.publish(topic_of(3), observation(n, T0 - timedelta(seconds=n)))
        await wait_until(lambda: store.count() == 10, "all ten once the store is back")
        await pub.disconnect()
        await running.close()
        assert down.left == 0
        assert running.consumer.stats.dead_letters == 0
        assert running.consumer.stats.store_failures >= 3

    asyncio.run(scenario())


def test_a_clean_stop_leaves_nothing_unacknowledged(broker: Broker | str, tmp_path: Path) -> None:
    """The last batch's PUBACKs reach the broker before we hang up (no redelivery on restart)."""
    store = SqliteReadingStore(tmp_path / "s.db")
    total = 20_000

    async def scenario() -> None:
        first = await start_consumer(url_of(broker), store, client_id="intake-B")
        await first.close()
        pub = await publisher(url_of(broker))
        for n in range(total):  # queued for the absent consumer
            pub.publish_nowait(topic_of(n % 50 + 1), observation(n, T0 - timedelta(seconds=n)))
        await pub.ping()
        running = await start_consumer(url_of(broker), store, client_id="intake-B")
        await wait_until(lambda: running.consumer.stats.stored == total, "the backlog stored")
        await running.close()  # stops right after the last batch is stored

        again = await start_consumer(url_of(broker), store, client_id="intake-B")
        await pub.publish(topic_of(99), observation(1, T0))  # a marker after any redelivery
        await wait_until(lambda: store.count() == total + 1, "the marker")
        await pub.disconnect()
        await again.close()
        assert again.consumer.stats.received == 1

    asyncio.run(scenario())


def test_the_consumer_reconnects_when_the_broker_comes_back(
    broker: Broker | str, tmp_path: Path
) -> None:
    if not isinstance(broker, Broker):
        pytest.skip("needs a broker this test can restart")
    store = SqliteReadingStore(tmp_path / "s.db")

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), store)
        pub = await publisher(url_of(broker))
        await pub.publish(topic_of(1), observation(1, T0 - timedelta(seconds=2)))
        await wait_until(lambda: store.count() == 1, "the first reading")
        await pub.disconnect()
        broker.stop()
        await wait_until(lambda: not running.consumer.connected.is_set(), "the loss noticed")
        broker.start()
        await asyncio.wait_for(running.consumer.connected.wait(), 30)
        pub = await publisher(url_of(broker))
        await pub.publish(topic_of(1), observation(2, T0 - timedelta(seconds=1)))
        await wait_until(lambda: store.count() == 2, "the reading after the restart")
        await pub.disconnect()
        await running.close()
        assert running.consumer.stats.connects == 2

    asyncio.run(scenario())
