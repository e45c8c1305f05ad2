"""Where simulated readings go: straight into the ingest service, or to an MQTT broker.

``InProcessSink`` hands batches to ``cityops.sensing.door.take_in`` (validate, let the running
rules engine react, store), which publishes the batch's bus events after commit. ``MqttSink``
publishes with paho-mqtt at QoS 1 to the compact bulk topic the MQTT intake reads (docs/api.md,
"MQTT"): ``cityops/v1/bulk`` with
``{"id": "<message id>", "rows": [[datastream_id, epoch_ms, result], ...]}``, at most
``MAX_BULK_ROWS`` rows per message; or, with ``bulk=False``, one SensorThings Observation per
message on ``v1.1/Datastreams(<id>)/Observations``. The message id is a digest of
the rows, so a re-sent batch is stored once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.base import Bus
from cityops.clock import Clock
from cityops.errors import CityOpsError
from cityops.sensing import door
from cityops.settings import Settings, get_settings
from cityops.sim.devices import Readings

BULK_TOPIC = "cityops/v1/bulk"
OBSERVATION_TOPIC = "v1.1/Datastreams({id})/Observations"
COMMAND_FILTER = "cityops/v1/things/+/commands"
ACK_TOPIC = "cityops/v1/things/{id}/commands/ack"
MAX_BULK_ROWS = 10_000


class SinkError(CityOpsError):
    code = "sink_failed"
    status = 503


class Sink(Protocol):
    """Takes readings; returns how many it stored or sent."""

    def publish(self, readings: Readings) -> int: ...

    def close(self) -> None: ...


@dataclass
class SinkStats:
    published: int = 0
    stored: int = 0
    rejected: int = 0
    batches: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class InProcessSink:
    """Readings into the ingest service of this process's database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        bus: Bus | None = None,
        settings: Settings | None = None,
        batch_size: int = 5000,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self.sessions, self.clock, self.bus = sessions, clock, bus
        self.settings, self.batch_size = settings or get_settings(), batch_size
        self.extras = extras  # where the running rules engine is found (``sensing.door``)
        self.stats = SinkStats()

    def publish(self, readings: Readings) -> int:
        rows = readings.rows()
        stored = 0
        for i in range(0, len(rows), self.batch_size):
            result = door.take_in(
                sessions=self.sessions,
                clock=self.clock,
                settings=self.settings,
                raws=rows[i : i + self.batch_size],
                source="sim",
                bus=self.bus,
                reactor=door.reactor_in(self.extras),
            )
            stored += result.stored
            self.stats.batches += 1
            self.stats.rejected += len(result.rejected)
            for r in result.rejected:
                self.stats.reasons[r.reason] = self.stats.reasons.get(r.reason, 0) + 1
        self.stats.published += len(rows)
        self.stats.stored += stored
        return stored

    def close(self) -> None:
        return None


def bulk_payloads(readings: Readings, max_rows: int = MAX_BULK_ROWS) -> list[bytes]:
    """The bulk messages for these readings: ``{"id", "rows": [[ds, epoch_ms, result]]}``."""
    ms = (readings.time * 1000).round().astype("int64").tolist()
    rows = list(zip(readings.datastream.tolist(), ms, readings.result.tolist(), strict=True))
    out = []
    for i in range(0, len(rows), max_rows):
        body = json.dumps(rows[i : i + max_rows], separators=(",", ":"))
        digest = hashlib.blake2b(body.encode(), digest_size=12).hexdigest()
        out.append(f'{{"id":"sim-{digest}","rows":{body}}}'.encode())
    return out


def observation_payload(time: float, result: float) -> bytes:
    at = datetime.fromtimestamp(time, UTC).isoformat()
    return json.dumps({"phenomenonTime": at, "result": result}).encode()


Respond = Callable[[dict[str, Any]], None]
CommandHandler = Callable[[int, dict[str, Any], Respond], None]


class MqttSink:
    """Readings to an MQTT broker (paho-mqtt, QoS 1); also receives actuator commands.

    ``on_command(thing_id, command, respond)`` is called (on paho's thread; it must not block)
    for each command message; ``respond(ack)`` publishes the acknowledgement (from any thread)
    on the command's ``replyTo`` or ``cityops/v1/things/<id>/commands/ack``.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "cityops-device-sim",
        bulk: bool = True,
        on_command: CommandHandler | None = None,
        timeout: float = 10.0,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise SinkError(f"not an mqtt:// URL: {url}")
        self.bulk, self.on_command, self.timeout = bulk, on_command, timeout
        self.stats = SinkStats()
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        try:
            self.client.connect(parsed.hostname, parsed.port or 1883, keepalive=30)
        except OSError as exc:
            raise SinkError(f"cannot reach MQTT broker {url}: {exc}") from None
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise SinkError(f"no CONNACK from {url}")

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        if self.on_command is None:
            self._connected.set()
        else:  # ready once the broker has confirmed the command subscription
            client.subscribe(COMMAND_FILTER, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: Any, _rc: Any, _p: Any) -> None:
        self._connected.set()

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self.on_command is None:
            return
        parts = msg.topic.split("/")
        try:
            thing_id = int(parts[3])
            command = json.loads(msg.payload)
            if not isinstance(command, dict):
                return
        except (ValueError, IndexError):
            return
        topic = str(command.get("replyTo") or ACK_TOPIC.format(id=thing_id))

        def respond(ack: dict[str, Any]) -> None:
            client.publish(topic, json.dumps(ack), qos=1)

        self.on_command(thing_id, command, respond)

    def publish(self, readings: Readings) -> int:
        infos = []
        if self.bulk:
            for body in bulk_payloads(readings):
                infos.append(self.client.publish(BULK_TOPIC, body, qos=1))
        else:
            for ds, t, v in readings.rows():
                topic = OBSERVATION_TOPIC.format(id=ds)
                infos.append(self.client.publish(topic, observation_payload(t, v), qos=1))
        for info in infos:
            info.wait_for_publish(self.timeout)
        self.stats.batches += len(infos)
        self.stats.published += len(readings)
        return len(readings)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
