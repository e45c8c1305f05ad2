"""Running the consumer, a publisher and a listener against the test broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cityops.clock import FakeClock
from cityops.sensing.mqtt import MqttConsumer
from cityops.sensing.mqtt_client import MqttClient
from cityops.sensing.mqtt_wire import Publish

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class Running:
    consumer: MqttConsumer
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def start_consumer(url: str, handler: Any, **options: Any) -> Running:
    options.setdefault("clock", FakeClock(T0))
    consumer = MqttConsumer(url=url, handler=handler, **options)
    stop = asyncio.Event()
    task = asyncio.ensure_future(consumer.run(stop))
    await asyncio.wait_for(consumer.connected.wait(), 15)
    return Running(consumer, stop, task)


async def publisher(url: str, client_id: str = "test-publisher") -> MqttClient:
    return await MqttClient.open(url, client_id=client_id, clean_session=True)


@dataclass
class Listener:
    """A subscriber that keeps what it gets (and acknowledges it)."""

    client: MqttClient
    messages: list[Publish] = field(default_factory=list)

    def json(self) -> list[Any]:
        return [json.loads(m.payload) for m in self.messages]


async def listen(url: str, topic: str, client_id: str = "test-listener") -> Listener:
    holder: list[Listener] = []

    def got(messages: list[Publish]) -> None:
        holder[0].messages.extend(messages)
        holder[0].client.ack(m.pid for m in messages if m.qos)

    client = await MqttClient.open(url, client_id=client_id, clean_session=True, on_messages=got)
    holder.append(Listener(client))
    await client.subscribe([(topic, 1)])
    return holder[0]


def observation(result: Any, at: datetime, **extra: Any) -> bytes:
    return json.dumps({"result": result, "phenomenonTime": at.isoformat(), **extra}).encode()


def topic_of(datastream: int) -> str:
    return f"v1.1/Datastreams({datastream})/Observations"
