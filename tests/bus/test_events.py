"""Events reach every process's subscribers through NATS; the app picks the bus from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from cityops.bus.memory import Event, MemoryBus
from cityops.bus.nats import NatsBus
from cityops.errors import QueueUnavailable, ValidationFailed
from cityops.runtime import build_bus
from cityops.settings import Settings


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        done.wait(0.02)
    return condition()


def test_an_event_published_by_one_client_reaches_the_other(
    bus_settings: Callable[..., Settings],
) -> None:
    settings = bus_settings()
    worker_bus, api_bus = NatsBus(settings), NatsBus(settings)
    try:
        seen: list[Event] = []
        unsubscribe = api_bus.subscribe("cases.*", seen.append)
        other: list[Event] = []
        api_bus.subscribe("alarms.*", other.append)
        worker_bus.publish(Event("cases.report", {"case_id": 12, "street_code": "500107001"}))
        worker_bus.publish(Event("alarms.raised", {"alarm_id": 3}))
        worker_bus.flush()
        assert wait_for(lambda: len(seen) == 1 and len(other) == 1)
        assert seen == [Event("cases.report", {"case_id": 12, "street_code": "500107001"})]
        unsubscribe()
        worker_bus.publish(Event("cases.dispatch", {"case_id": 12}))
        worker_bus.publish(Event("alarms.cleared", {"alarm_id": 3}))
        worker_bus.flush()
        assert wait_for(lambda: len(other) == 2)
        assert len(seen) == 1
    finally:
        worker_bus.close()
        api_bus.close()


def test_a_publisher_sees_its_own_events_like_everyone_else(
    bus_settings: Callable[..., Settings],
) -> None:
    bus = NatsBus(bus_settings())
    try:
        seen: list[Event] = []
        bus.subscribe("*", seen.append)
        bus.publish(Event("cases.filed", {"when": "now", "n": 1}))
        assert wait_for(lambda: seen == [Event("cases.filed", {"when": "now", "n": 1})])
    finally:
        bus.close()


def test_the_settings_choose_the_bus(bus_settings: Callable[..., Settings]) -> None:
    assert isinstance(build_bus(Settings(bus_url="memory://")), MemoryBus)
    bus = build_bus(bus_settings())
    try:
        assert isinstance(bus, NatsBus)
    finally:
        bus.close()
    with pytest.raises(ValidationFailed):
        build_bus(Settings(bus_url="kafka://localhost:9092"))


def test_an_unreachable_bus_is_a_clear_error(bus_settings: Callable[..., Settings]) -> None:
    from tests.bus.conftest import free_port

    with pytest.raises(QueueUnavailable):
        NatsBus(bus_settings(bus_url=f"nats://127.0.0.1:{free_port()}", bus_publish_timeout=1.0))
