"""The MQTT sink against a real broker: bulk rows in the intake's format, commands acked."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cityops.sim.device_sinks import (
    ACK_TOPIC,
    BULK_TOPIC,
    MqttSink,
    Respond,
    SinkError,
    bulk_payloads,
)
from cityops.sim.devices import DeviceSimulator
from tests.sim.test_devices import QUIET, fleet

START = datetime(2026, 11, 24, tzinfo=UTC)


class Listener:
    """A plain paho client that collects what arrives on some topics."""

    def __init__(self, url: str, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        ready = threading.Event()
        parsed = urlparse(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-listener")

        def on_connect(c: mqtt.Client, *_: Any) -> None:
            for t in topics:
                c.subscribe(t, qos=1)

        def on_subscribe(*_: Any) -> None:
            ready.set()

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            with self.cond:
                self.messages.append((msg.topic, msg.payload))
                self.cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self.client.loop_start()
        assert ready.wait(10)

    def wait(self, n: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_bulk_messages_carry_all_rows_in_the_intake_format(mqtt_url: str) -> None:
    devices = fleet(2)
    readings = DeviceSimulator(devices, start=START, seed=1, config=QUIET).advance(
        START + timedelta(hours=8)
    )
    assert len(readings) > 10_000  # more than one bulk message
    listener = Listener(mqtt_url, [BULK_TOPIC])
    sink = MqttSink(mqtt_url)
    try:
        assert sink.publish(readings) == len(readings)
        expected = len(bulk_payloads(readings))
        got = listener.wait(expected)
    finally:
        sink.close()
        listener.close()
    assert len(got) == expected >= 2
    rows = []
    for topic, body in got:
        message = json.loads(body)
        assert topic == BULK_TOPIC and message["id"].startswith("sim-")
        assert len(message["rows"]) <= 10_000
        rows += message["rows"]
    assert len(rows) == len(readings)
    ds, ms, value = rows[0]
    assert (ds, ms / 1000, value) == readings.rows()[0]


def test_single_observations_go_to_the_datastream_topic(mqtt_url: str) -> None:
    devices = fleet(1)
    readings = DeviceSimulator(devices, start=START, seed=1, config=QUIET).advance(
        START + timedelta(minutes=1)
    )
    listener = Listener(mqtt_url, ["v1.1/+/Observations"])
    sink = MqttSink(mqtt_url, bulk=False)
    try:
        sink.publish(readings)
        got = listener.wait(len(readings))
    finally:
        sink.close()
        listener.close()
    assert len(got) == len(readings)
    topic, body = got[0]
    first = readings.rows()[0]
    assert topic == f"v1.1/Datastreams({first[0]})/Observations"
    obs = json.loads(body)
    assert obs["result"] == first[2]
    assert datetime.fromisoformat(obs["phenomenonTime"]).timestamp() == first[1]


def test_a_command_on_the_broker_reaches_the_handler_and_is_acked(mqtt_url: str) -> None:
    calls: list[tuple[int, dict[str, Any]]] = []

    def on_command(thing_id: int, command: dict[str, Any], respond: Respond) -> None:
        calls.append((thing_id, command))
        respond({"id": command["id"], "status": "done", "detail": "fan on"})

    listener = Listener(mqtt_url, [ACK_TOPIC.format(id="+")])
    sink = MqttSink(mqtt_url, on_command=on_command)
    try:
        listener.client.publish(
            "cityops/v1/things/42/commands",
            json.dumps({"id": "7", "command": "on", "parameters": {}}),
            qos=1,
        )
        got = listener.wait(1)
    finally:
        sink.close()
        listener.close()
    assert calls == [(42, {"id": "7", "command": "on", "parameters": {}})]
    assert got[0][0] == "cityops/v1/things/42/commands/ack"
    assert json.loads(got[0][1]) == {"id": "7", "status": "done", "detail": "fan on"}


def test_a_bad_url_is_refused_with_a_reason() -> None:
    with pytest.raises(SinkError):
        MqttSink("http://example.org")
