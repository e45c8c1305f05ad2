"""A Mosquitto broker for the device simulator's MQTT sink (or CITYOPS_MQTT_URL when set)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mqtt_url(tmp_path: Path) -> Iterator[str]:
    """A broker URL: the environment's, or a Mosquitto started here on a free port."""
    if os.environ.get("CITYOPS_MQTT_URL"):
        yield os.environ["CITYOPS_MQTT_URL"]
        return
    binary = os.environ.get("CITYOPS_MOSQUITTO") or shutil.which("mosquitto")
    if binary is None and Path("/usr/sbin/mosquitto").exists():
        binary = "/usr/sbin/mosquitto"
    if binary is None:
        if IN_CI:
            raise RuntimeError("mosquitto not installed and CITYOPS_MQTT_URL not set")
        pytest.skip("mosquitto not installed")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
