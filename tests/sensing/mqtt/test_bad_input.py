"""Bad input goes to the dead-letter topic with its reason; the consumer keeps going."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cityops.sensing.mqtt_payload import Limits
from cityops.sensing.mqtt_store import SqliteReadingStore
from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import (
    T0,
    listen,
    observation,
    publisher,
    start_consumer,
    topic_of,
    wait_until,
)

AT = (T0 - timedelta(minutes=1)).isoformat()


def test_each_kind_of_bad_message_is_dead_lettered_with_its_reason(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db", datastreams=[1, 2])
    ms = round(T0.timestamp() * 1000)
    bad: list[tuple[str, bytes, str]] = [
        (topic_of(1), b'{"result": 1, "phenomenonTime": ', "malformed"),
        (topic_of(1), b'{"result": NaN, "phenomenonTime": "%s"}' % AT.encode(), "not_finite"),
        (topic_of(1), b'{"result": Infinity, "phenomenonTime": "%s"}' % AT.encode(), "not_finite"),
        (topic_of(1), json.dumps({"phenomenonTime": AT}).encode(), "malformed"),
        (topic_of(1), json.dumps({"result": 1, "phenomenonTime": [AT]}).encode(), "wrong_type"),
        (topic_of(1), json.dumps([1, AT]).encode(), "wrong_type"),
        (topic_of(1), observation(1, T0 + timedelta(days=3)), "time_in_future"),
        (topic_of(1), observation(1, T0 - timedelta(days=3000)), "time_too_old"),
        (topic_of(1), b'{"result": 1, "phenomenonTime": "yesterday"}', "malformed"),
        (topic_of(1), b'{"result": 1, "phenomenonTime": "2026-11-25T11:00:00"}', "malformed"),
        (topic_of(999), observation(1, T0), "unknown_datastream"),
        ("v1.1/MultiDatastreams(1)/Observations", observation(1, T0), "unknown_topic"),
        (topic_of(1), b'{"result": "' + b"x" * 5000 + b'", "phenomenonTime": "x"}', "too_large"),
        (topic_of(1), b"\xff\xfe\x00garbage", "malformed"),
        ("cityops/v1/bulk", json.dumps({"rows": "nope"}).encode(), "wrong_type"),
        ("cityops/v1/bulk", json.dumps([[1, ms, 1.0]] * 201).encode(), "too_large"),
        # JSON integers have no size limit; none of these may stop the door
        (topic_of(1), json.dumps({"result": 1, "phenomenonTime": 10**400}).encode(), "malformed"),
        (topic_of(1), json.dumps({"result": 10**400, "phenomenonTime": AT}).encode(), "not_finite"),
    ]
    mixed = [[1, ms - 1000, 1.5], ["one", ms, 2.0], [2, ms, None], [404, ms, 3.0], [2, ms - 5, 4.0]]
    mixed += [[10**400, ms, 1.0], [2, 10**400, 1.0], [2, ms - 7, 10**400]]

    async def scenario() -> None:
        letters = await listen(url_of(broker), "cityops/v1/deadletter")
        running = await start_consumer(
            url_of(broker), store, limits=Limits(max_payload_bytes=4096, max_rows=200)
        )
        pub = await publisher(url_of(broker))
        for topic, payload, _ in bad:
            await pub.publish(topic, payload)
        await pub.publish("cityops/v1/bulk", json.dumps(mixed).encode())
        await pub.publish(topic_of(2), observation(7.5, T0))  # after all that, a good one
        await wait_until(lambda: len(letters.messages) == len(bad) + 1, "every dead letter")
        await wait_until(lambda: store.count() == 3, "the good readings")
        await pub.disconnect()
        await letters.client.disconnect()
        await running.close()

        got = letters.json()
        assert [g["reason"] for g in got[: len(bad)]] == [why for _, _, why in bad]
        for letter, (topic, payload, _) in zip(got, bad, strict=False):
            assert letter["topic"] == topic
            assert letter["detail"]
            if "payload" in letter and not letter.get("truncated"):
                assert letter["payload"].encode() == payload
        assert base64.b64decode(got[13]["payload_base64"]) == bad[13][1]
        partial = got[-1]
        assert partial["topic"] == "cityops/v1/bulk"
        assert sorted((r["row"], r["reason"]) for r in partial["rejected"]) == [
            (1, "wrong_type"),
            (2, "malformed"),
            (3, "unknown_datastream"),
            (5, "wrong_type"),
            (6, "malformed"),
            (7, "not_finite"),
        ]
        assert partial["accepted"] == 2
        stats = running.consumer.stats
        assert stats.dead_letters == len(bad) + 1
        assert stats.reasons["not_finite"] == 4  # NaN, Infinity, a 400-digit result and row 7
        assert stats.reasons["unknown_datastream"] == 2
        assert stats.acked == len(bad) + 2  # bad messages are acknowledged once dead-lettered

    asyncio.run(scenario())
    assert sorted(r for _, r in store.observations(2)) == [4.0, 7.5]


def test_the_consumer_survives_garbage_and_still_stores_the_good(
    broker: Broker | str, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "s.db")
    rng = random.Random(3)
    topics = [topic_of(5), "cityops/v1/bulk", "v1.1/Datastreams(x)/Observations"]
    junk = [
        (rng.choice(topics), bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
        for _ in range(300)
    ] + [
        (topic_of(5), b"[" * 100_000),  # deep nesting
        (topic_of(5), b'{"result": 1e999, "phenomenonTime": "%s"}' % AT.encode()),
        ("cityops/v1/bulk", b"[[1, 1e400, 1]]"),
        ("cityops/v1/bulk", b"[[1, -99999999999999999999999, 1]]"),
    ]

    async def scenario() -> None:
        running = await start_consumer(url_of(broker), store)
        pub = await publisher(url_of(broker))
        for n, (topic, payload) in enumerate(junk):
            await pub.publish(topic, payload)
            if n % 50 == 0:
                await pub.publish(topic_of(6), observation(n, T0 - timedelta(seconds=n)))
        await wait_until(lambda: running.consumer.stats.acked == len(junk) + 7, "all handled")
        await pub.disconnect()
        await running.close()
        assert running.consumer.stats.dead_letters == len(junk)
        assert running.consumer.stats.store_failures == 0

    asyncio.run(scenario())
    assert [r for _, r in store.observations(6)] == [300, 250, 200, 150, 100, 50, 0]


def test_readings_with_more_than_three_fields_reach_the_door_as_objects() -> None:
    from cityops.sensing.mqtt_ingest import _raws
    from cityops.sensing.mqtt_payload import Reading as MqttReading

    at = datetime(2026, 11, 25, 1, tzinfo=UTC)
    plain = [MqttReading(1, at, 2.0, "m:0"), MqttReading(2, at, 3.0, "m:1")]
    assert _raws(plain) == [(1, at, 2.0), (2, at, 3.0)]
    more = [*plain, MqttReading(3, at, 4.0, "m:2", parameters={"k": 1})]
    raws = _raws(more)
    assert raws[:2] == [(1, at, 2.0), (2, at, 3.0)]
    assert raws[2] == {
        "datastream_id": 3,
        "phenomenon_time": at,
        "result": 4.0,
        "result_time": None,
        "parameters": {"k": 1},
    }
