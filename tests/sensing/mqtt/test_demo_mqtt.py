"""``cityops demo`` with ``CITYOPS_MQTT_URL``: its case changes reach MQTT subscribers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.sensing.mqtt.broker import Broker
from tests.sensing.mqtt.conftest import url_of
from tests.sensing.mqtt.helpers import listen, wait_until


def test_the_demo_runs_the_mqtt_door_and_stops_it_cleanly(
    broker: Broker | str, tmp_path: Path
) -> None:
    url = url_of(broker)
    env = {
        **os.environ,
        "CITYOPS_DEMO_PASSWORD": "demo-pass-123",
        "CITYOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "CITYOPS_MQTT_URL": url,
        "CITYOPS_MQTT_CLIENT_ID": "cityops-demo-test",
    }

    async def scenario() -> None:
        watcher = await listen(url, "cityops/v1/events/cases/#", "watcher")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cityops.cli",
            "demo",
            "--headless",
            "--duration",
            "6",
            "--port",
            "0",
            "--rate",
            "20",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        output = asyncio.ensure_future(proc.communicate())  # read all along: never a full pipe
        try:
            await wait_until(lambda: len(watcher.messages) > 0, "a case event on MQTT", 240)
            out, _ = await asyncio.wait_for(output, 120)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await watcher.client.disconnect()
        assert proc.returncode == 0, out.decode()
        assert watcher.messages[0].topic.startswith(b"cityops/v1/events/cases/")
        first = watcher.json()[0]
        assert isinstance(first["case_id"], int) and first["status"]

    asyncio.run(scenario())
