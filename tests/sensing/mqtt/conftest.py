"""A real Mosquitto per test, started from the installed binary (or ``CITYOPS_MQTT_URL``).

Under ``CI=true`` a missing broker is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sensing.mqtt.broker import Broker, mosquitto_binary, start_broker

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker | str]:
    """A fresh broker (its URL via ``url_of``); the external one only without the binary."""
    if mosquitto_binary() is None:
        external = os.environ.get("CITYOPS_MQTT_URL")
        if external:
            yield external
            return
        if IN_CI:
            raise RuntimeError("mosquitto is not installed and CITYOPS_MQTT_URL is not set")
        pytest.skip("mosquitto not installed")
    server = start_broker(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def url_of(broker: Broker | str) -> str:
    return broker if isinstance(broker, str) else broker.url
